"""Analysis of one round: statistics per item, overall and per stakeholder group.

:func:`analyse_round` takes what the store has loaded (settings, the round's manifest, the
roster and the returns) and gives a :class:`RoundResult`, whose JSON form is the contract's
``delphi analyse --json`` object.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Manifest, PanelReturn, Roster, Settings
from delphi.core.stats import Summary, diverges, rank, summarise


class GroupResponse(BaseModel):
    """Invited and returned counts of one group (or of the whole panel)."""

    model_config = ConfigDict(frozen=True)

    invited: int
    returned: int

    @property
    def rate(self) -> float | None:
        """Share of the invited who returned, or ``None`` if nobody was invited."""
        return self.returned / self.invited if self.invited else None


class Response(GroupResponse):
    """Response counts overall and per group."""

    groups: dict[str, GroupResponse]


class GroupStats(Summary):
    """An item's statistics within one group, with its rank within that group."""

    rank: int | None = None


class ItemResult(Summary):
    """An item's statistics overall and per group."""

    id: str
    section: str
    kind: str
    text: str
    groups: dict[str, GroupStats]
    divergent: bool
    rank: int | None


class RoundResult(BaseModel):
    """Everything ``delphi analyse`` computes for one round."""

    model_config = ConfigDict(frozen=True)

    study: str
    round: int
    response: Response
    items: list[ItemResult]
    quartiles: str
    consensus_rule: dict[str, Any]
    divergence_threshold: float
    manifest_hash: str

    def to_json(self) -> dict[str, Any]:
        """The contract's object, keys in the documented order."""
        def stats(s: Summary) -> dict[str, Any]:
            return {"n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "iqr": s.iqr,
                    "mean": s.mean, "bands": dict(s.bands), "consensus": s.consensus}

        items = []
        for it in self.items:
            entry = {"id": it.id, "section": it.section, "kind": it.kind, **stats(it),
                     "groups": {g: {**stats(gs), "rank": gs.rank} for g, gs in it.groups.items()},
                     "divergent": it.divergent, "rank": it.rank, "text": it.text}
            items.append(entry)
        return {
            "study": self.study,
            "round": self.round,
            "response": {
                "invited": self.response.invited, "returned": self.response.returned,
                "groups": {g: {"invited": r.invited, "returned": r.returned}
                           for g, r in self.response.groups.items()},
            },
            "items": items,
            "quartiles": self.quartiles,
            "consensus_rule": self.consensus_rule,
            "divergence": {"threshold": self.divergence_threshold},
            "manifest_hash": self.manifest_hash,
        }

    def consensus_counts(self) -> tuple[int, int, dict[str, int]]:
        """(rating items, items with consensus, consensus items per band)."""
        rating = [i for i in self.items if i.kind == "rating"]
        reached = [i for i in rating if i.consensus]
        per_band = Counter(i.consensus for i in reached if i.consensus)
        return len(rating), len(reached), dict(per_band)

    def summary_line(self, band_order: Sequence[str]) -> str:
        """E.g. ``10 of 49 items reached consensus: 9 agree, 1 disagree``."""
        total, reached, per_band = self.consensus_counts()
        noun = "item" if total == 1 else "items"
        line = f"{reached} of {total} {noun} reached consensus"
        parts = [f"{per_band[b]} {b}" for b in band_order if per_band.get(b)]
        return line + (": " + ", ".join(parts) if parts else "")


def analyse_round(settings: Settings, manifest: Manifest, roster: Roster,
                  returns: Sequence[PanelReturn]) -> RoundResult:
    """Statistics of a round, computed against what its manifest says was asked.

    Returns from codes that were not invited, or ratings of items that were not asked, are
    rejected by the store before they reach this function.
    """
    group_of = {p.code: p.group for p in roster.panellists}
    groups = settings.group_ids
    invited = list(manifest.invited)
    returned_codes = {r.code for r in returns}

    invited_by_group = Counter(group_of[c] for c in invited)
    returned_by_group = Counter(group_of[c] for c in invited if c in returned_codes)
    response = Response(
        invited=len(invited), returned=len(returned_codes & set(invited)),
        groups={g: GroupResponse(invited=invited_by_group[g], returned=returned_by_group[g])
                for g in groups},
    )

    # counts[item][group][rating]: one pass over all ratings.
    counts: dict[str, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for ret in returns:
        group = group_of[ret.code]
        for item_id, rating in ret.ratings.items():
            if rating is not None:
                counts[item_id][group][rating] += 1

    bands, threshold, method = settings.bands, settings.consensus.threshold, settings.quartiles
    items: list[ItemResult] = []
    for item in manifest.items:
        per_group = counts.get(item.id, {})
        overall: Counter[int] = Counter()
        for c in per_group.values():
            overall.update(c)
        group_stats = {g: GroupStats(**summarise(per_group.get(g, {}), bands, threshold,
                                                 method).model_dump()) for g in groups}
        summary = summarise(overall, bands, threshold, method)
        items.append(ItemResult(
            **summary.model_dump(), id=item.id, section=item.section, kind=item.kind,
            text=item.text, groups=group_stats,
            divergent=diverges((s.median for s in group_stats.values()),
                               settings.divergence.threshold),
            rank=None,
        ))

    items = _with_ranks(items, groups)
    return RoundResult(
        study=manifest.study, round=manifest.round, response=response, items=items,
        quartiles=method, consensus_rule=settings.consensus.model_dump(),
        divergence_threshold=settings.divergence.threshold, manifest_hash=manifest.hash,
    )


def _with_ranks(items: list[ItemResult], groups: Sequence[str]) -> list[ItemResult]:
    """Rank the options of each ranking section, overall and within each group."""
    by_section: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        if item.kind == "ranking":
            by_section[item.section].append(index)
    items = list(items)
    for indexes in by_section.values():
        overall = rank((i, items[i].median, items[i].mean) for i in indexes)
        per_group = {g: rank((i, items[i].groups[g].median, items[i].groups[g].mean)
                             for i in indexes) for g in groups}
        for i in indexes:
            new_groups = {g: items[i].groups[g].model_copy(update={"rank": per_group[g][i]})
                          for g in groups}
            items[i] = items[i].model_copy(update={"rank": overall[i], "groups": new_groups})
    return items
