"""Spreadsheets of panellists or statements (CSV or XLSX) read as a header and numbered rows.

What a table means is decided in the core (:mod:`delphi.core.panel`, :mod:`delphi.core.bank`),
whose problems name a row and a column; this module reads the table and places those problems
in the file (and, in a workbook, the cell). CSV files are UTF-8 (a byte-order mark is
allowed), separated by commas, or by semicolons or tabs when the header row has no comma (as
some spreadsheet programs export them). XLSX workbooks are read from their first sheet with
openpyxl; cells keep their type, so the core can tell an id typed as a number (1.1, which was
perhaps 1.10) from one typed as text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from delphi.core.panel import Rows
from delphi.errors import DelphiError, Problem

FORMATS = (".csv", ".xlsx")


@dataclass(frozen=True)
class Sheet:
    """A table as read: the header, the numbered rows, and whether cells have names (XLSX)."""

    display: str
    header: list[str]
    rows: Rows
    cells: bool

    def place(self, problems: list[Problem]) -> list[Problem]:
        """The core's problems (a row and a column name) placed in this file and cell."""
        from delphi.store.returns_csv import column_letter

        placed = []
        for p in problems:
            field = p.field
            if self.cells and p.line is not None and field in self.header:
                column = column_letter(self.header.index(field))
                field = f"cell {column}{p.line}: {field}"
            placed.append(Problem(p.message, file=self.display, line=p.line, field=field))
        return placed


def read_sheet(path: Path, display: str) -> Sheet:
    """Read a CSV or XLSX file; an unreadable file is an error naming it."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DelphiError(Problem(f"not a CSV or XLSX file (got {path.suffix or 'no'} "
                                  "extension); save the sheet as .csv or .xlsx", file=display))
    if not path.is_file():
        raise DelphiError(Problem("file not found", file=display))
    return _read_xlsx(path, display) if suffix == ".xlsx" else _read_csv(path, display)


def _read_csv(path: Path, display: str) -> Sheet:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DelphiError(Problem(f"not UTF-8 text (byte {exc.start}); export the sheet as "
                                  "'CSV UTF-8'", file=display)) from None
    first = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = next((d for d in (";", "\t") if d in first), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[object]]] = []
    try:
        header = next(reader, [])
        for cells in reader:
            rows.append((reader.line_num, list(cells)))
    except csv.Error as exc:
        raise DelphiError(Problem(f"malformed CSV: {exc}", file=display,
                                  line=reader.line_num)) from None
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()  # a trailing separator, as some programs write
    return Sheet(display, header, rows, cells=False)


def _read_xlsx(path: Path, display: str) -> Sheet:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DelphiError(Problem(f"not a readable XLSX workbook ({exc})",
                                  file=display)) from None
    try:
        values = workbook.worksheets[0].iter_rows(values_only=True)
        header = ["" if c is None else str(c).strip() for c in next(values, ())]
        while header and not header[-1]:
            header.pop()  # trailing empty columns of a formatted sheet
        rows = [(number, list(row)) for number, row in enumerate(values, start=2)]
    finally:
        workbook.close()
    return Sheet(display, header, rows, cells=True)
