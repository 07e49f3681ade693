"""The study's final report, as data.

Everything section 6 of the reference study reports, computed from the rounds' manifests,
returns and results. Rendering is elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.analysis import ItemResult, RoundResult
from delphi.core.answers import answer_key, questions_by_key
from delphi.core.feedback import EarlierConsensus, earlier_consensus
from delphi.core.history import first_consensus, latest_rankings
from delphi.core.models import Manifest, PanelReturn, Roster, Settings
from delphi.core.rules import RULES
from delphi.core.stability import Stability
from delphi.core.status import Attrition, Counts, round_status
from delphi.core.subgroups import Finding, adjusted, subgroup_findings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RoundResponse(_Frozen):
    """Response in one round, overall and per group."""

    round: int
    overall: Counts
    groups: dict[str, Counts]


class Totals(_Frozen):
    """How many rating items were asked and reached consensus, by band."""

    asked: int
    reached: int
    share: float | None
    by_band: dict[str, int]


class RankedRow(_Frozen):
    """A ranking option: median and mean per group and overall, with its rank."""

    id: str
    text: str
    rank: int | None
    median: float | None
    mean: float | None
    groups: dict[str, tuple[float | None, float | None, int | None]]


class RankingBlock(_Frozen):
    """A ranking section's results from the last round it was asked in."""

    section: str
    title: str
    round: int
    rows: list[RankedRow]


class GroupConsensus(_Frozen):
    """An item that reached consensus within one stakeholder group (Appendix 4)."""

    id: str
    text: str
    round: int
    band: str
    dimension: str | None = None

    @property
    def key(self) -> str:
        """The item id, or ``<item id>/<dimension id>`` for one dimension of a statement."""
        return answer_key(self.id, self.dimension)


class LowConsensus(_Frozen):
    """An item that never reached consensus, with its last round's band shares."""

    id: str
    text: str
    round: int
    bands: dict[str, float | None]
    dimension: str | None = None

    @property
    def key(self) -> str:
        """The item id, or ``<item id>/<dimension id>`` for one dimension of a statement."""
        return answer_key(self.id, self.dimension)


class Divergence(_Frozen):
    """An item on which the groups' medians diverged in a round."""

    id: str
    text: str
    round: int
    medians: dict[str, float | None]
    dimension: str | None = None

    @property
    def key(self) -> str:
        """The item id, or ``<item id>/<dimension id>`` for one dimension of a statement."""
        return answer_key(self.id, self.dimension)


class StabilityRow(_Frozen):
    """An item's stability in a round since the round before."""

    id: str
    text: str
    round: int
    figures: Stability


class RoundStability(_Frozen):
    """How many of the items asked in a round and the one before were stable."""

    round: int
    previous_round: int
    items: int
    stable: int


class DimensionRow(_Frozen):
    """A statement rated on several dimensions: each dimension's verdict, round and share."""

    id: str
    text: str
    verdicts: dict[str, tuple[str | None, int, float | None]]  # dimension id: (band, round, share)


class DimensionTable(_Frozen):
    """A section whose statements are rated on several dimensions, side by side."""

    section: str
    title: str
    dimensions: dict[str, str]  # dimension id: label, in the section's order
    rows: list[DimensionRow]


class ChoiceResult(_Frozen):
    """A choice in the last round it was asked: each option's share and the verdict."""

    id: str
    text: str
    round: int
    n: int
    options: dict[str, float | None]  # option label: share of those who chose
    consensus: str | None  # the option label holding the threshold


class OpenAnswer(_Frozen):
    """An answer to an open question, with the panellist's comment on it (no code)."""

    round: int
    id: str
    question: str
    answer: str
    comment: str | None


class ReportData(_Frozen):
    """Everything ``delphi report`` shows, as data.

    ``delphi/render/report.py`` words it in the panel's language (the methods paragraph, the
    checklist, the subgroup findings, the stability section).
    """

    study: str
    rounds: list[int]
    settings: Settings
    response: list[RoundResponse]
    flow: list[Attrition]
    consensus: list[EarlierConsensus]
    totals: Totals
    rankings: list[RankingBlock]
    group_consensus: dict[str, list[GroupConsensus]]
    lowest: LowConsensus | None
    under_half: list[LowConsensus]
    divergent: list[Divergence]
    rules: dict[str, int]
    subgroups: list[Finding]
    notable: list[Finding]
    items_added: dict[int, list[str]]
    items_reworded: dict[int, list[str]]
    dimension_tables: list[DimensionTable] = []
    choices: list[ChoiceResult] = []
    open_answers: list[OpenAnswer] = []
    stability: list[StabilityRow] = []

    def stability_counts(self) -> list[RoundStability]:
        """Per round from round 2 on, the items with a stability figure and the stable ones."""
        rounds: dict[int, list[StabilityRow]] = {}
        for row in self.stability:
            rounds.setdefault(row.round, []).append(row)
        return [RoundStability(round=r, previous_round=rows[0].figures.previous_round,
                               items=len(rows), stable=sum(1 for x in rows if x.figures.stable))
                for r, rows in sorted(rounds.items())]


def _response(settings: Settings, roster: Roster, manifests: Mapping[int, Manifest],
              returns: Mapping[int, Sequence[PanelReturn]],
              rounds: Sequence[int]) -> list[RoundResponse]:
    """Response per round, overall and per group."""
    response = []
    for r in rounds:
        s = round_status(settings, roster, manifests, returns, r)
        response.append(RoundResponse(round=r, overall=s.overall, groups=s.groups))
    return response


def _totals(settings: Settings, ordered: Sequence[RoundResult],
            reached: Sequence[EarlierConsensus]) -> Totals:
    """How many ratings and choices were asked and how many reached consensus.

    By band or option; a statement's dimensions count apart, as they reach consensus apart.
    """
    judged = {i.key for r in ordered for i in r.items if i.judged}
    names = dict.fromkeys([*(b.name for b in settings.bands), *(e.band for e in reached)])
    by_band = {name: sum(1 for e in reached if e.band == name) for name in names}
    return Totals(asked=len(judged), reached=len(reached),
                  share=len(reached) / len(judged) if judged else None,
                  by_band=by_band)


def _rankings(manifests: Mapping[int, Manifest],
              ordered: Sequence[RoundResult]) -> list[RankingBlock]:
    """Each ranking section's results from the last round it was asked in."""
    titles = {s.id: s.title for m in manifests.values() for s in m.sections}
    return [RankingBlock(
        section=rows[0].section, title=titles.get(rows[0].section, rows[0].section),
        round=round_no,
        rows=[RankedRow(id=i.id, text=i.text, rank=i.rank, median=i.median, mean=i.mean,
                        groups={g: (s.median, s.mean, s.rank) for g, s in i.groups.items()})
              for i in rows]) for round_no, rows in latest_rankings(ordered)]


def _group_consensus(settings: Settings,
                     ordered: Sequence[RoundResult]) -> dict[str, list[GroupConsensus]]:
    """Per group, the rating items that reached consensus within it, first round only."""
    return {g: [GroupConsensus(id=r.item.id, text=r.item.text, round=r.round, band=r.band,
                               dimension=r.item.dimension)
                for r in first_consensus(ordered, group=g)] for g in settings.group_ids}


def _last_seen(ordered: Sequence[RoundResult]) -> dict[str, tuple[int, ItemResult]]:
    """Each item's (each dimension's) result in the last round that asked it, with that round.

    Keyed by answer key.
    """
    return {item.key: (result.round, item) for result in ordered for item in result.items}


def _without_consensus(last_seen: Mapping[str, tuple[int, ItemResult]],
                       reached: Sequence[EarlierConsensus]
                       ) -> tuple[LowConsensus | None, list[LowConsensus]]:
    """The item with the lowest consensus, and those under 50 % in every band."""
    done = {e.key for e in reached}
    low = [LowConsensus(id=i.id, text=i.text, round=r, bands=dict(i.bands), dimension=i.dimension)
           for r, i in last_seen.values() if i.kind == "rating" and i.key not in done and i.n]
    lowest = min(low, key=lambda x: max(v or 0 for v in x.bands.values()), default=None)
    return lowest, [x for x in low if all((v or 0) < 0.5 for v in x.bands.values())]


def _rules(ordered: Sequence[RoundResult]) -> dict[str, int]:
    """How many rating items reached consensus in any round under each rule."""
    return {name: len({i.id for r in ordered for i in r.items
                       if i.kind == "rating" and (i.rules or {}).get(name)})
            for name in RULES}


def _subgroups(settings: Settings, roster: Roster, manifests: Mapping[int, Manifest],
               returns: Mapping[int, Sequence[PanelReturn]],
               last_seen: Mapping[str, tuple[int, ItemResult]], attributes: Sequence[str],
               min_subgroup: int) -> list[Finding]:
    """Subgroup differences on each rating's (each dimension's) last round, in its own bands."""
    findings = []
    asked = {r: questions_by_key(settings, m) for r, m in manifests.items()}
    for r, item in last_seen.values():
        question = asked[r].get(item.key) if r in asked else None
        spec = question.rating if question is not None else None
        if item.kind != "rating" or spec is None:
            continue
        ratings = {ret.code: v for ret in returns.get(r, [])
                   if (v := ret.ratings.get(item.key)) is not None}
        findings += subgroup_findings([(item.key, item.text, r, ratings)], roster.panellists,
                                      attributes, spec.bands, min_subgroup, adjust=False)
    return adjusted(findings)


def _changes(manifests: Mapping[int, Manifest], rounds: Sequence[int]
             ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per round from round 2 on, the items added and the items reworded."""
    added = {r: [i for i in manifests[r].item_ids()
                 if all(i not in manifests[p].item_ids() for p in manifests if p < r)]
             for r in rounds if r > 1}
    reworded: dict[int, list[str]] = {}
    for r in rounds:
        if r - 1 in manifests:
            before = {i.id: i.text for i in manifests[r - 1].items}
            reworded[r] = [i.id for i in manifests[r].items
                           if i.id in before and before[i.id] != i.text]
    return added, reworded


def _dimension_tables(manifests: Mapping[int, Manifest],
                      last_seen: Mapping[str, tuple[int, ItemResult]],
                      reached: Sequence[EarlierConsensus]) -> list[DimensionTable]:
    """Per section with dimensions: each statement's verdict per dimension (or last share)."""
    first = {e.key: e for e in reached}
    sections = {s.id: s for r in sorted(manifests) for s in manifests[r].sections
                if s.dimensions}
    tables = []
    for section in sections.values():
        dims = {d.id: d.label for d in section.dimensions or ()}
        rows: dict[str, DimensionRow] = {}
        for key, (r, item) in last_seen.items():
            if item.section != section.id or item.dimension is None:
                continue
            row = rows.setdefault(item.id, DimensionRow(id=item.id, text=item.text,
                                                        verdicts={}))
            done = first.get(key)
            row.verdicts[item.dimension] = (
                (done.band, done.round, done.share) if done else
                (None, r, max((v or 0.0 for v in item.bands.values()), default=None)))
        tables.append(DimensionTable(section=section.id, title=section.title, dimensions=dims,
                                     rows=list(rows.values())))
    return tables


def _choices(manifests: Mapping[int, Manifest],
             last_seen: Mapping[str, tuple[int, ItemResult]]) -> list[ChoiceResult]:
    """Each choice's result in the last round it was asked, options by label."""
    labels = {(s.id, o.id): o.label for m in manifests.values() for s in m.sections
              for o in s.options or ()}
    return [ChoiceResult(id=i.id, text=i.text, round=r, n=i.n,
                         options={labels.get((i.section, o), o): v
                                  for o, v in (i.options or {}).items()},
                         consensus=labels.get((i.section, i.consensus), i.consensus)
                         if i.consensus else None)
            for r, i in last_seen.values() if i.kind == "choice"]


def _open_answers(manifests: Mapping[int, Manifest],
                  returns: Mapping[int, Sequence[PanelReturn]]) -> list[OpenAnswer]:
    """Every answer to an open question, by round and question, with its comment."""
    out = []
    for r in sorted(manifests):
        for item in manifests[r].items:
            if item.kind != "open":
                continue
            out += [OpenAnswer(round=r, id=item.id, question=item.text, answer=ret.texts[item.id],
                               comment=ret.comments.get(item.id))
                    for ret in returns.get(r, []) if ret.texts.get(item.id)]
    return out


def build_report(settings: Settings, roster: Roster, manifests: Mapping[int, Manifest],
                 returns: Mapping[int, Sequence[PanelReturn]],
                 results: Mapping[int, RoundResult], attributes: Sequence[str] = (),
                 min_subgroup: int = 5, alpha: float = 0.05) -> ReportData:
    """Everything the report shows; ``results`` must carry the side-by-side ``rules``."""
    rounds = sorted(results)
    ordered = [results[r] for r in rounds]
    reached = earlier_consensus(ordered)
    last_seen = _last_seen(ordered)
    lowest, under_half = _without_consensus(last_seen, reached)
    findings = _subgroups(settings, roster, manifests, returns, last_seen, attributes,
                          min_subgroup)
    added, reworded = _changes(manifests, rounds)
    return ReportData(
        study=settings.title, rounds=rounds, settings=settings,
        response=_response(settings, roster, manifests, returns, rounds),
        flow=round_status(settings, roster, manifests, returns, rounds[-1]).attrition,
        consensus=reached, totals=_totals(settings, ordered, reached),
        rankings=_rankings(manifests, ordered),
        group_consensus=_group_consensus(settings, ordered), lowest=lowest,
        under_half=under_half,
        divergent=[Divergence(id=i.id, text=i.text, round=r.round, dimension=i.dimension,
                              medians={g: s.median for g, s in i.groups.items()})
                   for r in ordered for i in r.items if i.divergent],
        rules=_rules(ordered), subgroups=findings,
        notable=[f for f in findings if f.q < alpha],
        items_added=added, items_reworded=reworded,
        dimension_tables=_dimension_tables(manifests, last_seen, reached),
        choices=_choices(manifests, last_seen), open_answers=_open_answers(manifests, returns),
        stability=[StabilityRow(id=i.id, text=i.text, round=r.round, figures=i.stability)
                   for r in ordered for i in r.items if i.kind == "rating" and i.stability])
