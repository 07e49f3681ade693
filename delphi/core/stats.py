"""Statistics of ratings on an integer scale: quantiles, band shares, ranks, choice shares.

Ratings are integers on a small scale, so every statistic is computed from the counts of
each value (a histogram) rather than from sorted copies of the ratings: order statistics are
read off the cumulative counts. This module does not use numpy; the tests check it against
numpy as an independent oracle.

Quantile definitions (Hyndman & Fan 1996), for sorted ratings x[1] <= ... <= x[n]:

- ``linear`` (type 7; numpy ``method="linear"``, R's default, Excel ``QUARTILE.INC``):
  h = (n - 1) p + 1, Q(p) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
- ``spss`` (type 6; numpy ``method="weibull"``, SPSS, Minitab, Excel ``QUARTILE.EXC``):
  h = (n + 1) p, clamped to [1, n], then the same interpolation.

Both give the usual median.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Band, Unsure

QuartileMethod = Literal["linear", "spss"]


class Summary(BaseModel):
    """Statistics of one rating question, overall or within one group.

    ``n`` counts the numeric ratings, ``unsure`` the unsure answers, ``denominator`` what the
    band shares are fractions of (``n``, plus ``unsure`` when they count in it). Quantiles and
    the mean are over the numeric ratings, ``None`` when ``n`` is 0; band shares are ``None``
    when the denominator is 0. ``consensus`` is set by :mod:`delphi.core.rules`, the one home
    of the consensus rules.
    """

    model_config = ConfigDict(frozen=True)

    n: int
    unsure: int = 0
    denominator: int = 0
    median: float | None
    q1: float | None
    q3: float | None
    iqr: float | None
    mean: float | None
    bands: dict[str, float | None]
    consensus: str | None = None


@dataclass(frozen=True)
class Tally:
    """The answers to one rating question, of the whole panel or of one group.

    How many gave each rating (``counts``), and how many answered "unsure".
    """

    counts: Mapping[int, int]
    unsure: int = 0

    @property
    def n(self) -> int:
        """The number of numeric ratings."""
        return sum(self.counts.values())

    def denominator(self, rule: Unsure | None) -> int:
        """What band shares are fractions of: the ratings, and the unsure answers if counted."""
        return self.n + (self.unsure if rule is not None and rule.in_denominator else 0)

    def in_band(self, band: Band, rule: Unsure | None) -> int:
        """Answers counted in ``band``: its ratings, and the unsure answers if they go there."""
        extra = self.unsure if rule is not None and rule.in_denominator and \
            rule.band == band.name else 0
        return band.count(self.counts) + extra

    def shares(self, bands: Sequence[Band], rule: Unsure | None) -> dict[str, Fraction] | None:
        """Each band's exact share, or ``None`` when the denominator is 0."""
        denominator = self.denominator(rule)
        if denominator == 0:
            return None
        return {b.name: Fraction(self.in_band(b, rule), denominator) for b in bands}


def as_tally(answers: Mapping[int, int] | Tally) -> Tally:
    """A ``{rating: count}`` mapping as a :class:`Tally` with no unsure answers."""
    return answers if isinstance(answers, Tally) else Tally(answers)


def _order_statistic(counts: Sequence[tuple[int, int]], k: int) -> int:
    """The k-th smallest rating (1-based) given sorted (value, count) pairs."""
    seen = 0
    for value, count in counts:
        seen += count
        if seen >= k:
            return value
    raise IndexError(k)


def quantile(counts: Mapping[int, int], p: float, method: QuartileMethod = "linear") -> float:
    """The p-quantile of ratings given as ``{rating: count}`` (at least one rating)."""
    return _quantiles(counts, (p,), method)[0]


def _quantiles(counts: Mapping[int, int], ps: Sequence[float],
               method: QuartileMethod) -> list[float]:
    """Several quantiles of the same ratings, sorted and counted once."""
    ordered = sorted((v, c) for v, c in counts.items() if c > 0)
    n = sum(c for _, c in ordered)
    return [_quantile(ordered, n, p, method) for p in ps]


def _quantile(ordered: Sequence[tuple[int, int]], n: int, p: float,
              method: QuartileMethod) -> float:
    """The p-quantile of ``n`` ratings given as sorted (value, count) pairs."""
    if n == 0:
        raise ValueError("quantile of no ratings")
    if method == "linear":
        h = (n - 1) * p + 1
    elif method == "spss":
        h = min(max((n + 1) * p, 1.0), float(n))
    else:  # pragma: no cover - guarded by the Settings model
        raise ValueError(f"unknown quartile method {method!r}")
    lo = math.floor(h)
    low = _order_statistic(ordered, lo)
    if lo >= n or h == lo:
        return float(low)
    high = _order_statistic(ordered, lo + 1)
    return low + (h - lo) * (high - low)


def summarise(ratings: Iterable[int] | Mapping[int, int] | Tally, bands: Sequence[Band],
              method: QuartileMethod = "linear", unsure: Unsure | None = None) -> Summary:
    """n, unsure, denominator, median, quartiles, IQR, mean and band shares of some answers.

    ``ratings`` is an iterable of integer ratings, a ``{rating: count}`` mapping or a
    :class:`Tally` (with unsure answers, counted as ``unsure`` says). The consensus is left
    for :mod:`delphi.core.rules` to fill in.
    """
    if isinstance(ratings, Tally):
        answers = Tally(Counter(dict(ratings.counts)), ratings.unsure)
    elif isinstance(ratings, Mapping):
        answers = Tally(Counter(dict(ratings)))
    else:
        answers = Tally(Counter(ratings))
    counts, n = answers.counts, answers.n
    shares = answers.shares(bands, unsure)
    common = {"unsure": answers.unsure, "denominator": answers.denominator(unsure),
              "bands": {b.name: None if shares is None else float(shares[b.name])
                        for b in bands}}
    if n == 0:
        return Summary(n=0, median=None, q1=None, q3=None, iqr=None, mean=None, **common)
    q1, median, q3 = _quantiles(counts, (0.25, 0.5, 0.75), method)
    return Summary(n=n, median=median, q1=q1, q3=q3, iqr=q3 - q1,
                   mean=sum(v * c for v, c in counts.items()) / n, **common)


def choice_shares(counts: Mapping[str, int], options: Sequence[str]) -> dict[str, float | None]:
    """Each option's share of those who chose (``None`` for all when nobody chose)."""
    n = sum(counts.get(o, 0) for o in options)
    return {o: (counts.get(o, 0) / n if n else None) for o in options}


def round_half_up(value: float, places: int = 1) -> Decimal:
    """Round as people do on paper (7.45 -> 7.5), from the shortest repr of ``value``."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def diverges(medians: Iterable[float | None], threshold: float) -> bool:
    """Whether the groups' medians (ignoring groups with no ratings) lie ``threshold`` apart."""
    known = [m for m in medians if m is not None]
    return len(known) >= 2 and max(known) - min(known) >= threshold


def rank(
    entries: Iterable[tuple[Hashable, float | None, float | None]],
) -> dict[Hashable, int | None]:
    """Competition ranks (1, 1, 3, ...) by median, then mean, both descending.

    Entries are ``(key, median, mean)``. Entries equal on median and on the mean rounded to
    one decimal share a rank, as in Table 18 of the reference study. Entries without ratings
    (median ``None``) get no rank.
    """
    entries = list(entries)
    rated = [(key, med, round_half_up(mean)) for key, med, mean in entries
             if med is not None and mean is not None]
    rated.sort(key=lambda e: (-e[1], -e[2]))
    ranks: dict[Hashable, int | None] = {key: None for key, _, _ in entries}
    previous: tuple[float, Decimal] | None = None
    current = 0
    for position, (key, med, mean) in enumerate(rated, start=1):
        if (med, mean) != previous:
            current = position
            previous = (med, mean)
        ranks[key] = current
    return ranks
