"""Checks that span more than one model: ids unique across a bank, groups that exist, ...

Each check returns a list of :class:`~delphi.errors.Problem` whose ``loc`` points into the
data of one file; the store adapter turns ``loc`` into a line number.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from delphi.core.models import ItemBank, Manifest, Roster, Settings
from delphi.errors import Problem, dotted


def _duplicates(entries: Iterable[tuple[Hashable, tuple[str | int, ...]]],
                what: str) -> list[Problem]:
    """One problem per repeated key, at its second (third, ...) place."""
    seen: dict[Hashable, tuple[str | int, ...]] = {}
    problems = []
    for key, loc in entries:
        if key in seen:
            problems.append(Problem(f"duplicate {what} {key!r} (first used above)",
                                    field=dotted(loc), loc=loc))
        else:
            seen[key] = loc
    return problems



def check_bank(bank: ItemBank, settings: Settings) -> list[Problem]:
    """Section and item ids are unique; section anchors lie on the scale."""
    problems = _duplicates(((s.id, ("sections", si, "id")) for si, s in enumerate(bank.sections)),
                           "section id")
    problems += _duplicates(
        ((item.id, ("sections", si, "items", ii, "id"))
         for si, s in enumerate(bank.sections) for ii, item in enumerate(s.items)),
        "item id")
    for si, section in enumerate(bank.sections):
        for key in (section.anchors or {}):
            if not settings.scale.min <= key <= settings.scale.max:
                loc = ("sections", si, "anchors")
                problems.append(Problem(
                    f"anchor {key} lies outside the scale "
                    f"{settings.scale.min}-{settings.scale.max}",
                    field=dotted(loc), loc=loc))
        if section.kind == "rating" and section.rounds is not None:
            loc = ("sections", si, "rounds")
            problems.append(Problem("rounds: applies to ranking sections only; rating items "
                                    "are asked until they reach consensus", field=dotted(loc),
                                    loc=loc))
    return problems


def check_roster(roster: Roster, settings: Settings) -> list[Problem]:
    """Codes are unique and every group is one of the study's groups."""
    problems = _duplicates(
        ((p.code.upper(), ("panellists", i, "code")) for i, p in enumerate(roster.panellists)),
        "panellist code")
    groups = settings.group_ids
    for i, p in enumerate(roster.panellists):
        if p.group not in groups:
            loc = ("panellists", i, "group")
            problems.append(Problem(f"unknown group {p.group!r}; study.yaml defines "
                                    f"{', '.join(groups)}", field=dotted(loc), loc=loc))
    return problems


def check_manifest(manifest: Manifest, roster: Roster) -> list[Problem]:
    """Every invited code is on the roster; ids are unique."""
    codes = roster.by_code()
    problems = _duplicates(((c, ("invited", i)) for i, c in enumerate(manifest.invited)),
                           "invited code")
    problems += _duplicates(((it.id, ("items", i, "id")) for i, it in enumerate(manifest.items)),
                            "item id")
    for i, code in enumerate(manifest.invited):
        if code not in codes:
            problems.append(Problem(f"invited code {code!r} is not on the roster",
                                    field=f"invited[{i}]", loc=("invited", i)))
    return problems
