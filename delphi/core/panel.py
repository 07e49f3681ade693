"""Panellists from a spreadsheet (``delphi panel import``): rows checked, codes made.

A table has a header row and one row per panellist. Columns ``code`` (optional), ``name``,
``email``, ``group``, ``delivery`` and ``address`` fill the roster entry's fields; any other
column is an attribute, ``;`` separating several values. Every problem of every row is
collected, naming the row and the column; the caller imports nothing if there is any.

Importing is adding: a row equal to a panellist already on the roster (the same code, or
without a code the same name, e-mail, group, delivery, address and attributes) is left as it
is, so importing the same file again changes nothing; a row that clashes with one (the same
code or e-mail with other details) is a problem, never an update.

A row without a code gets the next free code of its group: the group's prefix (``prefix:``
in study.yaml, else from the group id: ``expert`` -> EX, ``service_user`` -> SU) and a
two-digit number after the highest one in use (EX01, EX02, ...). Codes depend only on the
group and what is already on the roster, never on names, and a code once given never changes.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from delphi.core.models import Identifier, Panellist, Roster, Settings
from delphi.errors import Problem

Rows = list[tuple[int, list[object]]]
"""Numbered rows of a table: (line or spreadsheet row, cells in header order)."""

FIELDS = ("code", "name", "email", "group", "delivery", "address")
ALIASES = {"e-mail": "email", "e-mail address": "email", "email address": "email"}
SEPARATOR = ";"
DELIVERIES = [str(d) for d in typing.get_args(Panellist.model_fields["delivery"].annotation)]
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def cell_text(value: object) -> str:
    """A cell as text: numbers as typed (7, not 7.0), dates as ISO dates, empty as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else \
            value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def problem(line: int | None, column: str | None, message: str) -> Problem:
    """A problem at a row (``line``) and column of a table."""
    return Problem(message, line=line, field=column)


def header_problems(header: Sequence[str], known: Sequence[str],
                    required: Sequence[str]) -> list[Problem]:
    """Repeated, empty and missing columns of a header row."""
    problems = []
    seen: set[str] = set()
    for name in header:
        key = name.lower()
        if not name:
            problems.append(problem(1, None, "a column has no name in the header row"))
        elif key in seen:
            problems.append(problem(1, name, f"column {name!r} appears twice"))
        seen.add(key)
    missing = [c for c in required if c not in {ALIASES.get(k, k) for k in seen}]
    if missing:
        problems.append(problem(1, None, f"no {', '.join(repr(m) for m in missing)} column; "
                                f"the header needs {', '.join(required)} (and may have "
                                f"{', '.join(c for c in known if c not in required)})"))
    return problems


@dataclass
class PanelImport:
    """What importing a table of panellists would do."""

    added: list[Panellist] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # codes of rows already on the roster
    problems: list[Problem] = field(default_factory=list)


def _attributes(entry: Panellist) -> dict[str, list[str]]:
    return {k: entry.attribute_values(k) for k in entry.attributes}


def _same_person(a: Panellist, b: Panellist) -> bool:
    """Equal in everything an import gives (not the code, not a withdrawal)."""
    return ((a.name, (a.email or "").casefold(), a.group, a.delivery, a.address or "",
             _attributes(a)) == (b.name, (b.email or "").casefold(), b.group, b.delivery,
                                 b.address or "", _attributes(b)))


def _differences(a: Panellist, b: Panellist) -> list[str]:
    names = ("name", "email", "group", "delivery", "address")
    out = [n for n in names if (getattr(a, n) or "") != (getattr(b, n) or "")]
    return out + (["attributes"] if _attributes(a) != _attributes(b) else [])


class _Row:
    """One row's cells by column, with the problems found in it."""

    def __init__(self, line: int, header: Sequence[str], cells: Sequence[object]) -> None:
        self.line = line
        self.columns = {name: cell_text(cells[i]) if i < len(cells) else ""
                        for i, name in enumerate(header)}
        self.problems: list[Problem] = []

    def get(self, column: str | None) -> str:
        return self.columns.get(column, "") if column else ""

    def bad(self, column: str | None, message: str) -> None:
        self.problems.append(problem(self.line, column, message))


def import_panellists(header: Sequence[str], rows: Rows, settings: Settings,
                      roster: Roster) -> PanelImport:
    """Check a table of panellists against the study and its roster; make missing codes."""
    out = PanelImport()
    out.problems += header_problems(header, FIELDS, ("name", "group"))
    column = {ALIASES.get(h.lower(), h.lower()): h for h in header if h}
    attributes = [h for h in header if h and ALIASES.get(h.lower(), h.lower()) not in FIELDS]
    out.problems += _attribute_name_problems(attributes)
    if out.problems:
        return out

    check = _PanelRows(header, column, attributes, settings, roster, out)
    for line, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue  # an empty row
        check.row(line, cells)
    if out.problems:
        return out

    out.problems += _prefix_clashes(settings, {d["group"] for c, d in check.accepted if not c})
    if out.problems:
        return out
    out.added += _coded(settings, roster.panellists, check.accepted)
    return out


def _attribute_name_problems(attributes: Sequence[str]) -> list[Problem]:
    """Attribute columns whose names are not identifiers, each with a suggested name."""
    problems = []
    for name in attributes:
        if not is_identifier(name):
            suggestion = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_.-") or "attribute"
            problems.append(problem(1, name, f"column {name!r} would be an attribute, "
                                    "but attribute names are letters, digits, '_', '.' "
                                    f"and '-' (rename it, e.g. {suggestion})"))
    return problems


class _PanelRows:
    """Rows of panellists checked one by one against the roster and the rows before them.

    Problems and unchanged codes go to ``out``; rows to add go to ``accepted`` as (code or
    "", entry) in the file's order.
    """

    def __init__(self, header: Sequence[str], column: dict[str, str],
                 attributes: Sequence[str], settings: Settings, roster: Roster,
                 out: PanelImport) -> None:
        self.header = header
        self.column = column
        self.attributes = attributes
        self.out = out
        self.groups = {g.id.casefold(): g.id for g in settings.groups}
        self.people = roster.panellists
        self.by_code = {p.code.upper(): p for p in self.people}
        self.by_email = {p.email.casefold(): p.code for p in self.people if p.email}
        self.codes_seen: dict[str, int] = {}
        self.emails_seen: dict[str, int] = {}
        self.postal_seen: dict[tuple[str, str], str] = {
            (p.name.casefold(), (p.address or "").casefold()): p.code
            for p in self.people if p.delivery == "post"}
        self.accepted: list[tuple[str, dict[str, Any]]] = []

    def row(self, line: int, cells: list[object]) -> None:
        """One non-empty row: accepted, left unchanged, or its problems noted."""
        row = _Row(line, self.header, cells)
        if len(cells) > len(self.header) and any(cell_text(c)
                                                 for c in cells[len(self.header):]):
            row.bad(None, f"{len(cells)} cells but the header has {len(self.header)} columns")
        data = _entry(row, self.column, self.attributes, self.groups)
        code = row.get(self.column.get("code"))
        candidate = _validated(row, self.column, {"code": code or "NEW", **data})
        if candidate is None:
            self.out.problems += row.problems
            return
        match = self.by_code.get(code.upper()) if code else next(
            (p for p in self.people if _same_person(p, candidate)), None)
        if match is not None and _same_person(match, candidate):
            self.out.unchanged.append(match.code)
            return
        if code:
            self._check_code(row, code, match, candidate)
        self._check_contact(row, code, candidate)
        self.out.problems += row.problems
        self.accepted.append((code, data))

    def _check_code(self, row: _Row, code: str, match: Panellist | None,
                    candidate: Panellist) -> None:
        """A given code that is on the roster for someone else, or on an earlier row."""
        if match is not None:
            row.bad(self.column["code"], f"code {code!r} is already on the roster with another "
                    f"{', '.join(_differences(match, candidate))}; importing adds "
                    "panellists and changes none: edit the roster to change one")
        elif code.upper() in self.codes_seen:
            row.bad(self.column["code"], f"duplicate code {code!r} (also on row "
                    f"{self.codes_seen[code.upper()]})")
        self.codes_seen.setdefault(code.upper(), row.line)

    def _check_contact(self, row: _Row, code: str, candidate: Panellist) -> None:
        """An e-mail already in use, or a postal panellist already at the same address."""
        if candidate.email:
            key = candidate.email.casefold()
            if key in self.by_email:
                row.bad(self.column.get("email"), f"duplicate e-mail {candidate.email!r}: "
                        f"already on the roster as {self.by_email[key]}")
            elif key in self.emails_seen:
                row.bad(self.column.get("email"), f"duplicate e-mail {candidate.email!r} "
                        f"(also on row {self.emails_seen[key]})")
            self.emails_seen.setdefault(key, row.line)
        elif candidate.delivery == "post":
            place = (candidate.name.casefold(), (candidate.address or "").casefold())
            if place in self.postal_seen:
                row.bad(self.column.get("name"), f"{candidate.name!r} at this address is "
                        f"already on the panel ({self.postal_seen[place]})")
            self.postal_seen.setdefault(place, code or f"row {row.line}")


def _coded(settings: Settings, people: Sequence[Panellist],
           accepted: Sequence[tuple[str, dict[str, Any]]]) -> list[Panellist]:
    """The accepted rows as roster entries, a row without a code given its group's next one."""
    numbers = _next_numbers(settings, [p.code for p in people] + [c for c, _ in accepted if c])
    prefixes = {g.id: g.code_prefix for g in settings.groups}
    added = []
    for code, data in accepted:
        if not code:
            prefix = prefixes[data["group"]]
            code = f"{prefix}{numbers[prefix]:02d}"
            numbers[prefix] += 1
        added.append(Panellist.model_validate({"code": code, **data}))
    return added


def _entry(row: _Row, column: dict[str, str], attributes: Sequence[str],
           groups: dict[str, str]) -> dict[str, Any]:
    """A roster entry's fields from a row (without the code); problems noted in the row."""
    data: dict[str, Any] = {}
    name = row.get(column.get("name"))
    if not name:
        row.bad(column.get("name"), "the name is empty")
    data["name"] = name or "?"
    raw_group = row.get(column.get("group"))
    group = groups.get(raw_group.casefold())
    if group is None:
        known = ", ".join(groups.values())
        row.bad(column.get("group"), "the group is empty; study.yaml defines " + known
                if not raw_group else f"unknown group {raw_group!r}; study.yaml defines "
                f"{known} (add it to groups: in study.yaml, or correct the cell)")
    data["group"] = group or next(iter(groups.values()))
    email = row.get(column.get("email"))
    if email:
        data["email"] = email
    delivery = row.get(column.get("delivery")).lower().replace("e-mail", "email") or "email"
    if delivery not in DELIVERIES:
        row.bad(column.get("delivery"), f"delivery {delivery!r} is not one of "
                f"{', '.join(DELIVERIES)}")
        delivery = "email"
    data["delivery"] = delivery
    address = row.get(column.get("address"))
    if address:
        data["address"] = address
    if data["delivery"] == "post" and not address:
        row.bad(column.get("address") or column.get("delivery"),
                "delivery is post but the address is empty")
    if data["delivery"] != "post" and not email:
        row.bad(column.get("email") or column.get("name"),
                "no e-mail address: give one, or delivery post and an address")
    values = {}
    for name_ in attributes:
        parts = [v.strip() for v in row.get(name_).split(SEPARATOR) if v.strip()]
        if parts:
            values[name_] = parts[0] if len(parts) == 1 else parts
    if values:
        data["attributes"] = values
    return data


def _validated(row: _Row, column: dict[str, str], data: dict[str, Any]) -> Panellist | None:
    """The row as a roster entry, or ``None`` with the model's objections noted in the row."""
    try:
        entry = Panellist.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            where = str(err["loc"][0]) if err["loc"] else ""
            message = str(err["msg"]).removeprefix("Value error, ")
            if where == "code":
                row.bad(column.get("code"), f"code {data['code']!r}: codes are up to 32 "
                        "letters, digits, '_' and '-', starting with a letter or digit")
            elif where == "email":
                row.bad(column.get("email"), message)
            elif where in column:
                row.bad(column[where], f"{data.get(where)!r}: {message}")
            elif not row.problems:  # a check across fields, unless the row says it already
                row.bad(None, message)
        return None
    return None if row.problems else entry


def _prefix_clashes(settings: Settings, groups: set[str]) -> list[Problem]:
    """Groups that need codes made and would share a prefix: set ``prefix:`` for one."""
    by_prefix: dict[str, list[str]] = {}
    for g in settings.groups:
        by_prefix.setdefault(g.code_prefix, []).append(g.id)
    return [Problem(f"groups {', '.join(repr(i) for i in ids)} would all get codes starting "
                    f"{prefix}; give each its own prefix: in groups: (e.g. "
                    f"{{id: {ids[-1]}, label: ..., prefix: {ids[-1][:3].upper()}}})",
                    file="study.yaml", field="groups")
            for prefix, ids in by_prefix.items() if len(ids) > 1 and groups & set(ids)]


def _next_numbers(settings: Settings, codes: Sequence[str]) -> dict[str, int]:
    """Per group prefix, the number after the highest code in use of the form PREFIX<number>."""
    numbers = {}
    for g in settings.groups:
        prefix = g.code_prefix
        pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$", re.IGNORECASE)
        used = [int(m.group(1)) for c in codes if (m := pattern.match(c))]
        numbers[prefix] = max(used, default=0) + 1
    return numbers


def is_identifier(name: str) -> bool:
    """Whether ``name`` can be an id (of an attribute, a section, a group)."""
    try:
        _IDENTIFIER.validate_python(name)
    except ValidationError:
        return False
    return True
