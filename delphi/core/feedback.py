"""What each panellist is shown next to each item: the controlled feedback of the method.

For round N+1, built from round N's results (reference study, section 2.7.3): the panellist's
own previous rating, the group response (median), the consensus level (IQR), a statement when
the stakeholder groups diverge, and the band shares overall and per group for a small chart.
Everything here is the same for every panellist except ``own`` ratings, which are applied last.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.analysis import ItemResult, RoundResult
from delphi.core.history import first_consensus, latest_rankings
from delphi.core.models import Manifest, PanelReturn, Settings
from delphi.core.stats import round_half_up


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
    """Feedback on one item from the previous round, the same for every panellist.

    ``divergence`` lists the groups' medians when they diverge (the template says so in the
    panel's language), else it is None.
    """

    from_round: int
    median: float | None
    iqr: float | None
    divergence: list[GroupMedian] | None
    chart: list[ChartRow]


class EarlierConsensus(_Frozen):
    """An item that reached consensus in an earlier round (listed from round 3 on)."""

    id: str
    text: str
    round: int
    band: str
    share: float


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


def fmt(value: float | None) -> str:
    """A number as printed in the terminal: one decimal, rounded half up.

    What panellists and readers get is written the panel's way by ``delphi.i18n.Language``.
    """
    return "–" if value is None else str(round_half_up(value))


def pct(share: float | None, places: int = 0, sign: str = "%") -> str:
    """A share as a percentage rounded half up: ``0.125`` -> ``13%``; ``places=1`` -> ``12.5%``.

    For the terminal; what panellists and readers get is written the panel's way by
    ``delphi.i18n.Language.percent``.
    """
    return "–" if share is None else f"{round_half_up(share * 100, places)}{sign}"


def group_medians(item: ItemResult, settings: Settings) -> list[GroupMedian] | None:
    """The groups' medians, in the study's order, when the groups diverge on an item."""
    if not item.divergent:
        return None
    labels = {g.id: g.label for g in settings.groups}
    return [GroupMedian(group=g, label=labels[g], median=s.median)
            for g, s in item.groups.items() if s.median is not None]


def item_feedback(item: ItemResult, result: RoundResult, settings: Settings) -> ItemFeedback:
    """The shared feedback box and chart of one item."""
    labels = {g.id: g.label for g in settings.groups}
    rows = [ChartRow(group=None, label="", n=item.n,
                     shares=[BandShare(band=b, share=item.bands.get(b) or 0.0)
                             for b in item.bands])]
    rows += [ChartRow(group=g, label=labels[g], n=s.n,
                      shares=[BandShare(band=b, share=s.bands.get(b) or 0.0) for b in s.bands])
             for g, s in item.groups.items()]
    return ItemFeedback(from_round=result.round, median=item.median, iqr=item.iqr,
                        divergence=group_medians(item, settings), chart=rows)


def feedback_for_round(manifest: Manifest, previous: RoundResult | None,
                       settings: Settings) -> dict[str, ItemFeedback]:
    """Feedback for every item of ``manifest`` that the previous round asked."""
    if previous is None:
        return {}
    by_id = {i.id: i for i in previous.items}
    return {item.id: item_feedback(by_id[item.id], previous, settings)
            for item in manifest.items if item.id in by_id and by_id[item.id].kind == "rating"}


def own_ratings(manifest: Manifest, returns: Sequence[PanelReturn]) -> dict[str, dict[str, int]]:
    """Each panellist's previous ratings of the items ``manifest`` asks again."""
    asked = set(manifest.item_ids())
    return {r.code: {i: v for i, v in r.ratings.items() if v is not None and i in asked}
            for r in returns}


def earlier_consensus(results: Sequence[RoundResult]) -> list[EarlierConsensus]:
    """Rating items that reached consensus, with the round they reached it in."""
    return [EarlierConsensus(id=r.item.id, text=r.item.text, round=r.round, band=r.band,
                             share=(r.item.options or r.item.bands).get(r.band) or 0.0)
            for r in first_consensus(results)]


def ranking_feedback(results: Sequence[RoundResult], manifest_titles: dict[str, str]
                     ) -> list[RankingFeedback]:
    """The latest results of each ranking section, options in rank order."""
    return [RankingFeedback(
        title=manifest_titles.get(items[0].section, items[0].section), round=round_no,
        options=[RankedOption(rank=i.rank, text=i.text, median=i.median, mean=i.mean)
                 for i in items]) for round_no, items in latest_rankings(results)]
