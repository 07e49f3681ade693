"""What each panellist is shown next to each item: the controlled feedback of the method.

For round N+1, built from round N's results (reference study, section 2.7.3): the panellist's
own previous rating, the group response (median), the consensus level (IQR), a statement when
the stakeholder groups diverge, and the band shares overall and per group for a small chart.
Everything here is the same for every panellist except ``own`` ratings, which are applied last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.analysis import GroupStats, ItemResult, RoundResult
from delphi.core.answers import Question, answer_key, questions
from delphi.core.history import first_consensus, latest_rankings
from delphi.core.models import Manifest, Settings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BandShare(_Frozen):
    """One band's share of one row of the chart."""

    band: str
    share: float


class ChartRow(_Frozen):
    """A row of an item's chart: the whole panel (``group`` None, ``label`` "") or one group."""

    group: str | None
    label: str
    n: int
    shares: list[BandShare]


class GroupMedian(_Frozen):
    """A stakeholder group's median, named in the feedback when the groups diverge."""

    group: str
    label: str
    median: float


class ItemFeedback(_Frozen):
    """Feedback on one answer from the previous round, the same for every panellist.

    One answer is an item, one dimension of an item, or a choice. ``divergence`` lists the
    groups' medians when they diverge (the template says so in the panel's language), else it
    is None. ``unsure`` is the share of the panel's answers that were "unsure" (``None`` when
    the item's scale has no unsure answer); ``options`` a choice's shares by option label.
    """

    from_round: int
    median: float | None
    iqr: float | None
    divergence: list[GroupMedian] | None
    chart: list[ChartRow]
    unsure: float | None = None
    options: list[BandShare] = []


class EarlierConsensus(_Frozen):
    """An item (or one dimension of it) that reached consensus in an earlier round."""

    id: str
    text: str
    round: int
    band: str
    share: float
    dimension: str | None = None

    @property
    def key(self) -> str:
        """The item id, or ``<item id>/<dimension id>`` for one dimension of a statement."""
        return answer_key(self.id, self.dimension)


class RankedOption(_Frozen):
    """A ranking result shown back to the panel."""

    rank: int | None
    text: str
    median: float | None
    mean: float | None


class RankingFeedback(_Frozen):
    """A ranking section's results from the round it was asked in."""

    title: str
    round: int
    options: list[RankedOption]


def group_medians(item: ItemResult, settings: Settings) -> list[GroupMedian] | None:
    """The groups' medians, in the study's order, when the groups diverge on an item."""
    if not item.divergent:
        return None
    labels = {g.id: g.label for g in settings.groups}
    return [GroupMedian(group=g, label=labels[g], median=s.median)
            for g, s in item.groups.items() if s.median is not None]


Stats = ItemResult | GroupStats


def _chart_rows(item: ItemResult, settings: Settings,
                shares: Callable[[Stats], list[BandShare]]) -> list[ChartRow]:
    labels = {g.id: g.label for g in settings.groups}
    rows = [ChartRow(group=None, label="", n=item.n, shares=shares(item))]
    rows += [ChartRow(group=g, label=labels[g], n=s.n, shares=shares(s))
             for g, s in item.groups.items()]
    return rows


def _band_shares(stats: Stats) -> list[BandShare]:
    return [BandShare(band=b, share=stats.bands.get(b) or 0.0) for b in stats.bands]


def _option_shares(question: Question | None) -> Callable[[Stats], list[BandShare]]:
    """A choice's shares by option label, in the order of its options."""
    options = question.options if question is not None else []

    def shares(stats: Stats) -> list[BandShare]:
        given = stats.options or {}
        ids = [o.id for o in options] or list(given)
        label = {o.id: o.label for o in options}
        return [BandShare(band=label.get(i, i), share=given.get(i) or 0.0) for i in ids]
    return shares


def _unsure_share(item: ItemResult, question: Question | None) -> float | None:
    """The share of the panel's answers that were "unsure", if the question offers it."""
    if question is None or question.rating is None or question.rating.unsure is None:
        return None
    answered = item.n + item.unsure
    return item.unsure / answered if answered else None


def item_feedback(item: ItemResult, result: RoundResult, settings: Settings,
                  question: Question | None = None) -> ItemFeedback:
    """The shared feedback box and chart of one answer (``question``: as it was asked)."""
    if item.kind == "choice":
        rows = _chart_rows(item, settings, _option_shares(question))
        return ItemFeedback(from_round=result.round, median=None, iqr=None, divergence=None,
                            chart=rows, options=rows[0].shares)
    return ItemFeedback(from_round=result.round, median=item.median, iqr=item.iqr,
                        divergence=group_medians(item, settings),
                        chart=_chart_rows(item, settings, _band_shares),
                        unsure=_unsure_share(item, question))


def feedback_for_round(settings: Settings, manifest: Manifest, previous: RoundResult | None,
                       asked_before: Sequence[Question] = ()) -> dict[str, ItemFeedback]:
    """Feedback on every answer ``manifest`` asks that the previous round asked, by answer key.

    ``asked_before`` are the previous round's questions (for option labels and unsure).
    """
    if previous is None:
        return {}
    by_key = {i.key: i for i in previous.items if i.kind in ("rating", "choice")}
    before = {q.key: q for q in asked_before}
    return {q.key: item_feedback(by_key[q.key], previous, settings, before.get(q.key))
            for q in questions(settings, manifest) if q.key in by_key}


def own_texts_shown(manifest: Manifest, previous: Manifest) -> list[str]:
    """Open questions of ``manifest`` also asked in ``previous``, with own answers shown back.

    Each panellist is shown their own earlier answer, and no one else's.
    """
    before = {i.id for i in previous.items if i.kind == "open"}
    return [i.id for i in manifest.items if i.kind == "open" and i.id in before]


def earlier_consensus(results: Sequence[RoundResult]) -> list[EarlierConsensus]:
    """Rating and choice entries that reached consensus, with the round they reached it in."""
    return [EarlierConsensus(id=r.item.id, text=r.item.text, round=r.round, band=r.band,
                             share=(r.item.options or r.item.bands).get(r.band) or 0.0,
                             dimension=r.item.dimension)
            for r in first_consensus(results)]


def ranking_feedback(results: Sequence[RoundResult], manifest_titles: dict[str, str]
                     ) -> list[RankingFeedback]:
    """The latest results of each ranking section, options in rank order."""
    return [RankingFeedback(
        title=manifest_titles.get(items[0].section, items[0].section), round=round_no,
        options=[RankedOption(rank=i.rank, text=i.text, median=i.median, mean=i.mean)
                 for i in items]) for round_no, items in latest_rankings(results)]
