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
    out.problems += header_problems(header, COLUMNS, REQUIRED)
    unknown = [h for h in header if h and h.lower() not in COLUMNS]
    out.problems += [problem(1, h, f"unknown column {h!r}; the columns are "
                             f"{', '.join(COLUMNS)}") for h in unknown]
    if out.problems:
        return out
    index = {h.lower(): i for i, h in enumerate(header)}
    name = {h.lower(): h for h in header}
    kinds = section_kinds()
    sections = {s.id: s for s in bank.sections}
    existing = {item.id: (s, item) for s, item in bank.items()}
    seen: dict[str, int] = {}
    new: dict[str, NewSection] = {}

    for line, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue
        before = len(out.problems)

        def get(col: str, cells: list[object] = cells) -> object:
            return cells[index[col]] if col in index and index[col] < len(cells) else None

        def bad(col: str | None, message: str, line: int = line) -> None:
            out.problems.append(problem(line, name.get(col or "", None), message))

        section_id = cell_text(get("section"))
        raw_id = get("id")
        item_id = cell_text(raw_id)
        text = cell_text(get("text"))
        title = cell_text(get("section_title"))
        kind = cell_text(get("kind")).lower()
        if not section_id:
            bad("section", "the section is empty")
        elif not is_identifier(section_id):
            bad("section", f"section {section_id!r}: ids are letters, digits, '_', '.' and "
                "'-', starting with a letter or digit")
        if isinstance(raw_id, float):
            bad("id", f"id {item_id!r} is a number in the workbook, so an id such as 1.10 "
                f"would read as 1.1: format the id column as text and type the ids again")
        elif not item_id:
            bad("id", "the id is empty")
        if not text:
            bad("text", "the text is empty")
        if kind and kind not in kinds:
            bad("kind", f"kind {kind!r} is not one of {', '.join(kinds)}")
        if len(out.problems) > before:
            continue
        try:
            item = Item.model_validate({"id": item_id, "text": text,
                                        **({"introduced": introduced} if introduced > 1
                                           else {})})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                where = str(err["loc"][0]) if err["loc"] else "id"
                bad(where, f"{where} {item_id if where == 'id' else text!r}: "
                    + str(err["msg"]).removeprefix("Value error, "))
            continue
        if item_id in seen:
            bad("id", f"duplicate id {item_id!r} (also on row {seen[item_id]})")
            continue
        seen[item_id] = line
        if item_id in existing:
            at, there = existing[item_id]
            if at.id == section_id and there.text == text:
                out.unchanged.append(item_id)
            else:
                where = f"section {at.id!r}" if at.id != section_id else "another text"
                bad("id", f"id {item_id!r} is already in the item bank, with {where}; to "
                    "reword an item between rounds, add a revisions: entry to it")
            continue
        if section_id in sections:
            section = sections[section_id]
            if kind and kind != section.kind:
                bad("kind", f"section {section_id!r} is a {section.kind} section in the item "
                    f"bank, not {kind}")
            elif title and title != section.title:
                bad("section_title", f"section {section_id!r} is titled {section.title!r} in "
                    f"the item bank, not {title!r}")
            else:
                out.added.setdefault(section_id, []).append(item)
            continue
        entry = new.get(section_id)
        if entry is None:
            entry = new[section_id] = NewSection(section_id, title, kind or "rating", line)
            out.new_sections.append(entry)
        if title and entry.title and title != entry.title:
            bad("section_title", f"section {section_id!r} is titled {entry.title!r} on row "
                f"{entry.line}, not {title!r}")
        elif kind and kind != entry.kind:
            bad("kind", f"section {section_id!r} is {entry.kind} on row {entry.line}, not "
                f"{kind}")
        entry.title = entry.title or title
        entry.items.append(item)

    for entry in out.new_sections:
        if not entry.title:
            out.problems.append(problem(
                entry.line, name.get("section_title", name["section"]),
                f"section {entry.id!r} is new: give its title in a section_title column"))
            continue
        try:
            section_model(entry)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                out.problems.append(problem(entry.line, name["section"], f"section "
                                            f"{entry.id!r}: " + str(err["msg"])
                                            .removeprefix("Value error, ")))
    out.problems.sort(key=lambda p: p.line or 0)
    return out


def section_model(entry: NewSection) -> Section:
    """A new section as the item bank holds it."""
    data: dict[str, Any] = {"id": entry.id, "title": entry.title, "items": entry.items}
    if entry.kind != "rating":
        data["kind"] = entry.kind
    return Section.model_validate(data)
