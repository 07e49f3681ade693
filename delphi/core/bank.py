"""Statements from a spreadsheet (``delphi items import``): rows checked against the item bank.

Columns: ``section`` (the section id), ``id``, ``text``, and optionally ``section_title`` and
``kind`` (what the item bank's sections accept). A section that is not in the bank yet is
added, with the title and kind its rows give; items of a section already in the bank are added
to it. Every problem of every row is collected, naming the row and the column.

A row equal to an item already in the bank (same section, id and text) is left as it is, so
importing the same file again changes nothing; an id already in the bank with another text or
in another section is a problem (a rewording between rounds is a ``revisions:`` entry). An id
typed as a number in a workbook (1.1) is a problem too: the spreadsheet may have turned 1.10
into 1.1.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from delphi.core.models import Item, ItemBank, Section
from delphi.core.panel import Rows, cell_text, header_problems, is_identifier, problem
from delphi.errors import Problem

COLUMNS = ("section", "id", "text", "section_title", "kind")
REQUIRED = ("section", "id", "text")


def section_kinds() -> list[str]:
    """The kinds of section the item bank accepts (``rating``, ``ranking``, ...)."""
    return [str(k) for k in typing.get_args(Section.model_fields["kind"].annotation)]


@dataclass
class NewSection:
    """A section the import adds to the bank, with its first row for messages."""

    id: str
    title: str
    kind: str
    line: int
    items: list[Item] = field(default_factory=list)


@dataclass
class ItemsImport:
    """What importing a table of statements would do."""

    added: dict[str, list[Item]] = field(default_factory=dict)  # to sections in the bank
    new_sections: list[NewSection] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many statements are added."""
        return (sum(len(v) for v in self.added.values())
                + sum(len(s.items) for s in self.new_sections))


def import_items(header: Sequence[str], rows: Rows, bank: ItemBank,
                 introduced: int = 1) -> ItemsImport:
    """Check a table of statements against the item bank.

    New items get ``introduced`` (the round they are first asked in) when it is above 1.
    """
    out = ItemsImport()
    out.problems += _header_problems(header)
    if out.problems:
        return out
    check = _ItemRows(header, bank, introduced, out)
    for line, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue
        check.row(line, cells)
    out.problems += _new_section_problems(out.new_sections, check.name)
    out.problems.sort(key=lambda p: p.line or 0)
    return out


def _header_problems(header: Sequence[str]) -> list[Problem]:
    """Repeated, empty, missing and unknown columns of the header row."""
    problems = header_problems(header, COLUMNS, REQUIRED)
    unknown = [h for h in header if h and h.lower() not in COLUMNS]
    return problems + [problem(1, h, f"unknown column {h!r}; the columns are "
                               f"{', '.join(COLUMNS)}") for h in unknown]


@dataclass
class _Statement:
    """One row's cells by column."""

    line: int
    section: str
    raw_id: object  # as the workbook has it, to tell an id typed as a number
    id: str
    text: str
    title: str
    kind: str


class _ItemRows:
    """Rows of statements checked one by one against the item bank and the rows before them.

    Problems, unchanged ids, added items and new sections go to ``out``.
    """

    def __init__(self, header: Sequence[str], bank: ItemBank, introduced: int,
                 out: ItemsImport) -> None:
        self.index = {h.lower(): i for i, h in enumerate(header)}
        self.name = {h.lower(): h for h in header}
        self.kinds = section_kinds()
        self.sections = {s.id: s for s in bank.sections}
        self.existing = {item.id: (s, item) for s, item in bank.items()}
        self.introduced = introduced
        self.out = out
        self.seen: dict[str, int] = {}
        self.new: dict[str, NewSection] = {}

    def bad(self, line: int, col: str | None, message: str) -> None:
        self.out.problems.append(problem(line, self.name.get(col or "", None), message))

    def read(self, line: int, cells: list[object]) -> _Statement:
        """A row's cells by column (a missing column or cell as empty)."""
        def get(col: str) -> object:
            i = self.index.get(col)
            return cells[i] if i is not None and i < len(cells) else None

        raw_id = get("id")
        return _Statement(line, cell_text(get("section")), raw_id, cell_text(raw_id),
                          cell_text(get("text")), cell_text(get("section_title")),
                          cell_text(get("kind")).lower())

    def row(self, line: int, cells: list[object]) -> None:
        """One non-empty row: its item added or left unchanged, or its problems noted."""
        row = self.read(line, cells)
        if not self._cells_ok(row):
            return
        item = self._item(row)
        if item is None:
            return
        if row.id in self.seen:
            self.bad(line, "id", f"duplicate id {row.id!r} (also on row {self.seen[row.id]})")
            return
        self.seen[row.id] = line
        if row.id in self.existing:
            self._check_existing(row)
        elif row.section in self.sections:
            self._add_to_bank_section(row, item)
        else:
            self._add_to_new_section(row, item)

    def _cells_ok(self, row: _Statement) -> bool:
        """Whether the row's cells have no problem of their own (the problems noted)."""
        before = len(self.out.problems)
        if not row.section:
            self.bad(row.line, "section", "the section is empty")
        elif not is_identifier(row.section):
            self.bad(row.line, "section", f"section {row.section!r}: ids are letters, digits, "
                     "'_', '.' and '-', starting with a letter or digit")
        if isinstance(row.raw_id, float):
            self.bad(row.line, "id", f"id {row.id!r} is a number in the workbook, so an id "
                     "such as 1.10 would read as 1.1: format the id column as text and type "
                     "the ids again")
        elif not row.id:
            self.bad(row.line, "id", "the id is empty")
        if not row.text:
            self.bad(row.line, "text", "the text is empty")
        if row.kind and row.kind not in self.kinds:
            self.bad(row.line, "kind", f"kind {row.kind!r} is not one of {', '.join(self.kinds)}")
        return len(self.out.problems) == before

    def _item(self, row: _Statement) -> Item | None:
        """The row's item, or None with its problems noted."""
        try:
            return Item.model_validate({"id": row.id, "text": row.text,
                                        **({"introduced": self.introduced}
                                           if self.introduced > 1 else {})})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                where = str(err["loc"][0]) if err["loc"] else "id"
                self.bad(row.line, where, f"{where} {row.id if where == 'id' else row.text!r}: "
                         + str(err["msg"]).removeprefix("Value error, "))
            return None

    def _check_existing(self, row: _Statement) -> None:
        """An id already in the bank: unchanged if the same, else a problem."""
        at, there = self.existing[row.id]
        if at.id == row.section and there.text == row.text:
            self.out.unchanged.append(row.id)
        else:
            where = f"section {at.id!r}" if at.id != row.section else "another text"
            self.bad(row.line, "id", f"id {row.id!r} is already in the item bank, with "
                     f"{where}; to reword an item between rounds, add a revisions: entry to it")

    def _add_to_bank_section(self, row: _Statement, item: Item) -> None:
        """An item for a section in the bank, if the row's kind and title agree with it."""
        section = self.sections[row.section]
        if row.kind and row.kind != section.kind:
            self.bad(row.line, "kind", f"section {row.section!r} is a {section.kind} section "
                     f"in the item bank, not {row.kind}")
        elif row.title and row.title != section.title:
            self.bad(row.line, "section_title", f"section {row.section!r} is titled "
                     f"{section.title!r} in the item bank, not {row.title!r}")
        else:
            self.out.added.setdefault(row.section, []).append(item)

    def _add_to_new_section(self, row: _Statement, item: Item) -> None:
        """An item for a section not in the bank, made on its first row."""
        entry = self.new.get(row.section)
        if entry is None:
            entry = self.new[row.section] = NewSection(row.section, row.title,
                                                       row.kind or "rating", row.line)
            self.out.new_sections.append(entry)
        if row.title and entry.title and row.title != entry.title:
            self.bad(row.line, "section_title", f"section {row.section!r} is titled "
                     f"{entry.title!r} on row {entry.line}, not {row.title!r}")
        elif row.kind and row.kind != entry.kind:
            self.bad(row.line, "kind", f"section {row.section!r} is {entry.kind} on row "
                     f"{entry.line}, not {row.kind}")
        entry.title = entry.title or row.title
        entry.items.append(item)


def _new_section_problems(sections: Sequence[NewSection],
                          name: dict[str, str]) -> list[Problem]:
    """New sections without a title, or that the item bank would not accept."""
    problems = []
    for entry in sections:
        if not entry.title:
            problems.append(problem(
                entry.line, name.get("section_title", name["section"]),
                f"section {entry.id!r} is new: give its title in a section_title column"))
            continue
        try:
            section_model(entry)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(problem(entry.line, name["section"], f"section "
                                        f"{entry.id!r}: " + str(err["msg"])
                                        .removeprefix("Value error, ")))
    return problems


def section_model(entry: NewSection) -> Section:
    """A new section as the item bank holds it."""
    data: dict[str, Any] = {"id": entry.id, "title": entry.title, "items": entry.items}
    if entry.kind != "rating":
        data["kind"] = entry.kind
    return Section.model_validate(data)
