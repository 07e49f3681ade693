"""The round engine: which items a round asks, written down as its manifest."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.analysis import RoundResult
from delphi.core.answers import answer_key, resolve, split_key
from delphi.core.history import first_consensus
from delphi.core.models import (
    ItemBank,
    Manifest,
    ManifestItem,
    ManifestSection,
    Roster,
    Section,
    Settings,
)
from delphi.errors import DelphiError, Problem


def build_manifest(settings: Settings, bank: ItemBank, roster: Roster, round_no: int,
                   exclude: Collection[str] = ()) -> Manifest:
    """The manifest of round ``round_no``: items asked, in bank order, and invited codes.

    An item is asked when its section is asked in that round, it was introduced in or before
    that round, and it is not in ``exclude`` (items that reached consensus earlier, say).
    ``exclude`` may also name answer keys ``<item id>/<dimension id>``: such an item is asked
    with its other dimensions only, and not at all once every dimension is excluded. Its
    text is the wording in force in that round. Every panellist on the roster is invited,
    except those who withdrew before that round (see ``Panellist.invited_to``).
    """
    sections: list[ManifestSection] = []
    items: list[ManifestItem] = []
    for section in bank.sections:
        if not section.asked_in(round_no):
            continue
        asked = [(item, dims) for item in section.items
                 if item.introduced <= round_no and item.id not in exclude
                 for dims in [_dimensions_asked(section, item.id, exclude)] if dims != []]
        if not asked:
            continue
        sections.append(ManifestSection(
            id=section.id, title=section.title, kind=section.kind, intro=section.intro,
            anchors=(resolve(settings, section).anchors
                     if section.kind in ("rating", "ranking") else {}),
            scale=section.scale, bands=section.bands, unsure=section.unsure,
            divergence=section.divergence, dimensions=section.dimensions,
            options=section.options))
        for item, dims in asked:
            text = item.text_in(round_no)
            items.append(ManifestItem(
                id=item.id, section=section.id, kind=section.kind, text=text, dimensions=dims,
                hash=ManifestItem.hash_of(item.id, section.id, section.kind, text, dims)))
    invited = [p.code for p in roster.panellists if p.invited_to(round_no)]
    return Manifest(study=settings.title, round=round_no, sections=sections, items=items,
                    invited=invited,
                    hash=Manifest.hash_of(settings.title, round_no, sections, items, invited))


def _dimensions_asked(section: Section, item_id: str,
                      exclude: Collection[str]) -> list[str] | None:
    """The dimensions of an item still to ask: ``None`` for all (or none defined)."""
    if not section.dimensions:
        return None
    left = [d.id for d in section.dimensions if answer_key(item_id, d.id) not in exclude]
    return None if len(left) == len(section.dimensions) else left


class RoundPlan(BaseModel):
    """What the round engine decided for a new round, and why."""

    model_config = ConfigDict(frozen=True)

    manifest: Manifest
    dropped: dict[str, str]
    added: list[str]
    reworded: list[str]
    kept: list[str]


def plan_round(settings: Settings, bank: ItemBank, roster: Roster, round_no: int,
               earlier: Sequence[RoundResult], keep: Collection[str] = (),
               drop: Collection[str] = ()) -> RoundPlan:
    """Decide round ``round_no`` from the results of the rounds before it.

    Rating and choice items that reached overall consensus in any earlier round drop out; a
    statement with dimensions is asked again with only its dimensions not yet at consensus,
    and drops out once every dimension has reached it. Ranking and open sections follow their
    ``rounds``; items introduced in this round join; revisions for this round change the
    wording. ``keep`` asks again items (or ``<item>/<dimension>``) that reached consensus;
    ``drop`` leaves out items (or one dimension) that did not.
    """
    if not bank.items():
        raise DelphiError(Problem("the item bank has no statements yet: add them with 'delphi "
                                  "items import FILE' or by hand", file=", ".join(
                                      settings.item_bank_files)))
    if not any(p.invited_to(round_no) for p in roster.panellists):
        raise DelphiError(Problem(
            "there is nobody to invite: " + ("every panellist has withdrawn" if
                                             roster.panellists else
                                             "the roster has no panellists yet; add them with "
                                             "'delphi panel import FILE' or by hand"),
            file=", ".join(settings.roster_files)))
    known = {item.id for _, item in bank.items()} | {
        answer_key(item.id, d.id) for s in bank.sections for item in s.items
        for d in s.dimensions or ()}
    for option, ids in (("--keep", keep), ("--drop", drop)):
        unknown = sorted(set(ids) - known)
        if unknown:
            raise DelphiError(Problem(f"{option} {unknown[0]}: no such item in the item bank"))
    both = sorted(set(keep) & set(drop))
    if both:
        raise DelphiError(Problem(f"item {both[0]} is given to both --keep and --drop"))

    need_stable = settings.stability.required
    reached = {r.item.key: f"consensus ({r.band}) {'and stable ' if need_stable else ''}in "
                           f"round {r.round}" for r in first_consensus(earlier, stable=need_stable)}
    dropped = {k: why for k, why in reached.items()
               if k not in keep and split_key(k)[0] not in keep}
    dropped.update({i: "dropped by the coordinator (--drop)" for i in drop})
    manifest = build_manifest(settings, bank, roster, round_no, exclude=dropped)
    asked = set(manifest.item_ids())
    bank_items = dict((item.id, item) for _, item in bank.items())
    return RoundPlan(
        manifest=manifest,
        dropped=dropped,
        added=[i for i in manifest.item_ids() if bank_items[i].introduced == round_no > 1],
        reworded=[i for i in manifest.item_ids() if round_no > 1
                  and bank_items[i].text_in(round_no) != bank_items[i].text_in(round_no - 1)],
        kept=sorted(k for k in set(keep) if any(k in (r, split_key(r)[0]) for r in reached)
                    and split_key(k)[0] in asked),
    )
