"""Returns from an XLSX workbook: the wide layout on its first sheet, read with openpyxl.

Every cell is taken exactly as the workbook holds it or refused with its cell named: a header
cell typed as a number (``1.10`` becomes 1.1, so item ids cannot be told apart) and a formula
anywhere (its value is whatever the last program to save the file computed, if anything) are
refused. Only the cells the sheet really holds are read, however large a range it claims.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from delphi.errors import DelphiError, Problem
from delphi.store.limits import RETURNS_FILE_BYTES, SHEET_COLUMNS, SHEET_ROWS, read_bounded
from delphi.store.returns_csv import ReturnsReader, column_letter

MAX_ROW = 1_048_576  # the format's own limit


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _text(value: object) -> str:
    """A value cell as text; whole numbers as typed (7), empty cells as ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _cell(cell: Any, row: int, col: int, display: str, header: bool) -> str:
    """One cell's text, or :class:`_Refused` naming the cell."""
    value = getattr(cell, "value", None)
    where = f"cell {column_letter(col)}{row}"
    if getattr(cell, "data_type", None) == "f" or (
            isinstance(value, str) and value.startswith("=") and
            getattr(cell, "data_type", "s") != "s"):
        raise _Refused(Problem(f"holds a formula ({str(value)[:60]}); delphi reads only the "
                               "values typed in: replace the formula by its value",
                               file=display, line=row, field=where))
    if header and isinstance(value, float) and not value.is_integer():
        raise _Refused(Problem(f"the header cell holds the number {value!r}, not text, so an "
                               "item id such as 1.10 cannot be told from 1.1; format the "
                               "header row as text and type the ids again",
                               file=display, line=row, field=where))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return _text(value)


def _sheet_rows(sheet: Any, display: str) -> Iterator[tuple[int, list[str]]]:
    """Numbered non-empty rows as text, trailing empty cells dropped; bounded."""
    for number, row in enumerate(sheet.iter_rows(), start=1):
        if number > MAX_ROW:
            raise _Refused(Problem(f"the sheet claims more than {MAX_ROW} rows, more than a "
                                   "spreadsheet can hold: the file is damaged", file=display))
        if not row:
            continue
        width = len(row)
        while width and getattr(row[width - 1], "value", None) in (None, ""):
            width -= 1
        if not width:
            continue
        if number > SHEET_ROWS:
            raise _Refused(Problem(f"row {number} holds data; delphi reads at most "
                                   f"{SHEET_ROWS} rows of returns", file=display, line=number))
        if width > SHEET_COLUMNS:
            raise _Refused(Problem(f"{width} columns; delphi reads at most {SHEET_COLUMNS}",
                                   file=display, line=number))
        yield number, [_cell(row[c], number, c, display, number == 1) for c in range(width)]


def read_rows(path: Path, display: str, data: bytes | None = None) -> list[tuple[int, list[str]]]:
    """The first sheet's non-empty rows, numbered as in the sheet, every cell as text.

    Raises :class:`DelphiError` naming the file (and cell) when the workbook cannot be read
    exactly.
    """
    import openpyxl

    if data is None:
        data = read_bounded(path, display, RETURNS_FILE_BYTES)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is "unreadable"
        raise DelphiError(Problem(f"not a readable XLSX workbook ({_brief(exc)})",
                                  file=display)) from None
    try:
        if not workbook.worksheets:
            raise DelphiError(Problem("the workbook has no sheet", file=display))
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the claimed used range is not trusted: read real cells
        return list(_sheet_rows(sheet, display))
    except _Refused as refused:
        raise DelphiError(refused.problem) from None
    except DelphiError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet, whatever openpyxl makes of it
        raise DelphiError(Problem(f"the first sheet cannot be read ({_brief(exc)}); save the "
                                  "workbook again from a spreadsheet program",
                                  file=display)) from None
    finally:
        workbook.close()


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


def read_xlsx(path: Path, display: str, reader: ReturnsReader, data: bytes | None = None) -> None:
    """Read the first sheet into ``reader``; problems name the row and the cell."""
    try:
        rows = read_rows(path, display, data)
    except DelphiError as exc:
        reader.problems += exc.problems
        return
    if not rows or rows[0][0] != 1:
        reader.problems.append(Problem("the first row of the first sheet must be the header, "
                                       "starting with 'code'", file=display, line=1))
        return
    header = [h.strip() for h in rows[0][1]]
    reader.read_table(display, header, rows[1:], cells=True)
