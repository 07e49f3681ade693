"""Checks that span more than one model: ids unique across a bank, groups that exist, ...

Each check returns a list of :class:`~delphi.errors.Problem` whose ``loc`` points into the
data of one file; the store adapter turns ``loc`` into a line number.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from delphi.core.answers import RatingSpec, resolve
from delphi.core.models import (
    AnswerSettings,
    Band,
    ItemBank,
    Manifest,
    Roster,
    Scale,
    Settings,
    Unsure,
    bands_problem,
)
from delphi.errors import Problem, dotted


def _duplicates(entries: Iterable[tuple[Hashable, tuple[str | int, ...]]],
                what: str) -> list[Problem]:
    """One problem per repeated key, at its second (third, ...) place."""
    seen: dict[Hashable, tuple[str | int, ...]] = {}
    problems = []
    for key, loc in entries:
        if key in seen:
            problems.append(Problem(f"duplicate {what} {key!r}", field=dotted(loc), loc=loc,
                                    first=seen[key]))
        else:
            seen[key] = loc
    return problems



def check_settings(settings: Settings) -> list[Problem]:
    """study.yaml's unsure answer fits its scale and bands."""
    return _unsure_problems(settings.unsure, settings.scale, settings.bands, (), own=True)


def check_bank(bank: ItemBank, settings: Settings) -> list[Problem]:
    """Ids are unique; each section's and dimension's rating settings fit what they inherit."""
    problems = _duplicates(((s.id, ("sections", si, "id")) for si, s in enumerate(bank.sections)),
                           "section id")
    problems += _duplicates(
        ((item.id, ("sections", si, "items", ii, "id"))
         for si, s in enumerate(bank.sections) for ii, item in enumerate(s.items)),
        "item id")
    study = resolve(settings)
    for si, section in enumerate(bank.sections):
        if section.kind in ("rating", "ranking"):
            problems += _layer_problems(section, study, ("sections", si))
            inherited = resolve(settings, section)
            for di, dimension in enumerate(section.dimensions or ()):
                problems += _layer_problems(dimension, inherited,
                                            ("sections", si, "dimensions", di))
        if section.kind == "rating" and section.rounds is not None:
            loc = ("sections", si, "rounds")
            problems.append(Problem("rounds: applies to ranking, choice and open sections only; "
                                    "rating items are asked until they reach consensus",
                                    field=dotted(loc), loc=loc))
    return problems


def _layer_problems(layer: AnswerSettings, inherited: RatingSpec,
                    loc: tuple[str | int, ...]) -> list[Problem]:
    """A section's or dimension's own settings against the scale and bands it inherits."""
    problems: list[Problem] = []

    def problem(message: str, *where: str | int) -> None:
        problems.append(Problem(message, field=dotted(loc + where), loc=loc + where))

    scale = layer.scale or inherited.scale
    if layer.bands is not None and layer.scale is None:
        found = bands_problem(layer.bands, scale)
        if found:
            problem(f"{found} (the inherited scale is {scale.min}-{scale.max})", "bands")
    for key in layer.anchors or {}:
        if not scale.min <= key <= scale.max:
            problem(f"anchor {key} lies outside the scale {scale.min}-{scale.max}", "anchors")
    if layer.unsure is False:
        return problems
    own = layer.unsure is not None
    unsure = layer.unsure or inherited.unsure
    bands = layer.bands if layer.bands is not None else inherited.bands
    if own or layer.scale is not None or layer.bands is not None:
        problems += _unsure_problems(unsure, scale, bands, loc, own)
    return problems


def _unsure_problems(unsure: Unsure | None, scale: Scale, bands: Sequence[Band],
                     loc: tuple[str | int, ...], own: bool) -> list[Problem]:
    """The unsure code is no scale value; its band is one of the bands."""
    if unsure is None:
        return []
    problems = []
    inherited = "" if own else " (inherited; set unsure here, or unsure: false)"
    try:
        number: float | None = float(unsure.code)  # "7", "07" and "7.0" all read as 7
    except ValueError:
        number = None
    if number is not None and scale.min <= number <= scale.max and number.is_integer():
        where = loc + (("unsure", "code") if own else ("scale",))
        problems.append(Problem(
            f"the unsure code {unsure.code!r} is also a value of the scale "
            f"{scale.min}-{scale.max}, so a return could not tell them apart{inherited}",
            field=dotted(where), loc=where))
    names = [b.name for b in bands]
    if unsure.band is not None and unsure.band not in names:
        where = loc + (("unsure", "band") if own else ("bands",))
        problems.append(Problem(
            f"unsure band {unsure.band!r} is not one of the bands ({', '.join(names)})"
            f"{inherited}", field=dotted(where), loc=where))
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
