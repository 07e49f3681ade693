"""Analysis of one round: statistics per item, overall and per stakeholder group.

:func:`analyse_round` takes what the store has loaded (settings, the round's manifest, the
roster and the returns) and gives a :class:`RoundResult`, whose JSON form is the contract's
``delphi analyse --json`` object.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import chain
from typing import Any

from pydantic import BaseModel, ConfigDict

from delphi.core.models import ConsensusRule, Manifest, PanelReturn, Roster, RuleName, Settings
from delphi.core.rules import item_verdict, verdict
from delphi.core.stability import Stability, stability
from delphi.core.stats import Summary, diverges, quantile, rank, summarise


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
    rules: dict[str, str | None] | None = None
    stability: Stability | None = None


class RoundResult(BaseModel):
    """Everything ``delphi analyse`` computes for one round."""

    model_config = ConfigDict(frozen=True)

    study: str
    round: int
    response: Response
    items: list[ItemResult]
    quartiles: str
    consensus_rule: dict[str, Any]
    stability_rule: dict[str, Any]
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
                     "divergent": it.divergent, "rank": it.rank, "text": it.text,
                     "stability": (it.stability.model_dump(by_alias=True) if it.stability
                                   else None)}
            if it.rules is not None:
                entry["rules"] = dict(it.rules)
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
            "stability_rule": self.stability_rule,
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
                  returns: Sequence[PanelReturn],
                  previous: tuple[int, Sequence[PanelReturn]] | None = None,
                  rules: Sequence[RuleName] = ()) -> RoundResult:
    """Statistics of a round, computed against what its manifest says was asked.

    ``previous`` (the previous round's number and returns) adds each item's stability since
    then; ``rules`` adds each item's verdict under those consensus rules, side by side.
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

    # counts[item][group][rating]: per group, one Counter over its (item, rating) pairs,
    # which Counter tallies in C, then spread out by item.
    by_group: dict[str, list[PanelReturn]] = defaultdict(list)
    for ret in returns:
        by_group[group_of[ret.code]].append(ret)
    counts: dict[str, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for group, members in by_group.items():
        pairs = Counter(chain.from_iterable(ret.ratings.items() for ret in members))
        for (item_id, rating), n in pairs.items():
            if rating is not None:
                counts[item_id][group][rating] = n

    rule = settings.consensus
    bands, threshold, method = settings.bands, rule.threshold, settings.quartiles
    items: list[ItemResult] = []
    for item in manifest.items:
        per_group = counts.get(item.id, {})
        overall: Counter[int] = Counter()
        for c in per_group.values():
            overall.update(c)
        group_stats = {}
        for g in groups:
            summary = summarise(per_group.get(g, {}), bands, threshold, method)
            if rule.rule != "banded":
                summary = summary.model_copy(update={"consensus": verdict(
                    rule.rule, rule, per_group.get(g, {}), bands, method)})
            group_stats[g] = GroupStats(**summary.model_dump())
        summary = summarise(overall, bands, threshold, method)
        summary = summary.model_copy(update={"consensus": item_verdict(
            rule.rule, rule, overall, per_group, bands, method)})
        side_by_side = None
        if rules:
            side_by_side = {
                name: item_verdict(name, rule if name == rule.rule else
                                   ConsensusRule(rule=name, scope=rule.scope),
                                   overall, per_group, bands, method)
                for name in rules}
        items.append(ItemResult(
            **summary.model_dump(), id=item.id, section=item.section, kind=item.kind,
            text=item.text, groups=group_stats,
            divergent=diverges((s.median for s in group_stats.values()),
                               settings.divergence.threshold),
            rank=None, rules=side_by_side,
        ))

    items = _with_ranks(items, groups)
    if previous is not None:
        items = _with_stability(items, returns, previous, settings)
    return RoundResult(
        study=manifest.study, round=manifest.round, response=response, items=items,
        quartiles=method, consensus_rule=settings.consensus.model_dump(),
        stability_rule=settings.stability.in_force(),
        divergence_threshold=settings.divergence.threshold, manifest_hash=manifest.hash,
    )


def _with_stability(items: list[ItemResult], returns: Sequence[PanelReturn],
                    previous: tuple[int, Sequence[PanelReturn]],
                    settings: Settings) -> list[ItemResult]:
    """Add stability since the previous round to the items it asked too."""
    previous_round, earlier = previous
    before: dict[str, dict[str, int]] = defaultdict(dict)
    for ret in earlier:
        for item_id, rating in ret.ratings.items():
            if rating is not None:
                before[item_id][ret.code] = rating
    out = []
    for item in items:
        old = before.get(item.id)
        if not old:
            out.append(item)
            continue
        new = {r.code: r.ratings[item.id] for r in returns
               if r.ratings.get(item.id) is not None}
        pairs = [(old[c], v) for c, v in new.items() if c in old and v is not None]
        previous_median = quantile(Counter(old.values()), 0.5, settings.quartiles)
        item_stability = stability(previous_round, pairs, previous_median, settings.bands,
                                   settings.stability)
        out.append(item.model_copy(update={"stability": item_stability}))
    return out


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
