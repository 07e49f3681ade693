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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from delphi.core.answers import Question, RatingSpec, questions, questions_by_key, split_key
from delphi.core.cells import inert, revived
from delphi.core.models import Manifest, PanelReturn, Settings, Source
from delphi.errors import DelphiError, Problem
from delphi.store.limits import RETURNS_FILE_BYTES, read_bounded

LONG_COLUMNS = {"code", "item", "rating"}
# A rating as a file may hold it: ASCII digits, a sign, and ".0" as spreadsheets add. Not
# "1e0", "７" (full-width), "7_0", "nan" or "inf", which Python's float() would all accept.
WHOLE = re.compile(r"[+-]?[0-9]{1,9}(?:\.0*)?", re.ASCII)

_UNSURE = object()  # a cell holding a question's unsure code
_BAD = object()  # a cell with a problem (already reported)
Parsed = Any  # None (no answer), int, _UNSURE, _Choice or _Open


class _Choice(str):
    """An option id read from a choice cell."""


class _Open(str):
    """Free text read from an open question's cell."""


@dataclass
class _Draft:
    code: str
    line: int
    ratings: dict[str, int | None] = field(default_factory=dict)
    unsure: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)

    def put(self, key: str, value: Parsed) -> None:
        """File one parsed answer under its answer key."""
        if value is _UNSURE:
            self.unsure.append(key)
        elif isinstance(value, _Choice):
            self.choices[key] = str(value)
        elif isinstance(value, _Open):
            self.texts[key] = str(value)
        elif value is not _BAD:
            self.ratings[key] = value


@dataclass(frozen=True)
class _Column:
    """A wide column: an answer (by key), a comment on an item, or the suggestions."""

    index: int
    kind: str  # "answer" | "comment" | "suggestions"
    target: str | None = None


class ReturnsReader:
    """Reads returns files for one round, collecting every problem rather than the first.

    Each cell is read against the question its column asks (see
    :func:`delphi.core.answers.questions`): a rating is a whole number on the question's scale
    or its unsure code, a choice one of its option ids, an open question any text.
    """

    def __init__(self, manifest: Manifest, settings: Settings) -> None:
        self.manifest = manifest
        self.questions = questions_by_key(settings, manifest)
        self.items = set(manifest.item_ids())
        self.codes = {c.upper(): c for c in manifest.invited}
        self.problems: list[Problem] = []
        self._drafts: dict[str, _Draft] = {}
        self._returned: list[PanelReturn] | None = None  # see returns()
        self._where: dict[str, Source] = {}
        self._cells = False
        self._revive: Callable[[str], str] = _as_is
        # Rating cells as a CSV holds them: the common case is one lookup, not a parse.
        self._plain: dict[str, dict[str, Parsed]] = {
            key: _plain_cells(q.rating) for key, q in self.questions.items()
            if q.rating is not None}

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

    def add_return(self, display: str, code: str, answers: dict[str, str],
                   comments: dict[str, str], suggestions: str | None) -> None:
        """Add one return read from a form (a filled PDF, keyboard entry, the web).

        ``answers`` holds each answer as its cell would (a rating, the unsure code, an option
        id or open text; empty for no answer), by answer key.
        """
        draft = self._draft(display, None, code)
        if draft is None:
            return
        for key, raw in answers.items():
            if key not in self.questions:
                self._unknown_item(display, None, key, "the form")
                continue
            draft.put(key, self._parse(display, None, key, raw))
        for item_id, text in comments.items():
            if item_id in self.items and text.strip():
                draft.comments[item_id] = text.strip()
        if suggestions and suggestions.strip():
            draft.suggestions.append(suggestions.strip())

    def codes_from(self, display: str) -> list[str]:
        """Codes of the returns read from one file, in the order read."""
        return [code for code, where in self._where.items() if where.file == display]

    def returns(self) -> list[PanelReturn]:
        """The returns read so far, in the order of the manifest's invited codes.

        Every value was checked as it was read, so the returns are built without validating
        them again, and they take over the answers read (no copy of thousands of ratings):
        the reader reads nothing more after this (:meth:`_writable`).
        """
        if self._returned is None:
            order = {c: i for i, c in enumerate(self.manifest.invited)}
            drafts = sorted(self._drafts.values(), key=lambda d: order.get(d.code, len(order)))
            self._returned = [
                PanelReturn.checked(code=d.code, ratings=d.ratings, unsure=d.unsure,
                                    choices=d.choices, texts=d.texts, comments=d.comments,
                                    suggestions="\n".join(d.suggestions) or None,
                                    source=self._where[d.code]) for d in drafts]
        return list(self._returned)

    # ------------------------------------------------------------------ wide

    def _read_wide(self, rows: Iterable[tuple[int, list[str]]], header: list[str],
                   display: str) -> None:
        columns = self._wide_columns(header, display)
        if columns is None:
            return
        fast = _RatingColumns([c for c in columns
                               if c.kind == "answer" and c.target in self._plain], self._plain)
        taken = set(fast.indexes)
        slow = [c for c in columns if c.index not in taken]
        width = len(header)
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
            self._wide_ratings(display, line, draft, cells, fast)
            self._wide_others(display, line, draft, cells, slow)

    def _wide_columns(self, header: list[str], display: str) -> list[_Column] | None:
        """The columns of a wide header, or ``None`` (problems reported) if any is wrong."""
        if not header or header[0].lower() != "code":
            self._problem(display, 1, f"the first column must be 'code' (got {header[0]!r}); "
                          "a long file needs the columns code,item,rating" if header else
                          "the header row is empty")
            return None
        columns: list[_Column] = []
        seen: set[str] = set()
        ok = True
        for col, name in enumerate(header[1:], start=1):
            if name in seen:
                self._problem(display, 1, f"column {name!r} appears twice")
                ok = False
            seen.add(name)
            if name.lower() == "suggestions":
                columns.append(_Column(col, "suggestions"))
            elif name.lower().startswith("comment:"):
                item = name.split(":", 1)[1].strip()
                if item not in self.items:
                    self._unknown_item(display, 1, item, f"column {name!r}", col)
                    ok = False
                columns.append(_Column(col, "comment", item))
            elif name in self.questions:
                columns.append(_Column(col, "answer", name))
            else:
                self._unknown_item(display, 1, name, "column", col)
                ok = False
        return columns if ok else None

    def _wide_ratings(self, display: str, line: int, draft: _Draft, cells: list[str],
                      fast: _RatingColumns) -> None:
        """The rating cells of a row: one dictionary lookup a cell, in C through ``map``.

        A row with a cell that is not exactly a scale value, the unsure code or empty (a
        lookup fails) gets the full parse of each cell and its messages.
        """
        if not fast.keys:
            return
        raw = fast.pick(cells)
        try:
            ratings = dict(zip(fast.keys, map(dict.__getitem__, fast.tables, raw), strict=True))
        except (KeyError, TypeError):  # a cell that is not plain (or not text at all)
            values = [self._parse(display, line, c.target or "", cell, c.index)
                      for c, cell in zip(fast.columns, raw, strict=True)]
            for key, value in zip(fast.keys, values, strict=True):
                draft.put(key, value)
            return
        if fast.unsure and _UNSURE in ratings.values():
            for key, value in ratings.items():
                draft.put(key, value)
        else:
            draft.ratings.update(ratings)

    def _wide_others(self, display: str, line: int, draft: _Draft, cells: list[str],
                     columns: list[_Column]) -> None:
        """Choice and open answers, comments and suggestions of a row."""
        for column in columns:
            cell = "" if cells[column.index] is None else str(cells[column.index])
            if column.kind == "answer" and column.target is not None:
                draft.put(column.target, self._parse(display, line, column.target, cell,
                                                     column.index))
            elif column.kind == "comment" and column.target is not None and cell.strip():
                draft.comments[column.target] = self._revive(cell.strip())
            elif column.kind == "suggestions" and cell.strip():
                draft.suggestions.append(self._revive(cell.strip()))

    # ------------------------------------------------------------------ long

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
            code = self._known_code(display, line, cells[index["code"]].strip())
            key = cells[index["item"]].strip()
            if code is None:
                continue
            if key not in self.questions:
                self._unknown_item(display, line, key, "item")
                continue
            if (code, key) in answered:
                self._problem(display, line, f"duplicate row: {code} already rated item "
                              f"{key} on line {answered[code, key]}")
                continue
            answered[code, key] = line
            draft = self._long_draft(display, line, code)
            if draft is None:
                continue
            draft.put(key, self._parse(display, line, key, cells[index["rating"]],
                                       index["rating"]))
            item = split_key(key)[0]
            if "comment" in index and cells[index["comment"]].strip():
                draft.comments[item] = self._revive(cells[index["comment"]].strip())
            if "suggestions" in index and cells[index["suggestions"]].strip():
                draft.suggestions.append(self._revive(cells[index["suggestions"]].strip()))

    def _long_draft(self, display: str, line: int, code: str) -> _Draft | None:
        """The draft a long file's row adds to: one per code, from this file only."""
        self._writable()
        where = self._where.get(code)
        if where is not None and where.file != display:
            self._problem(display, line, f"duplicate return for {code}: already returned "
                          f"in {where}")
            return None
        draft = self._drafts.get(code)
        if draft is None:
            draft = self._drafts[code] = _Draft(code, line)
            self._where[code] = Source(file=display, line=line)
        return draft

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

    def _writable(self) -> None:
        """Refuse to read on once :meth:`returns` has handed the answers over."""
        if self._returned is not None:
            raise RuntimeError("this reader's returns were taken; read into a new reader")

    def _draft(self, display: str, line: int | None, raw_code: str) -> _Draft | None:
        self._writable()
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

    def _parse(self, display: str, line: int | None, key: str, cell: object,
               col: int | None = None) -> Parsed:
        """One cell read against the question of ``key``; ``_BAD`` after a problem."""
        question = self.questions[key]
        if question.kind == "open":
            text = "" if cell is None else str(cell).strip()
            return _Open(self._revive(text)) if text else None
        if isinstance(cell, bool):
            cell = str(cell)
        if isinstance(cell, int | float):  # a spreadsheet's number cell
            cell = repr(cell)
        text = str(cell or "").strip()
        if not text:
            return None
        if question.kind == "choice":
            return self._choice(display, line, question, text, col)
        return self._rating(display, line, question, text, col)

    def _choice(self, display: str, line: int | None, question: Question, text: str,
                col: int | None) -> Parsed:
        ids = question.option_ids()
        if text in ids:
            return _Choice(text)
        folded = [i for i in ids if i.casefold() == text.casefold()]
        if len(folded) == 1:
            return _Choice(folded[0])
        self._problem(display, line, f"item {question.key}: {text!r} is not one of its "
                      f"options ({', '.join(ids)}); leave the cell empty for no answer", col)
        return _BAD

    def _rating(self, display: str, line: int | None, question: Question, text: str,
                col: int | None) -> Parsed:
        spec = question.rating
        assert spec is not None  # rating and ranking questions have one
        scale, code = spec.scale, spec.unsure_code()
        if code is not None and text.casefold() == code.casefold():
            return _UNSURE
        also = f" or {code} ({spec.unsure.label})" if spec.unsure else ""
        if not WHOLE.fullmatch(text):
            shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
            self._problem(display, line, f"item {question.key}: rating {shown} is not a whole "
                          f"number from {scale.min} to {scale.max}{also}; leave the cell empty "
                          "for no answer", col)
            return _BAD
        value = int(float(text))
        if not scale.min <= value <= scale.max:
            self._problem(display, line, f"item {question.key}: rating {value} is outside the "
                          f"scale {scale.min}-{scale.max}{also}", col)
            return _BAD
        return value

    def _unknown_item(self, display: str, line: int | None, item: str, what: str,
                      col: int | None = None) -> None:
        self._problem(display, line, f"unknown item {item!r} in {what}: "
                      f"{self._why_unknown(item)}", col)

    def _why_unknown(self, key: str) -> str:
        """Why an answer key is not one of the round's questions, as helpfully as possible."""
        item, dimension = split_key(key)
        round_no = self.manifest.round
        dims = [q.key for q in self.questions.values() if q.item == item]
        if item in self.items and dimension is None and dims:
            return f"it is rated per dimension; name the columns {', '.join(dims)}"
        if item in self.items and dimension is not None and not dims[0].count("/"):
            return f"item {item} has no dimensions; name the column {item}"
        if item in self.items and dimension is not None:
            return (f"round {round_no} did not ask dimension {dimension!r} of it (it asked "
                    f"{', '.join(dims)})")
        return f"round {round_no} did not ask it"

    def _problem(self, display: str, line: int | None, message: str,
                 col: int | None = None) -> None:
        cell = None
        if self._cells and col is not None and line is not None:
            cell = f"cell {column_letter(col)}{line}"
        self.problems.append(Problem(message, file=display, line=line, field=cell))


def _as_is(text: str) -> str:
    return text


class _RatingColumns:
    """A wide file's rating columns, with what reading each row needs worked out once.

    ``keys``: the answer keys; ``tables``: each column's plain cells (:func:`_plain_cells`);
    ``pick``: a row's cells in those columns; ``unsure``: whether any has an unsure code.
    """

    def __init__(self, columns: list[_Column], plain: dict[str, dict[str, Parsed]]) -> None:
        self.columns = columns
        self.keys = [c.target or "" for c in columns]
        self.tables = [plain[k] for k in self.keys]
        self.unsure = any(v is _UNSURE for t in self.tables for v in t.values())
        self.indexes = [c.index for c in columns]
        first = self.indexes[0] if columns else 0
        self.pick: Callable[[list[str]], Sequence[str]] = (
            itemgetter(*self.indexes) if len(columns) > 1 else lambda cells: [cells[first]])


def _plain_cells(spec: RatingSpec) -> dict[str, Parsed]:
    """Cell texts that are read without a parse: empty, each scale value, the unsure code."""
    table: dict[str, Parsed] = {"": None}
    table.update((str(v), v) for v in spec.values())
    code = spec.unsure_code()
    if code is not None:
        table.update({code: _UNSURE, code.upper(): _UNSURE, code.lower(): _UNSURE})
    return table


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based column index (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def returns_csv_text(manifest: Manifest, returns: Iterable[PanelReturn],
                     settings: Settings) -> str:
    """Returns in the canonical wide CSV: every answer asked, comment columns where used.

    One column per answer key; an unsure answer is written as its question's unsure code.
    Comments, suggestions and open answers are written with :func:`inert`, so opening the file
    in a spreadsheet runs nothing; reading it back restores them exactly.
    """
    returns = list(returns)
    asked = questions(settings, manifest)
    item_ids = manifest.item_ids()
    commented = [i for i in item_ids if any(i in r.comments for r in returns)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", *[q.key for q in asked], *[f"comment:{i}" for i in commented],
                     "suggestions"])
    for r in returns:
        writer.writerow([r.code, *[_cell(r, q) for q in asked],
                         *[inert(r.comments.get(i, "")) for i in commented],
                         inert(r.suggestions or "")])
    return buffer.getvalue()


def return_cells(ret: PanelReturn, manifest: Manifest, settings: Settings) -> dict[str, str]:
    """A return's answers as cells by answer key (for :meth:`ReturnsReader.add_return`).

    Answers under keys the round did not ask are kept as they are, so the reader names them.
    """
    asked = questions_by_key(settings, manifest)
    return {key: str(_cell(ret, asked[key], _as_is)) if key in asked
            else str(answer.value or "") for key, answer in ret.answers().items()}


def _cell(ret: PanelReturn, question: Question,
          escape: Callable[[str], str] = inert) -> str | int:
    """One answer as the canonical CSV holds it (free text through ``escape``)."""
    rating = ret.ratings.get(question.key)
    if rating is not None:
        return rating
    if question.key in ret.unsure and question.rating is not None:
        return question.rating.unsure_code() or ""
    if question.key in ret.choices:
        return ret.choices[question.key]
    return escape(ret.texts.get(question.key, ""))
