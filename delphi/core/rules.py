"""Consensus rules: one item's verdict under each definition the literature uses.

A verdict is the name of a band (``agree``, ``neutral``, ``disagree`` in the example) or
``None`` for no consensus, so every rule fills the same ``consensus`` field of the results.

- ``banded`` (default): at least ``threshold`` of the ratings fall in one band.
- ``comet`` (COMET Handbook): *in* (the highest band) when at least ``comet_in`` (70 %) rate in
  the highest band and fewer than ``comet_against`` (15 %) in the lowest; *out* (the lowest band)
  by the mirror rule, or, with ``comet_out: low-agreement``, when no more than ``comet_low``
  (50 %) rate in the highest band in every stakeholder group.
- ``rand-ucla`` (RAND/UCLA Appropriateness Method): the band of the median, when the panel does
  not disagree. Disagreement by ``ipras`` (default): IPR = P70 - P30 and
  IPRAS = 2.35 + 1.5 x |mid - (P30 + P70) / 2|, with mid the scale's middle (5); disagreement
  when IPR > IPRAS. Or by the classic ``table``: at least k ratings in the lowest band and k in
  the highest, k = floor((n + 1) / 3) (3 for 8-10 raters, 4 for 11-13, 5 for 14-16, as in the
  manual, and the same third beyond). P30 and P70 use the study's quantile definition.
- ``iqr``: the band of the median when the IQR is at most ``max_iqr`` (1).

A median between two bands (3.5 between 1-3 and 4-6) is taken as the middle band for
``rand-ucla`` and ``iqr``, the cautious reading. ``scope`` applies a rule to the whole panel
(``panel``), requires the same verdict in every group with ratings (``every-group``), or
accepts a verdict reached in any group, provided the groups that reach one agree on it
(``any-group``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Literal

from delphi.core.models import Band, ConsensusRule, RuleName
from delphi.core.stats import QuartileMethod, banded_consensus, quantile

RULES: tuple[RuleName, ...] = ("banded", "comet", "rand-ucla", "iqr")
Counts = Mapping[int, int]


def _share(counts: Counts, band: Band) -> Fraction:
    n = sum(counts.values())
    return Fraction(sum(c for v, c in counts.items() if band.min <= v <= band.max), n)


def _at_least(share: Fraction, limit: float) -> bool:
    return share >= Fraction(str(limit))


def median_band(counts: Counts, bands: Sequence[Band], method: QuartileMethod) -> str:
    """The band of the median; a median between two bands counts as the middle band."""
    median = quantile(counts, 0.5, method)
    for band in bands:
        if band.min <= median <= band.max:
            return band.name
    return bands[len(bands) // 2].name


def disagree(counts: Counts, bands: Sequence[Band], method: QuartileMethod,
             how: Literal["ipras", "table"] = "ipras") -> bool:
    """RAND/UCLA disagreement by IPRAS or by the classic panel-size table."""
    low, high = bands[0], bands[-1]
    n = sum(counts.values())
    if how == "table":
        k = (n + 1) // 3
        in_low = sum(c for v, c in counts.items() if v <= low.max)
        in_high = sum(c for v, c in counts.items() if v >= high.min)
        return n > 0 and in_low >= k and in_high >= k
    p30, p70 = quantile(counts, 0.30, method), quantile(counts, 0.70, method)
    middle = (low.min + high.max) / 2
    ipras = 2.35 + 1.5 * abs(middle - (p30 + p70) / 2)
    return p70 - p30 > ipras + 1e-12


def verdict(rule: RuleName, settings: ConsensusRule, counts: Counts, bands: Sequence[Band],
            method: QuartileMethod, groups: Sequence[Counts] = ()) -> str | None:
    """One set of ratings' verdict under ``rule`` (``groups`` serve COMET's low-agreement)."""
    counts = {v: c for v, c in counts.items() if c}
    if not counts:
        return None
    low, high = bands[0], bands[-1]
    if rule == "banded":
        return banded_consensus(counts, bands, settings.threshold)
    if rule == "comet":
        if (_at_least(_share(counts, high), settings.comet_in)
                and _share(counts, low) < Fraction(str(settings.comet_against))):
            return high.name
        if settings.comet_out == "mirror":
            if (_at_least(_share(counts, low), settings.comet_in)
                    and _share(counts, high) < Fraction(str(settings.comet_against))):
                return low.name
            return None
        rated = [g for g in (groups or [counts]) if sum(g.values())]
        if rated and all(_share(g, high) <= Fraction(str(settings.comet_low)) for g in rated):
            return low.name
        return None
    if rule == "rand-ucla":
        if disagree(counts, bands, method, settings.disagreement):
            return None
        return median_band(counts, bands, method)
    if rule == "iqr":
        iqr = quantile(counts, 0.75, method) - quantile(counts, 0.25, method)
        return median_band(counts, bands, method) if iqr <= settings.max_iqr + 1e-12 else None
    raise ValueError(f"unknown rule {rule!r}")  # pragma: no cover - guarded by RuleName


def item_verdict(rule: RuleName, settings: ConsensusRule, overall: Counts,
                 groups: Mapping[str, Counts], bands: Sequence[Band],
                 method: QuartileMethod) -> str | None:
    """An item's verdict under ``rule`` within the rule's ``scope``."""
    group_counts = [g for g in groups.values() if sum(g.values())]
    if settings.scope == "panel":
        return verdict(rule, settings, overall, bands, method, group_counts)
    each = [verdict(rule, settings, g, bands, method, [g]) for g in group_counts]
    if not each:
        return None
    if settings.scope == "every-group":
        return each[0] if all(v == each[0] for v in each) else None
    reached = {v for v in each if v is not None}
    return reached.pop() if len(reached) == 1 else None
