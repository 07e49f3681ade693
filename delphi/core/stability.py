"""Stability of an item between two consecutive rounds.

Over the panellists who rated the item in both rounds (the pairs):

- ``changed_band``: share of pairs whose rating moved to another band.
- ``net_change``: half the sum of the absolute differences between the two rounds'
  distributions of ratings, as shares (Scheibe, Skutsch & Schofer 1975, who call an item stable
  when fewer than 15 % of "net person-changes" occur); ``stable`` when it is below ``limit``.
  It is computed over everyone who rated the item in each round, as Scheibe et al. do.
- ``kappa``: Cohen's kappa with linear weights, w = |i - j| / (k - 1) over the k points of the
  scale, between the pairs' first and second ratings.
- ``wilcoxon_z``, ``wilcoxon_p``: Wilcoxon signed-rank test of the pairs, zero differences
  dropped (Wilcoxon's method), normal approximation with the tie correction and no continuity
  correction (as scipy's ``wilcoxon(..., method="approx", correction=False)`` and SPSS).
- ``towards_median``: of the pairs whose rating changed, the share that moved closer to the
  previous round's overall median.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Band


class Stability(BaseModel):
    """An item's stability since the previous round."""

    model_config = ConfigDict(frozen=True)

    previous_round: int
    pairs: int
    changed_band: float | None
    net_change: float | None
    stable: bool | None
    kappa: float | None
    wilcoxon_z: float | None
    wilcoxon_p: float | None
    towards_median: float | None


def net_change(before: Sequence[int], after: Sequence[int]) -> float | None:
    """Half the summed absolute differences of the two distributions (shares, 0 to 1)."""
    if not before or not after:
        return None
    a, b = Counter(before), Counter(after)
    return sum(abs(a[v] / len(before) - b[v] / len(after)) for v in set(a) | set(b)) / 2


def weighted_kappa(pairs: Sequence[tuple[int, int]], lo: int, hi: int) -> float | None:
    """Linear-weighted Cohen's kappa of paired ratings on the scale lo..hi."""
    n = len(pairs)
    if n == 0 or hi == lo:
        return None
    span = hi - lo
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    observed = sum(abs(a - b) / span for a, b in pairs) / n
    expected = sum(first[i] * second[j] * abs(i - j) / span
                   for i in first for j in second) / (n * n)
    if expected == 0:
        return 1.0 if observed == 0 else None  # everyone gave one and the same rating
    return 1 - observed / expected


def wilcoxon(pairs: Sequence[tuple[int, int]]) -> tuple[float | None, float | None]:
    """(z, two-sided p) of the Wilcoxon signed-rank test of second minus first rating."""
    diffs = [b - a for a, b in pairs if b != a]
    n = len(diffs)
    if n == 0:
        return None, None
    ordered = sorted(abs(d) for d in diffs)
    ranks: dict[int, float] = {}
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j < n and ordered[j] == ordered[i]:
            j += 1
        ranks[ordered[i]] = (i + 1 + j) / 2  # mean of ranks i+1 .. j
        t = j - i
        ties += t ** 3 - t
        i = j
    w_plus = sum(ranks[abs(d)] for d in diffs if d > 0)
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - ties / 48
    if variance <= 0:
        return None, None
    z = (w_plus - mean) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2))


def stability(previous_round: int, before: Sequence[int], after: Sequence[int],
              pairs: Sequence[tuple[int, int]], previous_median: float | None,
              bands: Sequence[Band], lo: int, hi: int, limit: float = 0.15) -> Stability:
    """All the stability figures of one item."""
    band_of = {v: b.name for b in bands for v in range(b.min, b.max + 1)}
    changed = [(a, b) for a, b in pairs if a != b]
    z, p = wilcoxon(pairs)
    change = net_change(before, after)
    towards = None
    if changed and previous_median is not None:
        towards = sum(1 for a, b in changed
                      if abs(b - previous_median) < abs(a - previous_median)) / len(changed)
    return Stability(
        previous_round=previous_round, pairs=len(pairs),
        changed_band=(sum(1 for a, b in pairs if band_of[a] != band_of[b]) / len(pairs)
                      if pairs else None),
        net_change=change, stable=None if change is None else change < limit,
        kappa=weighted_kappa(pairs, lo, hi), wilcoxon_z=z, wilcoxon_p=p,
        towards_median=towards)
