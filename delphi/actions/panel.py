"""init, panel import, panel withdraw, items import: starting a study and changing its panel.

The roster and the item bank are the coordinator's own files: every change is made with
ruamel.yaml's round trip (:mod:`delphi.store.roundtrip`), so their comments and order stay,
checked as a whole before anything is written, and written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from delphi.core.bank import import_items as check_items
from delphi.core.bank import section_model
from delphi.core.checks import check_bank, check_roster
from delphi.core.models import Item, ItemBank, Panellist, Roster, Section, Withdrawal
from delphi.core.panel import import_panellists
from delphi.core.web import LinkEvent, live_links
from delphi.errors import DelphiError, Problem
from delphi.store import roundtrip
from delphi.store.study import SETTINGS_FILE, Study, atomic_write
from delphi.store.tables import read_sheet
from delphi.store.web import WebStore
from delphi.store.yamlfile import dump_yaml, load_model

M = TypeVar("M", bound=BaseModel)
INIT_FILES = {SETTINGS_FILE: "study.yaml", "questionnaires/items.yaml": "items.yaml",
              "panels/panel.yaml": "panel.yaml"}


# ----------------------------------------------------------------------------- init


@dataclass(frozen=True)
class Created:
    """The outcome of :func:`init_study`: the study folder and the files written."""

    study: Study
    title: str
    written: list[Path]


def init_study(folder: Path | str, title: str | None = None) -> Created:
    """Write a new study folder: study.yaml, an empty item bank and an empty roster.

    Every field is explained in the files' comments, with an example. An existing study (or
    any of the files it would write) is never overwritten.
    """
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise DelphiError(Problem("exists and is not a folder", file=str(root)))
    if (root / SETTINGS_FILE).exists():
        raise DelphiError(Problem("is already a study folder (it has a study.yaml); delphi "
                                  "init never overwrites a study", file=str(root)))
    taken = [name for name in [*INIT_FILES, "rounds"] if (root / name).exists()]
    if taken:
        raise DelphiError(Problem(f"{taken[0]} exists already; delphi init writes only into "
                                  "a folder without study files", file=str(root)))
    title = " ".join((title or _title_from(root)).split())
    if not title:
        raise DelphiError("--title: the study needs a title")
    templates = resources.files("delphi") / "templates" / "init"
    texts = {root / name: templates.joinpath(source).read_text(encoding="utf-8")
             for name, source in INIT_FILES.items()}
    texts[root / SETTINGS_FILE] = texts[root / SETTINGS_FILE].replace(
        "title: __TITLE__", dump_yaml({"title": title}).strip())
    atomic_write(texts)
    study = Study(root)
    problems = study.problems()
    if problems:  # the templates are the package's; a problem here is a bug, said plainly
        raise DelphiError([Problem(f"delphi init wrote an invalid study: {p}") for p in problems])
    return Created(study, title, list(texts))


def _title_from(root: Path) -> str:
    """A title from the folder's name: ``pd-services_study`` -> ``Pd services study``."""
    words = re.sub(r"[-_]+", " ", root.resolve().name).strip()
    return words[:1].upper() + words[1:] if words else "Delphi study"


# ----------------------------------------------------------------------------- panel import


@dataclass(frozen=True)
class PanelImported:
    """The outcome of :func:`import_panel`."""

    study: Study
    roster_file: str
    added: list[Panellist]
    unchanged: list[str]


def import_panel(study: Path | str, file: Path) -> PanelImported:
    """Add the panellists of a CSV or XLSX table to the roster: all or nothing.

    Every problem of every row is listed; importing the same file again changes nothing.
    """
    folder = Study(study).validated()
    sheet = read_sheet(file, str(file))
    outcome = import_panellists(sheet.header, sheet.rows, folder.settings, folder.roster)
    if outcome.problems:
        raise DelphiError(sheet.place(outcome.problems))
    relative, path = folder.roster_paths()[0]
    if outcome.added:
        part, _ = load_model(path, relative, Roster)
        expected = Roster(panellists=[*part.panellists, *outcome.added])
        _check_whole(folder, relative, expected, folder.roster_paths(), Roster,
                     lambda parts: Roster(panellists=[p for r in parts for p in r.panellists]),
                     lambda whole: check_roster(whole, folder.settings))
        document = roundtrip.Document(path, relative)
        entries = _list(document.data, "panellists")
        for person in outcome.added:
            roundtrip.append(entries, roster_entry(person))
        roundtrip.save([(document, _verifier(relative, Roster, expected))])
    return PanelImported(folder, relative, outcome.added, outcome.unchanged)


def roster_entry(person: Panellist) -> CommentedMap:
    """A panellist as a roster entry, keys in the order of the study format's example."""
    data: dict[str, Any] = {"code": person.code, "name": person.name}
    if person.email:
        data["email"] = person.email
    data["group"] = person.group
    if person.attributes:
        data["attributes"] = roundtrip.block({
            k: roundtrip.flow(list(v)) if isinstance(v, list) else v
            for k, v in person.attributes.items()})
    if person.delivery != "email":
        data["delivery"] = person.delivery
    if person.address:
        data["address"] = person.address
    return roundtrip.block(data)


# ----------------------------------------------------------------------------- withdraw


@dataclass(frozen=True)
class Withdrawn:
    """The outcome of :func:`withdraw`."""

    study: Study
    panellist: Panellist
    roster_file: str
    already: bool
    returned: list[int]  # rounds with a return from the panellist (kept and analysed)
    next_round: int  # the first round they are not invited to
    links_revoked: list[int]  # rounds whose private links of theirs stopped working


def withdraw(study: Path | str, code: str, reason: str | None = None,
             today: date | None = None) -> Withdrawn:
    """Record that a panellist has withdrawn: ``withdrawn:`` in their roster entry.

    They are not invited to any round built after the latest one, and never mailed or
    reminded again, in that round either; their private links to answer on the web are
    revoked. Their returns stay in the study and are analysed. Withdrawing someone who has
    withdrawn already changes nothing.
    """
    folder = Study(study).validated()
    wanted = code.strip().upper()
    person = next((p for p in folder.roster.panellists if p.code.upper() == wanted), None)
    if person is None:
        raise DelphiError(Problem(f"no panellist with code {code!r} on the roster",
                                  file=", ".join(folder.settings.roster_files)))
    rounds = folder.rounds()
    returned = [r for r in rounds if any(x.code == person.code for x in folder.returns(r))]
    for relative, path in folder.roster_paths():
        part, _ = load_model(path, relative, Roster)
        index = next((i for i, p in enumerate(part.panellists) if p.code == person.code), None)
        if index is not None:
            break
    else:  # pragma: no cover - the roster was loaded from these very files
        raise AssertionError(person.code)
    if person.withdrawn is not None:
        after = person.withdrawn.round or 0
        revoked = _revoke_links(folder, person.code, rounds)  # if a first run stopped short
        return Withdrawn(folder, person, relative, True, returned, after + 1, revoked)
    record = Withdrawal(date=today or date.today(), round=rounds[-1] if rounds else None,
                        reason=" ".join(reason.split()) if reason and reason.strip() else None)
    changed = person.model_copy(update={"withdrawn": record})
    expected = Roster(panellists=[changed if i == index else p
                                  for i, p in enumerate(part.panellists)])
    document = roundtrip.Document(path, relative)
    entry = _list(document.data, "panellists")[index]
    roundtrip.set_key(entry, "withdrawn", roundtrip.flow(
        record.model_dump(exclude_none=True)))
    roundtrip.save([(document, _verifier(relative, Roster, expected))])
    revoked = _revoke_links(folder, person.code, rounds)
    return Withdrawn(folder, changed, relative, False, returned, (record.round or 0) + 1,
                     revoked)


def _revoke_links(folder: Study, code: str, rounds: list[int]) -> list[int]:
    """Revoke a withdrawn panellist's live private links, in every round; the rounds."""
    revoked = []
    for round_no in rounds:
        store = WebStore(folder, round_no)
        if not store.link_log.is_file() or code not in live_links(store.link_events()).values():
            continue
        store.append_links([LinkEvent(time=datetime.now().astimezone(), action="revoked",
                                      code=code, reason="withdrew from the study")])
        revoked.append(round_no)
    return revoked


# ----------------------------------------------------------------------------- items import


@dataclass(frozen=True)
class ItemsImported:
    """The outcome of :func:`import_items`."""

    study: Study
    files: list[str]
    added: list[str]
    new_sections: list[str]
    unchanged: list[str]
    introduced: int  # the round the added items are first asked in


def import_items(study: Path | str, file: Path) -> ItemsImported:
    """Add the statements of a CSV or XLSX table to the item bank: all or nothing.

    Items added once rounds exist are first asked in the round after the latest
    (``introduced:``). Importing the same file again changes nothing.
    """
    folder = Study(study).validated()
    rounds = folder.rounds()
    introduced = rounds[-1] + 1 if rounds else 1
    sheet = read_sheet(file, str(file))
    outcome = check_items(sheet.header, sheet.rows, folder.bank, introduced)
    if outcome.problems:
        raise DelphiError(sheet.place(outcome.problems))
    files = folder.item_bank_paths()
    first = files[0][0]
    parts = {relative: load_model(path, relative, ItemBank)[0] for relative, path in files}
    home = {s.id: relative for relative, part in parts.items() for s in part.sections}
    changes = []
    for relative, path in files:
        additions = {s: items for s, items in outcome.added.items() if home[s] == relative}
        new_sections = [section_model(s) for s in outcome.new_sections] if relative == first \
            else []
        if not additions and not new_sections:
            continue
        document = roundtrip.Document(path, relative)
        entries = {str(s["id"]): s for s in _list(document.data, "sections")}
        sections = []
        for section in parts[relative].sections:
            for item in additions.get(section.id, []):
                roundtrip.append(entries[section.id]["items"], item_entry(item))
            sections.append(section.model_copy(update={
                "items": [*section.items, *additions.get(section.id, [])]}))
        for section in new_sections:
            roundtrip.append(_list(document.data, "sections"), section_entry(section))
        expected = ItemBank(sections=[*sections, *new_sections])
        _check_whole(folder, relative, expected, files, ItemBank,
                     lambda banks: ItemBank(sections=[s for b in banks for s in b.sections]),
                     lambda whole: check_bank(whole, folder.settings))
        changes.append((document, _verifier(relative, ItemBank, expected)))
    roundtrip.save(changes)
    added = [i.id for items in outcome.added.values() for i in items]
    added += [i.id for s in outcome.new_sections for i in s.items]
    return ItemsImported(folder, [d.display for d, _ in changes], added,
                         [s.id for s in outcome.new_sections], outcome.unchanged, introduced)


def item_entry(item: Item) -> CommentedMap:
    """An item as the bank holds it: the id always quoted, so 1.10 stays 1.10."""
    data: dict[str, Any] = {"id": DoubleQuotedScalarString(item.id), "text": item.text}
    if item.introduced != 1:
        data["introduced"] = item.introduced
    return roundtrip.block(data)


def section_entry(section: Section) -> CommentedMap:
    """A new section of the bank, with its items."""
    data: dict[str, Any] = {"id": section.id, "title": section.title}
    if section.kind != "rating":
        data["kind"] = section.kind
    items = CommentedSeq([item_entry(i) for i in section.items])
    data["items"] = items
    return roundtrip.block(data)


# ----------------------------------------------------------------------------- shared


def _list(data: Any, key: str) -> CommentedSeq:
    """The list under ``key`` of a document's top mapping, made if it is not there."""
    if not isinstance(data, CommentedMap):
        raise DelphiError(f"expected a mapping with {key}: at the top of the file")
    if not isinstance(data.get(key), CommentedSeq):
        roundtrip.set_key(data, key, CommentedSeq())
    value: CommentedSeq = data[key]
    return value


def _verifier(display: str, model: type[M], expected: M) -> Callable[[Path], None]:
    """A check that a staged file reads back as exactly ``expected``."""

    def verify(staged: Path) -> None:
        parsed, _ = load_model(staged, display, model)
        if parsed != expected:
            raise DelphiError(Problem("the change did not read back as intended; nothing was "
                                      "written (please report this)", file=display))

    return verify


def _check_whole(folder: Study, relative: str, part: M, files: list[tuple[str, Path]],
                 model: type[M], merge: Callable[[list[M]], M],
                 check: Callable[[M], list[Problem]]) -> None:
    """Check the study's whole roster or bank as it will be once ``relative`` is ``part``."""
    parts = [part if name == relative else load_model(path, name, model)[0]
             for name, path in files]
    problems = check(merge(parts))
    if problems:
        raise DelphiError([p.at(", ".join(n for n, _ in files)) for p in problems])
