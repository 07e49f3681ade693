"""Returns as CSV, wide or long (see the study format), validated against a round's manifest.

Wide: ``code,<item id>,...`` with optional ``comment:<item id>`` and ``suggestions`` columns,
one row per panellist. Long: ``code,item,rating`` with an optional ``comment`` column, one
row per answer. An empty cell is no answer. Every problem names the file, the line and the
offending value; a file with any problem yields no returns at all.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from delphi.core.cells import inert, revived
from delphi.core.models import Manifest, PanelReturn, Scale, Source
from delphi.errors import DelphiError, Problem
from delphi.store.limits import RETURNS_FILE_BYTES, read_bounded

LONG_COLUMNS = {"code", "item", "rating"}
# A rating as a file may hold it: ASCII digits, a sign, and ".0" as spreadsheets add. Not
# "1e0", "７" (full-width), "7_0", "nan" or "inf", which Python's float() would all accept.
WHOLE = re.compile(r"[+-]?[0-9]{1,9}(?:\.0*)?", re.ASCII)


@dataclass
class _Draft:
    code: str
    line: int
    ratings: dict[str, int | None] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)


class ReturnsReader:
    """Reads returns files for one round, collecting every problem rather than the first."""

    def __init__(self, manifest: Manifest, scale: Scale) -> None:
        self.manifest = manifest
        self.scale = scale
        self.items = set(manifest.item_ids())
        self.codes = {c.upper(): c for c in manifest.invited}
        self.problems: list[Problem] = []
        self._drafts: dict[str, _Draft] = {}
        self._where: dict[str, Source] = {}
        self._cells = False
        self._revive: Callable[[str], str] = _as_is
        # Cells as a CSV holds them: the common case is one lookup, not a parse.
        self._plain: dict[str, int | None] = {"": None}
        self._plain.update((str(v), v) for v in range(scale.min, scale.max + 1))

    # ------------------------------------------------------------------ public

    def read(self, path: Path, display: str, escaped: bool = False,
             data: bytes | None = None) -> None:
        """Read one CSV file into this reader's drafts (problems are collected).

        ``escaped``: the file was written by delphi, its free text through
        :func:`~delphi.core.cells.inert`, which is undone; any other file's text is taken
        exactly as it stands. ``data``: the file's bytes, if already read.
        """
        try:
            if data is None:
                data = read_bounded(path, display, RETURNS_FILE_BYTES)
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1
            self._problem(display, line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}"
                          f" at position {exc.start}); export the sheet as 'CSV UTF-8'")
            return
        except DelphiError as exc:
            self.problems += exc.problems
            return
        # strict: an unterminated quote or a stray one is an error, never a field that
        # swallows the rest of the file.
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            header = []
        except csv.Error as exc:
            self._problem(display, 1, f"malformed CSV: {exc}")
            return
        self._revive = revived if escaped else _as_is
        try:
            self.read_table(display, header, self._rows(reader, display))
        finally:
            self._revive = _as_is

    def read_table(self, display: str, header: list[str],
                   rows: Iterable[tuple[int, list[str]]], cells: bool = False) -> None:
        """Read a table (header and numbered rows): wide or long, told apart by the header.

        With ``cells``, problems name the spreadsheet cell (``cell B3``) as well as the row.
        Free text is taken as it stands (see :meth:`read` for files delphi wrote).
        """
        self._cells = cells
        header = [h.strip() for h in header]
        if not any(header):
            self._problem(display, 1, "the file is empty; expected a header row starting "
                          "with 'code'")
            return
        if LONG_COLUMNS <= set(header):
            self._read_long(rows, header, display)
        else:
            self._read_wide(rows, header, display)

    def add_return(self, display: str, code: str, ratings: dict[str, str],
                   comments: dict[str, str], suggestions: str | None) -> None:
        """Add one return read from a form (a filled PDF): values as the form holds them."""
        draft = self._draft(display, None, code)
        if draft is None:
            return
        for item_id, raw in ratings.items():
            if item_id not in self.items:
                self._unknown_item(display, None, item_id, "the form")
                continue
            draft.ratings[item_id] = self._rating(display, None, item_id, raw)
        for item_id, text in comments.items():
            if item_id in self.items and text.strip():
                draft.comments[item_id] = text.strip()
        if suggestions and suggestions.strip():
            draft.suggestions.append(suggestions.strip())

    def returns(self) -> list[PanelReturn]:
        """The returns read so far, in the order of the manifest's invited codes."""
        order = {c: i for i, c in enumerate(self.manifest.invited)}
        drafts = sorted(self._drafts.values(), key=lambda d: order.get(d.code, len(order)))
        return [PanelReturn(code=d.code, ratings=d.ratings, comments=d.comments,
                            suggestions="\n".join(d.suggestions) or None,
                            source=self._where[d.code]) for d in drafts]

    def codes_from(self, display: str) -> list[str]:
        """Codes of the returns read from one file, in the order read."""
        return [code for code, where in self._where.items() if where.file == display]

    # ------------------------------------------------------------------ formats

    def _read_wide(self, rows: Iterable[tuple[int, list[str]]], header: list[str],
                   display: str) -> None:
        if not header or header[0].lower() != "code":
            self._problem(display, 1, f"the first column must be 'code' (got {header[0]!r}); "
                          "a long file needs the columns code,item,rating" if header else
                          "the header row is empty")
            return
        columns: list[tuple[str, str | None]] = []  # (kind, item id)
        seen: set[str] = set()
        ok = True
        for col, name in enumerate(header[1:], start=1):
            if name in seen:
                self._problem(display, 1, f"column {name!r} appears twice")
                ok = False
            seen.add(name)
            if name.lower() == "suggestions":
                columns.append(("suggestions", None))
            elif name.lower().startswith("comment:"):
                item = name.split(":", 1)[1].strip()
                if item not in self.items:
                    self._unknown_item(display, 1, item, f"column {name!r}", col)
                    ok = False
                columns.append(("comment", item))
            elif name in self.items:
                columns.append(("rating", name))
            else:
                self._unknown_item(display, 1, name, "column", col)
                ok = False
        if not ok:
            return
        ratings = [(col, target) for col, (kind, target) in enumerate(columns, start=1)
                   if kind == "rating" and target is not None]
        others = [(col, kind, target) for col, (kind, target) in enumerate(columns, start=1)
                  if kind != "rating"]
        rating_items = [target for _, target in ratings]
        rating_cells = itemgetter(*(col for col, _ in ratings)) if ratings else None
        plain, width = self._plain, len(header)
        for line, cells in rows:
            if not any(str(c).strip() for c in cells):
                continue
            if len(cells) > width:
                self._problem(display, line, f"{len(cells)} cells but the header has "
                              f"{width} columns")
                continue
            draft = self._draft(display, line, str(cells[0]))
            if draft is None:
                continue
            if len(cells) < width:
                cells = [*cells, *([""] * (width - len(cells)))]
            if rating_cells is not None:
                raw = rating_cells(cells)
                raw = raw if isinstance(raw, tuple) else (raw,)
                # One dictionary lookup a cell (in C, through map); anything that is not
                # exactly a scale value or empty gets the full parse and its message.
                values: list[Any] = list(map(plain.get, raw, repeat(plain)))
                if plain in values:
                    values = [self._rating(display, line, item, cell, col)
                              if value is plain else value
                              for (col, item), cell, value in zip(ratings, raw, values,
                                                                  strict=True)]
                draft.ratings.update(zip(rating_items, values, strict=True))
            for col, kind, target in others:
                cell = "" if cells[col] is None else str(cells[col]).strip()
                if kind == "comment" and target is not None and cell:
                    draft.comments[target] = self._revive(cell)
                elif kind == "suggestions" and cell:
                    draft.suggestions.append(self._revive(cell))

    def _read_long(self, rows: Iterable[tuple[int, list[str]]], header: list[str],
                   display: str) -> None:
        allowed = LONG_COLUMNS | {"comment", "suggestions"}
        extra = [h for h in header if h not in allowed]
        if extra:
            self._problem(display, 1, f"unknown column {extra[0]!r}; a long file has the "
                          "columns code,item,rating and optionally comment")
            return
        index = {name: header.index(name) for name in header}
        answered: dict[tuple[str, str], int] = {}
        for line, cells in rows:
            if not any(str(c).strip() for c in cells):
                continue
            if len(cells) > len(header):
                self._problem(display, line, f"{len(cells)} cells but the header has "
                              f"{len(header)} columns")
                continue
            cells = cells + [""] * (len(header) - len(cells))
            raw_code = cells[index["code"]].strip()
            code = self._known_code(display, line, raw_code)
            item = cells[index["item"]].strip()
            if code is None:
                continue
            if item not in self.items:
                self._unknown_item(display, line, item, "item")
                continue
            if (code, item) in answered:
                self._problem(display, line, f"duplicate row: {code} already rated item "
                              f"{item} on line {answered[code, item]}")
                continue
            answered[code, item] = line
            where = self._where.get(code)
            if where is not None and where.file != display:
                self._problem(display, line, f"duplicate return for {code}: already returned "
                              f"in {where}")
                continue
            draft = self._drafts.get(code)
            if draft is None:
                draft = self._drafts[code] = _Draft(code, line)
                self._where[code] = Source(file=display, line=line)
            draft.ratings[item] = self._rating(display, line, item, cells[index["rating"]])
            if "comment" in index and cells[index["comment"]].strip():
                draft.comments[item] = self._revive(cells[index["comment"]].strip())
            if "suggestions" in index and cells[index["suggestions"]].strip():
                draft.suggestions.append(self._revive(cells[index["suggestions"]].strip()))

    # ------------------------------------------------------------------ cells

    def _rows(self, reader: Iterable[list[str]], display: str) -> Iterable[tuple[int, list[str]]]:
        it = iter(reader)
        while True:
            try:
                cells = next(it)
            except StopIteration:
                return
            except csv.Error as exc:
                line = getattr(reader, "line_num", None)
                self._problem(display, line, f"malformed CSV: {exc}")
                return
            yield getattr(reader, "line_num", 0), cells

    def _draft(self, display: str, line: int | None, raw_code: str) -> _Draft | None:
        code = self._known_code(display, line, raw_code.strip())
        if code is None:
            return None
        if code in self._where:
            self._problem(display, line, f"duplicate return for {code}: already returned in "
                          f"{self._where[code]}")
            return None
        self._where[code] = Source(file=display, line=line)
        draft = self._drafts[code] = _Draft(code, line or 0)
        return draft

    def _known_code(self, display: str, line: int | None, raw: str) -> str | None:
        if not raw:
            self._problem(display, line, "the code cell is empty")
            return None
        code = self.codes.get(raw.upper())
        if code is None:
            self._problem(display, line, f"unknown panellist code {raw!r}: not invited to "
                          f"round {self.manifest.round}")
        return code

    def _rating(self, display: str, line: int | None, item: str, cell: object,
                col: int | None = None) -> int | None:
        if isinstance(cell, bool):
            cell = str(cell)
        if isinstance(cell, int | float):  # a spreadsheet's number cell
            cell = repr(cell)
        text = str(cell or "").strip()
        if not text:
            return None
        if not WHOLE.fullmatch(text):
            shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
            self._problem(display, line, f"item {item}: rating {shown} is not a whole number "
                          f"from {self.scale.min} to {self.scale.max}; leave the cell empty "
                          "for no answer", col)
            return None
        value = int(float(text))
        if not self.scale.min <= value <= self.scale.max:
            self._problem(display, line, f"item {item}: rating {value} is outside the scale "
                          f"{self.scale.min}-{self.scale.max}", col)
            return None
        return value

    def _unknown_item(self, display: str, line: int | None, item: str, what: str,
                      col: int | None = None) -> None:
        self._problem(display, line, f"unknown item {item!r} in {what}: round "
                      f"{self.manifest.round} did not ask it", col)

    def _problem(self, display: str, line: int | None, message: str,
                 col: int | None = None) -> None:
        cell = None
        if self._cells and col is not None and line is not None:
            cell = f"cell {column_letter(col)}{line}"
        self.problems.append(Problem(message, file=display, line=line, field=cell))


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based column index (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _as_is(text: str) -> str:
    return text


def returns_csv_text(manifest: Manifest, returns: Iterable[PanelReturn]) -> str:
    """Returns in the canonical wide CSV: every item asked, comment columns where used.

    Comments and suggestions are written with :func:`inert`, so opening the file in a
    spreadsheet runs nothing; reading it back restores them exactly.
    """
    returns = list(returns)
    item_ids = manifest.item_ids()
    commented = [i for i in item_ids if any(i in r.comments for r in returns)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", *item_ids, *[f"comment:{i}" for i in commented], "suggestions"])
    for r in returns:
        ratings = [r.ratings.get(i) for i in item_ids]
        writer.writerow([r.code, *["" if v is None else v for v in ratings],
                         *[inert(r.comments.get(i, "")) for i in commented],
                         inert(r.suggestions or "")])
    return buffer.getvalue()
