"""Consensus rules: one item's verdict under each definition the literature uses.

A verdict is the name of a band (``agree``, ``neutral``, ``disagree`` in the example) or
``None`` for no consensus, so every rule fills the same ``consensus`` field of the results.

- ``banded`` (default): at least ``threshold`` of the ratings fall in one band (more than
  ``threshold`` with ``strict``).
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

"Unsure" answers: band shares are of the denominator the question's ``unsure`` defines (the
numeric ratings, plus the unsure answers when ``in_denominator``; those also count in
``unsure.band``'s share), so ``banded`` and ``comet`` see them exactly as the band shares show
them. ``rand-ucla`` and ``iqr`` stand on the median and percentiles, which exist for numeric
ratings only, so they read those alone. ``strict`` applies to every "at least" threshold
(``threshold``, ``comet_in``). A choice is judged by :func:`choice_consensus` whatever the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from delphi.core.models import Band, ConsensusRule, RuleName, Unsure
from delphi.core.stats import QuartileMethod, Tally, as_tally, quantile

RULES: tuple[RuleName, ...] = ("banded", "comet", "rand-ucla", "iqr")
Counts = Mapping[int, int]
Answers = Counts | Tally


def reaches(share: Fraction, limit: float, strict: bool = False) -> bool:
    """Whether a share holds a threshold: at least it, or with ``strict`` more than it.

    Compared exactly (75 % of 4 raters is 3), as fractions.
    """
    bound = _exactly(limit)
    return share > bound if strict else share >= bound


@lru_cache(maxsize=64)
def _exactly(limit: float) -> Fraction:
    """A threshold as written (0.75 is 3/4, not the binary double nearest to it)."""
    return Fraction(str(limit))


def banded(answers: Answers, bands: Sequence[Band], threshold: float, strict: bool = False,
           unsure: Unsure | None = None) -> str | None:
    """The ``banded`` rule: the band holding ``threshold`` of the answers, or ``None``.

    Shares are of the denominator ``unsure`` defines (see :class:`~delphi.core.stats.Tally`).
    """
    shares = as_tally(answers).shares(bands, unsure)
    if shares is None:
        return None
    return next((b.name for b in bands if reaches(shares[b.name], threshold, strict)), None)


def choice_consensus(counts: Mapping[str, int], options: Sequence[str],
                     settings: ConsensusRule,
                     groups: Mapping[str, Mapping[str, int]] | None = None) -> str | None:
    """The option chosen by ``threshold`` of those who chose (more than it with ``strict``).

    A choice has no scale, so every rule reads it this way. With ``groups`` (each group's
    counts), the rule's ``scope`` applies as for ratings: ``every-group`` needs the same option
    in every group that chose, ``any-group`` an option reached in some group and contradicted
    by none.
    """
    if groups is not None and settings.scope != "panel":
        each = [choice_consensus(g, options, settings) for g in groups.values()
                if sum(g.get(o, 0) for o in options)]
        return _across_groups(each, settings.scope)
    n = sum(counts.get(o, 0) for o in options)
    if n == 0:
        return None
    return next((o for o in options
                 if reaches(Fraction(counts.get(o, 0), n), settings.threshold, settings.strict)),
                None)


def median_band(counts: Counts, bands: Sequence[Band], method: QuartileMethod) -> str:
    """The band of the median; a median between two bands counts as the middle band."""
    median = quantile(counts, 0.5, method)
    return next((b.name for b in bands if median in b), bands[len(bands) // 2].name)


def disagree(counts: Counts, bands: Sequence[Band], method: QuartileMethod,
             how: Literal["ipras", "table"] = "ipras") -> bool:
    """RAND/UCLA disagreement by IPRAS or by the classic panel-size table."""
    low, high = bands[0], bands[-1]
    n = sum(counts.values())
    if how == "table":
        k = (n + 1) // 3
        return n > 0 and low.count(counts) >= k and high.count(counts) >= k
    p30, p70 = quantile(counts, 0.30, method), quantile(counts, 0.70, method)
    middle = (low.min + high.max) / 2
    ipras = 2.35 + 1.5 * abs(middle - (p30 + p70) / 2)
    return p70 - p30 > ipras + 1e-12


def _comet(answers: Tally, settings: ConsensusRule, bands: Sequence[Band],
           unsure: Unsure | None, groups: Sequence[Tally]) -> str | None:
    shares = answers.shares(bands, unsure)
    if shares is None:
        return None
    low, high = bands[0].name, bands[-1].name
    against = _exactly(settings.comet_against)
    if reaches(shares[high], settings.comet_in, settings.strict) and shares[low] < against:
        return high
    if settings.comet_out == "mirror":
        if reaches(shares[low], settings.comet_in, settings.strict) and shares[high] < against:
            return low
        return None
    rated = [s for g in (groups or [answers]) if (s := g.shares(bands, unsure)) is not None]
    if rated and all(s[high] <= _exactly(settings.comet_low) for s in rated):
        return low
    return None


def verdict(rule: RuleName, settings: ConsensusRule, counts: Answers, bands: Sequence[Band],
            method: QuartileMethod, groups: Sequence[Answers] = (),
            unsure: Unsure | None = None) -> str | None:
    """One set of answers' verdict under ``rule`` (``groups`` serve COMET's low-agreement).

    The rules built on band shares (banded, COMET) take them of the denominator ``unsure``
    defines; the rules built on quantiles (RAND/UCLA, IQR) read the numeric ratings only.
    """
    answers = as_tally(counts)
    numeric = {v: c for v, c in answers.counts.items() if c}
    if rule == "banded":
        return banded(answers, bands, settings.threshold, settings.strict, unsure)
    if rule == "comet":
        return _comet(answers, settings, bands, unsure, [as_tally(g) for g in groups])
    if not numeric:
        return None
    if rule == "rand-ucla":
        if disagree(numeric, bands, method, settings.disagreement):
            return None
        return median_band(numeric, bands, method)
    if rule == "iqr":
        iqr = quantile(numeric, 0.75, method) - quantile(numeric, 0.25, method)
        return median_band(numeric, bands, method) if iqr <= settings.max_iqr + 1e-12 else None
    raise ValueError(f"unknown rule {rule!r}")  # pragma: no cover - guarded by RuleName


def item_verdict(rule: RuleName, settings: ConsensusRule, overall: Answers,
                 groups: Mapping[str, Answers], bands: Sequence[Band],
                 method: QuartileMethod, unsure: Unsure | None = None) -> str | None:
    """An item's verdict under ``rule`` within the rule's ``scope``.

    The groups that count are those with answers in the denominator of their band shares.
    """
    answered = [t for g in groups.values() if (t := as_tally(g)).denominator(unsure)]
    if settings.scope == "panel":
        return verdict(rule, settings, overall, bands, method, answered, unsure)
    each = [verdict(rule, settings, g, bands, method, [g], unsure) for g in answered]
    return _across_groups(each, settings.scope)


def _across_groups(each: list[str | None], scope: str) -> str | None:
    """One verdict from the groups' own.

    ``every-group`` needs the same verdict in each group with answers; ``any-group`` takes a
    verdict some group reached, if those that reached one agree.
    """
    if not each:
        return None
    if scope == "every-group":
        return each[0] if all(v == each[0] for v in each) else None
    reached = {v for v in each if v is not None}
    return reached.pop() if len(reached) == 1 else None
