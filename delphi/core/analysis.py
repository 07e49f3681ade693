"""Analysis of one round: statistics per question, overall and per stakeholder group.

:func:`analyse_round` takes what the store has loaded (settings, the round's manifest, the
roster and the returns) and gives a :class:`RoundResult`, whose JSON form is the contract's
``delphi analyse --json`` object.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from pydantic import BaseModel, ConfigDict

from delphi.core.answers import Question, RatingSpec, answer_key, questions
from delphi.core.models import ConsensusRule, Manifest, PanelReturn, Roster, RuleName, Settings
from delphi.core.rules import choice_consensus, item_verdict, verdict
from delphi.core.stability import Stability, stability
from delphi.core.stats import (
    Summary,
    Tally,
    choice_shares,
    diverges,
    quantile,
    rank,
    summarise,
)


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
    """An item's statistics within one group, with its rank within that group.

    ``options``: a choice's share of each option (``None`` for other kinds).
    """

    rank: int | None = None
    options: dict[str, float | None] | None = None


class ItemResult(Summary):
    """One entry of the results: an item, or one dimension of an item, overall and per group.

    Rating and ranking entries fill the :class:`~delphi.core.stats.Summary` fields; a choice
    fills ``n`` (those who chose), ``options`` (each option's share of ``n``) and
    ``consensus`` (an option id); an open question ``n`` (answers given) alone.
    """

    id: str
    section: str
    kind: str
    text: str
    dimension: str | None = None
    options: dict[str, float | None] | None = None
    groups: dict[str, GroupStats]
    divergent: bool
    rank: int | None
    rules: dict[str, str | None] | None = None
    stability: Stability | None = None

    @property
    def key(self) -> str:
        """The answer key: the item id, or ``<item id>/<dimension id>``."""
        return answer_key(self.id, self.dimension)

    @property
    def judged(self) -> bool:
        """Whether the entry can reach consensus (ratings and choices; not rankings, open)."""
        return self.kind in ("rating", "choice")

    def to_json(self) -> dict[str, Any]:
        """The entry as the contract's ``items`` show it."""
        head: dict[str, Any] = {"id": self.id, "section": self.section, "kind": self.kind}
        if self.dimension is not None:
            head["dimension"] = self.dimension
        if self.kind == "open":
            return {**head, "n": self.n, "groups": {g: {"n": s.n} for g, s in self.groups.items()},
                    "text": self.text}
        if self.kind == "choice":
            def choice(s: Summary, options: dict[str, float | None] | None) -> dict[str, Any]:
                return {"n": s.n, "options": dict(options or {}), "consensus": s.consensus}
            return {**head, **choice(self, self.options),
                    "groups": {g: choice(s, s.options) for g, s in self.groups.items()},
                    "text": self.text, "stability": None}
        entry = {**head, **_stats(self),
                 "groups": {g: {**_stats(s), "rank": s.rank} for g, s in self.groups.items()},
                 "divergent": self.divergent, "rank": self.rank, "text": self.text,
                 "stability": (self.stability.model_dump(by_alias=True) if self.stability
                               else None)}
        if self.rules is not None:
            entry["rules"] = dict(self.rules)
        return entry


def _stats(s: Summary) -> dict[str, Any]:
    return {"n": s.n, "unsure": s.unsure, "denominator": s.denominator, "median": s.median,
            "q1": s.q1, "q3": s.q3, "iqr": s.iqr, "mean": s.mean, "bands": dict(s.bands),
            "consensus": s.consensus}


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
        return {
            "study": self.study,
            "round": self.round,
            "response": {
                "invited": self.response.invited, "returned": self.response.returned,
                "groups": {g: {"invited": r.invited, "returned": r.returned}
                           for g, r in self.response.groups.items()},
            },
            "items": [it.to_json() for it in self.items],
            "quartiles": self.quartiles,
            "consensus_rule": self.consensus_rule,
            "stability_rule": self.stability_rule,
            "divergence": {"threshold": self.divergence_threshold},
            "manifest_hash": self.manifest_hash,
        }

    def consensus_counts(self) -> tuple[int, int, dict[str, int]]:
        """(rating and choice entries, those with consensus, how many per band or option)."""
        rating = [i for i in self.items if i.judged]
        reached = [i for i in rating if i.consensus]
        per_band = Counter(i.consensus for i in reached if i.consensus)
        return len(rating), len(reached), dict(per_band)

    def summary_line(self, band_order: Sequence[str]) -> str:
        """E.g. ``10 of 49 items reached consensus: 9 agree, 1 disagree``.

        Bands and options not in ``band_order`` follow in the order first reached.
        """
        total, reached, per_band = self.consensus_counts()
        noun = "item" if total == 1 else "items"
        line = f"{reached} of {total} {noun} reached consensus"
        order = list(band_order) + [b for b in per_band if b not in band_order]
        parts = [f"{per_band[b]} {b}" for b in order if per_band.get(b)]
        return line + (": " + ", ".join(parts) if parts else "")


def analyse_round(settings: Settings, manifest: Manifest, roster: Roster,
                  returns: Sequence[PanelReturn],
                  previous: tuple[int, Sequence[PanelReturn]] | None = None,
                  rules: Sequence[RuleName] = ()) -> RoundResult:
    """Statistics of a round, computed against what its manifest says was asked.

    One entry per question (:func:`~delphi.core.answers.questions`): an item, or one dimension
    of an item. ``previous`` (the previous round's number and returns) adds each rating's
    stability since then; ``rules`` adds each rating's verdict under those consensus rules,
    side by side. Returns from codes that were not invited, or answers to questions that were
    not asked, are rejected by the store before they reach this function.
    """
    group_of = {p.code: p.group for p in roster.panellists}
    tallies = _Tallies.of(returns, group_of)
    groups = settings.group_ids
    asked = questions(settings, manifest)
    items = [_entry(q, tallies, settings, rules) for q in asked]
    items = _with_ranks(items, groups)
    if previous is not None:
        items = _with_stability(items, returns, previous, settings,
                                {q.key: q.rating for q in asked})
    return RoundResult(
        study=manifest.study, round=manifest.round,
        response=_response(manifest, group_of, groups, returns), items=items,
        quartiles=settings.quartiles, consensus_rule=_rule_in_force(settings),
        stability_rule=settings.stability.in_force(),
        divergence_threshold=settings.divergence.threshold, manifest_hash=manifest.hash,
    )


def _rule_in_force(settings: Settings) -> dict[str, Any]:
    """The consensus settings as results record them.

    ``strict`` only when set, so the results of a study that does not use it read as before.
    """
    rule = settings.consensus.model_dump()
    if not rule["strict"]:
        del rule["strict"]
    return rule


def _response(manifest: Manifest, group_of: Mapping[str, str], groups: Sequence[str],
              returns: Sequence[PanelReturn]) -> Response:
    """Invited and returned, overall and per group."""
    invited = list(manifest.invited)
    returned_codes = {r.code for r in returns}
    invited_by_group = Counter(group_of[c] for c in invited)
    returned_by_group = Counter(group_of[c] for c in invited if c in returned_codes)
    return Response(
        invited=len(invited), returned=len(returned_codes & set(invited)),
        groups={g: GroupResponse(invited=invited_by_group[g], returned=returned_by_group[g])
                for g in groups},
    )


@dataclass(frozen=True)
class _Tallies:
    """Every answer of a round counted by answer key and group.

    ``ratings[key][group][rating]``, ``unsure[key][group]``, ``chosen[key][group][option]``,
    ``texts[key][group]``.
    """

    ratings: dict[str, dict[str, Counter[int]]]
    unsure: dict[str, Counter[str]]
    chosen: dict[str, dict[str, Counter[str]]]
    texts: dict[str, Counter[str]]

    @staticmethod
    def of(returns: Sequence[PanelReturn], group_of: Mapping[str, str]) -> _Tallies:
        """Count every answer.

        Per group, one Counter over its (key, answer) pairs, which Counter tallies in C, then
        spread out by key.
        """
        by_group: dict[str, list[PanelReturn]] = defaultdict(list)
        for ret in returns:
            by_group[group_of[ret.code]].append(ret)
        tallies = _Tallies(defaultdict(lambda: defaultdict(Counter)), defaultdict(Counter),
                           defaultdict(lambda: defaultdict(Counter)), defaultdict(Counter))
        for group, members in by_group.items():
            pairs = Counter(chain.from_iterable(ret.ratings.items() for ret in members))
            for (key, rating), n in pairs.items():
                if rating is not None:
                    tallies.ratings[key][group][rating] = n
            for key in chain.from_iterable(ret.unsure for ret in members):
                tallies.unsure[key][group] += 1
            for (key, option), n in Counter(chain.from_iterable(
                    ret.choices.items() for ret in members)).items():
                tallies.chosen[key][group][option] = n
            for key in chain.from_iterable(ret.texts for ret in members):
                tallies.texts[key][group] += 1
        return tallies

    def rating(self, key: str, group: str | None = None) -> Tally:
        """The answers to one rating question, of the whole panel or of one group."""
        per_group = self.ratings.get(key, {})
        unsure = self.unsure.get(key, Counter())
        if group is not None:
            return Tally(per_group.get(group, Counter()), unsure[group])
        overall: Counter[int] = Counter()
        for counts in per_group.values():
            overall.update(counts)
        return Tally(overall, sum(unsure.values()))


def _entry(question: Question, tallies: _Tallies, settings: Settings,
           rules: Sequence[RuleName]) -> ItemResult:
    """The results entry of one question."""
    if question.kind == "choice":
        return _choice_entry(question, tallies, settings)
    if question.kind == "open":
        return _open_entry(question, tallies, settings)
    return _rating_entry(question, tallies, settings, rules)


def _head(question: Question) -> dict[str, Any]:
    return {"id": question.item, "section": question.section, "kind": question.kind,
            "text": question.text, "dimension": question.dimension, "rank": None}


def _rating_entry(question: Question, tallies: _Tallies, settings: Settings,
                  rules: Sequence[RuleName]) -> ItemResult:
    """A rating or ranking question: statistics, consensus by the study's rule, side rules."""
    spec = question.rating
    assert spec is not None  # rating and ranking questions have one
    rule, method, bands, unsure = settings.consensus, settings.quartiles, spec.bands, spec.unsure
    per_group = {g: tallies.rating(question.key, g) for g in settings.group_ids}
    overall = tallies.rating(question.key)

    def judged(answers: Tally, scope_groups: Mapping[str, Tally] | None) -> Summary:
        summary = summarise(answers, bands, method, unsure)
        consensus = (item_verdict(rule.rule, rule, answers, scope_groups, bands, method, unsure)
                     if scope_groups is not None
                     else verdict(rule.rule, rule, answers, bands, method, unsure=unsure))
        return summary.model_copy(update={"consensus": consensus})

    group_stats = {g: GroupStats(**judged(t, None).model_dump()) for g, t in per_group.items()}
    side_by_side = None
    if rules:
        side_by_side = {
            name: item_verdict(name, rule if name == rule.rule else
                               ConsensusRule(rule=name, scope=rule.scope, strict=rule.strict),
                               overall, per_group, bands, method, unsure)
            for name in rules}
    return ItemResult(
        **judged(overall, per_group).model_dump(), **_head(question), groups=group_stats,
        divergent=diverges((s.median for s in group_stats.values()),
                           spec.divergence.threshold),
        rules=side_by_side)


def _choice_entry(question: Question, tallies: _Tallies, settings: Settings) -> ItemResult:
    """A choice: each option's share of those who chose, and the option at consensus."""
    options = question.option_ids()
    chosen = tallies.chosen.get(question.key, {})

    def summary(counts: Mapping[str, int],
                groups: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, Any]:
        n = sum(counts.get(o, 0) for o in options)
        return {"n": n, "denominator": n, "median": None, "q1": None, "q3": None,
                "iqr": None, "mean": None, "bands": {},
                "options": choice_shares(counts, options),
                "consensus": choice_consensus(counts, options, settings.consensus, groups)}

    overall: Counter[str] = Counter()
    for counts in chosen.values():
        overall.update(counts)
    return ItemResult(
        **summary(overall, chosen), **_head(question), divergent=False,
        groups={g: GroupStats(**summary(chosen.get(g, Counter())))
                for g in settings.group_ids})


def _open_entry(question: Question, tallies: _Tallies, settings: Settings) -> ItemResult:
    """An open question: how many answered, overall and per group."""
    given = tallies.texts.get(question.key, Counter())

    def summary(n: int) -> dict[str, Any]:
        return {"n": n, "denominator": n, "median": None, "q1": None, "q3": None,
                "iqr": None, "mean": None, "bands": {}}

    return ItemResult(**summary(sum(given.values())), **_head(question), divergent=False,
                      groups={g: GroupStats(**summary(given[g])) for g in settings.group_ids})


def _with_stability(items: list[ItemResult], returns: Sequence[PanelReturn],
                    previous: tuple[int, Sequence[PanelReturn]], settings: Settings,
                    specs: Mapping[str, RatingSpec | None]) -> list[ItemResult]:
    """Add stability since the previous round to the rating questions it asked too.

    ``specs`` holds each question's rating settings by answer key. Pairs are the panellists
    with a numeric rating under the same answer key in both rounds: an "unsure" answer is no
    point on the scale, so it enters no pair.
    """
    previous_round, earlier = previous
    before: dict[str, dict[str, int]] = defaultdict(dict)
    for ret in earlier:
        for key, rating in ret.ratings.items():
            if rating is not None:
                before[key][ret.code] = rating
    out = []
    for item in items:
        old, spec = before.get(item.key), specs.get(item.key)
        if not old or item.kind != "rating" or spec is None:
            out.append(item)
            continue
        pairs = [(old[r.code], v) for r in returns
                 if (v := r.ratings.get(item.key)) is not None and r.code in old]
        previous_median = quantile(Counter(old.values()), 0.5, settings.quartiles)
        item_stability = stability(previous_round, pairs, previous_median, spec.bands,
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
