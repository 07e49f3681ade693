"""Returns as CSV, wide or long (see the study format), validated against a round's manifest.

Wide: ``code,<item id>,...`` with optional ``comment:<item id>`` and ``suggestions`` columns,
one row per panellist. Long: ``code,item,rating`` with an optional ``comment`` column, one
row per answer. An empty cell is no answer. Every problem names the file, the line and the
offending value; a file with any problem yields no returns at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from delphi.core.models import Manifest, PanelReturn, Scale
from delphi.errors import Problem

LONG_COLUMNS = {"code", "item", "rating"}


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
        self._where: dict[str, str] = {}

    # ------------------------------------------------------------------ public

    def read(self, path: Path, display: str) -> None:
        """Read one CSV file into this reader's drafts (problems are collected)."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            self._problem(display, None, f"not UTF-8 text (byte {exc.start}); export the "
                          "sheet as 'CSV UTF-8'")
            return
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            self._problem(display, 1, "the file is empty; expected a header row starting "
                          "with 'code'")
            return
        except csv.Error as exc:
            self._problem(display, 1, f"malformed CSV: {exc}")
            return
        header = [h.strip() for h in header]
        if LONG_COLUMNS <= set(header):
            self._read_long(reader, header, display)
        else:
            self._read_wide(reader, header, display)

    def returns(self) -> list[PanelReturn]:
        """The returns read so far, in the order of the manifest's invited codes."""
        order = {c: i for i, c in enumerate(self.manifest.invited)}
        drafts = sorted(self._drafts.values(), key=lambda d: order.get(d.code, len(order)))
        return [PanelReturn(code=d.code, ratings=d.ratings, comments=d.comments,
                            suggestions="\n".join(d.suggestions) or None,
                            source=self._where[d.code]) for d in drafts]

    # ------------------------------------------------------------------ formats

    def _read_wide(self, reader: Iterable[list[str]], header: list[str], display: str) -> None:
        if not header or header[0].lower() != "code":
            self._problem(display, 1, f"the first column must be 'code' (got {header[0]!r}); "
                          "a long file needs the columns code,item,rating" if header else
                          "the header row is empty")
            return
        columns: list[tuple[str, str | None]] = []  # (kind, item id)
        seen: set[str] = set()
        ok = True
        for name in header[1:]:
            if name in seen:
                self._problem(display, 1, f"column {name!r} appears twice")
                ok = False
            seen.add(name)
            if name.lower() == "suggestions":
                columns.append(("suggestions", None))
            elif name.lower().startswith("comment:"):
                item = name.split(":", 1)[1].strip()
                if item not in self.items:
                    self._unknown_item(display, 1, item, f"column {name!r}")
                    ok = False
                columns.append(("comment", item))
            elif name in self.items:
                columns.append(("rating", name))
            else:
                self._unknown_item(display, 1, name, "column")
                ok = False
        if not ok:
            return
        for row in self._rows(reader, display):
            line, cells = row
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                self._problem(display, line, f"{len(cells)} cells but the header has "
                              f"{len(header)} columns")
                continue
            draft = self._draft(display, line, cells[0])
            if draft is None:
                continue
            for (kind, target), cell in zip(columns, cells[1:], strict=False):
                if kind == "rating" and target is not None:
                    draft.ratings[target] = self._rating(display, line, target, cell)
                elif kind == "comment" and target is not None and cell.strip():
                    draft.comments[target] = cell.strip()
                elif kind == "suggestions" and cell.strip():
                    draft.suggestions.append(cell.strip())

    def _read_long(self, reader: Iterable[list[str]], header: list[str], display: str) -> None:
        allowed = LONG_COLUMNS | {"comment", "suggestions"}
        extra = [h for h in header if h not in allowed]
        if extra:
            self._problem(display, 1, f"unknown column {extra[0]!r}; a long file has the "
                          "columns code,item,rating and optionally comment")
            return
        index = {name: header.index(name) for name in header}
        answered: dict[tuple[str, str], int] = {}
        for line, cells in self._rows(reader, display):
            if not any(c.strip() for c in cells):
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
            draft = self._drafts.get(code)
            if draft is None:
                if code in self._where and not self._where[code].startswith(display + ":"):
                    self._problem(display, line, f"duplicate return for {code}: "
                                  f"already returned in {self._where[code]}")
                    continue
                draft = self._drafts[code] = _Draft(code, line)
                self._where[code] = f"{display}:{line}"
            draft.ratings[item] = self._rating(display, line, item, cells[index["rating"]])
            if "comment" in index and cells[index["comment"]].strip():
                draft.comments[item] = cells[index["comment"]].strip()
            if "suggestions" in index and cells[index["suggestions"]].strip():
                draft.suggestions.append(cells[index["suggestions"]].strip())

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

    def _draft(self, display: str, line: int, raw_code: str) -> _Draft | None:
        code = self._known_code(display, line, raw_code.strip())
        if code is None:
            return None
        if code in self._where:
            self._problem(display, line, f"duplicate return for {code}: already returned in "
                          f"{self._where[code]}")
            return None
        self._where[code] = f"{display}:{line}"
        draft = self._drafts[code] = _Draft(code, line)
        return draft

    def _known_code(self, display: str, line: int, raw: str) -> str | None:
        if not raw:
            self._problem(display, line, "the code cell is empty")
            return None
        code = self.codes.get(raw.upper())
        if code is None:
            self._problem(display, line, f"unknown panellist code {raw!r}: not invited to "
                          f"round {self.manifest.round}")
        return code

    def _rating(self, display: str, line: int, item: str, cell: str) -> int | None:
        text = cell.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is None or not number.is_integer():
            self._problem(display, line, f"item {item}: rating {text!r} is not a whole number "
                          f"from {self.scale.min} to {self.scale.max}; leave the cell empty "
                          "for no answer")
            return None
        value = int(number)
        if not self.scale.min <= value <= self.scale.max:
            self._problem(display, line, f"item {item}: rating {value} is outside the scale "
                          f"{self.scale.min}-{self.scale.max}")
            return None
        return value

    def _unknown_item(self, display: str, line: int, item: str, what: str) -> None:
        self._problem(display, line, f"unknown item {item!r} in {what}: round "
                      f"{self.manifest.round} did not ask it")

    def _problem(self, display: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(message, file=display, line=line))
