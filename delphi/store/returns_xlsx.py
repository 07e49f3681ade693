"""Returns from an XLSX workbook: the wide layout on its first sheet, read with openpyxl."""

from __future__ import annotations

import zipfile
from pathlib import Path

from delphi.errors import Problem
from delphi.store.returns_csv import ReturnsReader


def _text(value: object) -> str:
    """A cell as text; numbers as typed (7, 7.5), empty cells as ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(path: Path, display: str, reader: ReturnsReader) -> None:
    """Read the first sheet into ``reader``; problems name the row and the cell."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        reader.problems.append(Problem(f"not a readable XLSX workbook ({exc})", file=display))
        return
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [_text(c).strip() for c in next(rows, ())]
        while header and not header[-1]:
            header.pop()  # trailing empty columns of a formatted sheet
        numbered = ((number, [_text(c) for c in row][:max(len(header), 1) + 50])
                    for number, row in enumerate(rows, start=2))
        reader.read_table(display, header, numbered, cells=True)
    finally:
        workbook.close()
