"""Statistics of ratings on an integer scale: quantiles, band shares, consensus, ranks.

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
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Band

QuartileMethod = Literal["linear", "spss"]


class Summary(BaseModel):
    """Statistics of one item, overall or within one group. All ``None`` when ``n`` is 0."""

    model_config = ConfigDict(frozen=True)

    n: int
    median: float | None
    q1: float | None
    q3: float | None
    iqr: float | None
    mean: float | None
    bands: dict[str, float | None]
    consensus: str | None


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
    ordered = sorted((v, c) for v, c in counts.items() if c > 0)
    n = sum(c for _, c in ordered)
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


def summarise(ratings: Iterable[int] | Mapping[int, int], bands: Sequence[Band],
              threshold: float, method: QuartileMethod = "linear") -> Summary:
    """n, median, quartiles, IQR, mean, band shares and consensus band of some ratings.

    ``ratings`` is an iterable of integer ratings or a ``{rating: count}`` mapping. The
    consensus band is the band holding at least ``threshold`` of the ratings (compared
    exactly, so 75 % of 4 raters is 3), or ``None``.
    """
    counts = Counter(ratings) if not isinstance(ratings, Mapping) else Counter(dict(ratings))
    n = sum(counts.values())
    if n == 0:
        return Summary(n=0, median=None, q1=None, q3=None, iqr=None, mean=None,
                       bands={b.name: None for b in bands}, consensus=None)
    q1 = quantile(counts, 0.25, method)
    median = quantile(counts, 0.5, method)
    q3 = quantile(counts, 0.75, method)
    in_band = {b.name: sum(c for v, c in counts.items() if b.min <= v <= b.max) for b in bands}
    consensus = banded_consensus(counts, bands, threshold)
    return Summary(
        n=n, median=median, q1=q1, q3=q3, iqr=q3 - q1,
        mean=sum(v * c for v, c in counts.items()) / n,
        bands={name: c / n for name, c in in_band.items()},
        consensus=consensus,
    )


def banded_consensus(counts: Mapping[int, int], bands: Sequence[Band],
                     threshold: float) -> str | None:
    """The band holding at least ``threshold`` of the ratings, compared exactly, or ``None``.

    The ``banded`` consensus rule; exact fractions, so 75 % of 4 raters is 3.
    """
    n = sum(counts.values())
    if n == 0:
        return None
    need = Fraction(str(threshold)) * n
    return next((b.name for b in bands
                 if sum(c for v, c in counts.items() if b.min <= v <= b.max) >= need), None)


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
