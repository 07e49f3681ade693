"""Stability of an item between two consecutive rounds, as the Delphi literature computes it.

Every figure is over the pairs: the panellists who rated the item in both rounds, each giving
a (previous rating, this rating) pair. ``n`` is their number; the cross-table counts them by
previous rating (rows) and this round's rating (columns).

- ``unchanged``: share of pairs with the same rating both times.
- ``changed_band``: share of pairs whose rating moved to another band.
- ``net_change``: half the sum of the absolute differences between the two rounds' counts of
  each rating, over n: the "net person-changes" of Scheibe, Skutsch & Schofer (1975), who read
  less than 15 % as stable. Panellists swapping ratings cancel out.
- ``kappa`` and ``kappa_quadratic``: Cohen's (1968) weighted kappa, 1 - sum(V O) / sum(V E),
  with disagreement weights V = |i - j| (linear) or (i - j)^2 (quadratic; then kappa is the
  intraclass correlation of the two rounds, Fleiss & Cohen 1973). A round in which everyone
  gave one rating leaves no agreement beyond chance, so kappa is 0 however many kept their
  rating (flagged ``unanimous_round``); when both rounds used one and the same rating, chance
  disagreement is 0 and kappa is undefined.
- ``lambda``: Goodman and Kruskal's lambda predicting this round's rating from the previous one
  (Chaffin & Talley 1980): (sum of the row maxima - largest column total) / (n - largest
  column total); undefined when this round is unanimous. It measures predictability, not
  agreement: a panel that moved up one point together has lambda 1.
- ``chi2_individual``: Pearson's chi-square of independence on the cross-table's occupied
  rows and columns, no continuity correction (Chaffin & Talley 1980); read as stable when
  p < alpha (the ratings depend on the previous ones).
- ``chi2_group``: chi-square on the 2 x k table of the two rounds' counts of each rating in
  use (Dajani, Sincoff & Talley 1979); read as stable when p >= alpha (the distributions do
  not differ). It cannot see panellists swapping ratings, and a small panel looks stable for
  want of power.
- ``wilcoxon_z``, ``wilcoxon_p``: Wilcoxon signed-rank test of the pairs, zero differences
  dropped (Wilcoxon's method), normal approximation with the tie correction and no continuity
  correction (as scipy's ``wilcoxon(..., method="approx", correction=False)`` and SPSS).
- ``towards_median``: of the pairs whose rating changed, the share that moved closer to the
  previous round's overall median.

Chi-square p-values come from the chi-square survival function, exact for whole degrees of
freedom (:func:`chi2_sf`), so the package needs neither numpy nor scipy; the tests check every
figure against scipy and numpy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from delphi.core.models import Band, StabilitySettings
from delphi.core.stats import round_half_up

Table = Mapping[tuple[int, int], int]
"""A cross-table: (previous rating, this rating) -> number of panellists."""

Caveat = Literal[
    "no_pairs",
    "unanimous_round",
    "kappa_undefined",
    "lambda_undefined",
    "chi2_individual_undefined",
    "chi2_individual_expected_below_5",
    "chi2_group_undefined",
    "chi2_group_expected_below_5",
]

CAVEATS: dict[str, tuple[str, str]] = {
    "no_pairs": ("no pairs", "nobody rated the item in both rounds"),
    "unanimous_round": ("unanimous round", "everyone gave the same rating in one of the two "
                        "rounds, so kappa is 0 however many kept their rating; read the share "
                        "unchanged instead"),
    "kappa_undefined": ("one rating throughout", "every rating in both rounds was the same, so "
                        "kappa is undefined"),
    "lambda_undefined": ("this round unanimous", "everyone gave the same rating this round, "
                         "so lambda is undefined"),
    "chi2_individual_undefined": ("a round used one rating", "a round used only one rating, so "
                                  "the individual chi-square cannot be computed"),
    "chi2_individual_expected_below_5": ("expected < 5", "some expected counts are below 5, so "
                                         "the chi-square p-value is unreliable"),
    "chi2_group_undefined": ("one rating throughout", "both rounds used one and the same "
                             "rating, so the group chi-square cannot be computed"),
    "chi2_group_expected_below_5": ("expected < 5", "some expected counts are below 5, so the "
                                    "chi-square p-value is unreliable"),
}
"""Each caveat flag: a few words for a table cell, and what it means."""


class Stability(BaseModel):
    """An item's stability since the previous round (the contract's ``stability`` object)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    previous_round: int
    pairs: int
    unchanged: float | None
    changed_band: float | None
    net_change: float | None
    kappa: float | None
    kappa_quadratic: float | None
    lambda_: float | None = Field(alias="lambda")
    chi2_individual: float | None
    chi2_individual_df: int | None
    chi2_individual_p: float | None
    chi2_group: float | None
    chi2_group_df: int | None
    chi2_group_p: float | None
    wilcoxon_z: float | None
    wilcoxon_p: float | None
    towards_median: float | None
    stable: bool | None
    caveats: list[Caveat]


class ChiSquare(BaseModel):
    """A chi-square test: statistic, degrees of freedom, p-value, smallest expected count."""

    model_config = ConfigDict(frozen=True)

    statistic: float
    df: int
    p: float
    min_expected: float


# --------------------------------------------------------------------------- the statistics


def cross_table(pairs: Iterable[tuple[int, int]]) -> Counter[tuple[int, int]]:
    """Count the (previous, this) rating pairs."""
    return Counter(pairs)


def _margins(table: Table) -> tuple[Counter[int], Counter[int]]:
    rows: Counter[int] = Counter()
    columns: Counter[int] = Counter()
    for (a, b), count in table.items():
        if count:
            rows[a] += count
            columns[b] += count
    return rows, columns


def unchanged(table: Table) -> float | None:
    """Share of the pairs with the same rating in both rounds."""
    n = sum(table.values())
    return sum(c for (a, b), c in table.items() if a == b) / n if n else None


def net_change(table: Table) -> float | None:
    """Scheibe et al.'s net change of the pairs (0 to 1).

    Half the summed differences of the two rounds' counts of each rating, over the pairs.
    """
    n = sum(table.values())
    if not n:
        return None
    rows, columns = _margins(table)
    return sum(abs(rows[v] - columns[v]) for v in set(rows) | set(columns)) / 2 / n


def linear(i: int, j: int) -> float:
    """Linear disagreement weight |i - j|."""
    return abs(i - j)


def quadratic(i: int, j: int) -> float:
    """Quadratic disagreement weight (i - j)^2."""
    return (i - j) ** 2


def weighted_kappa(table: Table, weight: Callable[[int, int], float] = linear) -> float | None:
    """Cohen's weighted kappa of a cross-table, 1 - sum(V O) / sum(V E).

    V is ``weight(row, column)``, the disagreement weight of a cell. Kappa is 0 when a round
    is unanimous, ``None`` when chance disagreement is 0 (or there are no pairs).
    """
    n = sum(table.values())
    if not n:
        return None
    rows, columns = _margins(table)
    chance = math.fsum(r * c * weight(i, j) for i, r in rows.items()
                       for j, c in columns.items()) / n
    if chance <= 0:
        return None
    if len(rows) == 1 or len(columns) == 1:
        return 0.0  # observed equals expected exactly; say so without rounding noise
    observed = math.fsum(c * weight(i, j) for (i, j), c in table.items())
    return 1 - observed / chance


def goodman_kruskal_lambda(table: Table) -> float | None:
    """Lambda predicting the column (this round) from the row (previous round)."""
    n = sum(table.values())
    _, columns = _margins(table)
    if not n:
        return None
    top = max(columns.values())
    if n == top:
        return None
    row_max: dict[int, int] = {}
    for (a, _), count in table.items():
        row_max[a] = max(row_max.get(a, 0), count)
    return (sum(row_max.values()) - top) / (n - top)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for a chi-square variable with ``df`` (a whole number >= 1) degrees of freedom.

    The regularized upper incomplete gamma function Q(df/2, x/2) in closed form: for even df,
    e^-h (1 + h + ... + h^(m-1)/(m-1)!) with h = x/2, m = df/2; for odd df, erfc(sqrt h) plus
    the terms e^-h h^(i - 1/2) / Gamma(i + 1/2), i = 1 .. (df - 1)/2. Terms are summed in logs
    so that a large x cannot overflow.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    h = x / 2
    if h <= 0:  # also a subnormal x whose half is 0
        return 1.0
    log_h = math.log(h)
    if df % 2 == 0:
        terms = [math.exp(i * log_h - h - math.lgamma(i + 1)) for i in range(df // 2)]
    else:
        terms = [math.erfc(math.sqrt(h))]
        terms += [math.exp((i - 0.5) * log_h - h - math.lgamma(i + 0.5))
                  for i in range(1, (df + 1) // 2)]
    return min(1.0, math.fsum(terms))


def chi_square(rows: Sequence[Sequence[int]]) -> ChiSquare | None:
    """Pearson's chi-square of independence over the occupied rows and columns.

    No continuity correction; ``None`` when fewer than two rows or columns are occupied.
    """
    kept = [row for row in rows if sum(row)]
    if not kept:
        return None
    used = [j for j in range(len(kept[0])) if any(row[j] for row in kept)]
    if len(kept) < 2 or len(used) < 2:
        return None
    n = sum(sum(row) for row in kept)
    row_totals = [sum(row) for row in kept]
    column_totals = [sum(row[j] for row in kept) for j in used]
    statistic = 0.0
    smallest = math.inf
    for row, r in zip(kept, row_totals, strict=True):
        for j, c in zip(used, column_totals, strict=True):
            expected = r * c / n
            smallest = min(smallest, expected)
            statistic += (row[j] - expected) ** 2 / expected
    df = (len(kept) - 1) * (len(used) - 1)
    return ChiSquare(statistic=statistic, df=df, p=chi2_sf(statistic, df),
                     min_expected=smallest)


def chi_square_individual(table: Table) -> ChiSquare | None:
    """Chaffin & Talley's test: chi-square of the previous x this round cross-table."""
    rows, columns = _margins(table)
    return chi_square([[table.get((a, b), 0) for b in sorted(columns)] for a in sorted(rows)])


def chi_square_group(table: Table) -> ChiSquare | None:
    """Dajani et al.'s test: chi-square of the 2 x k table of each round's rating counts."""
    rows, columns = _margins(table)
    values = sorted(set(rows) | set(columns))
    return chi_square([[rows[v] for v in values], [columns[v] for v in values]])


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


# --------------------------------------------------------------------------- the verdict


def chosen(s: Stability, rule: StabilitySettings) -> float | None:
    """The value the study's statistic decides with (a p-value for the chi-square tests)."""
    if rule.statistic == "kappa":
        return s.kappa_quadratic if rule.kappa_weights == "quadratic" else s.kappa
    return {"net-change": s.net_change, "lambda": s.lambda_,
            "chi-square-individual": s.chi2_individual_p,
            "chi-square-group": s.chi2_group_p}[rule.statistic]


def decide(value: float | None, unchanged_share: float | None,
           rule: StabilitySettings) -> bool | None:
    """Stable or not by the study's statistic.

    When the statistic cannot be computed, an item every pair kept its rating on is stable
    (each statistic's undefined case that allows it: one rating used in both rounds); any
    other undefined case is ``None``, which the stop rule counts as not stable.
    """
    if value is None:
        return True if unchanged_share == 1 else None
    if rule.statistic in ("net-change", "chi-square-individual"):
        return value < rule.cutoff  # little net change; ratings depend on the previous ones
    return value >= rule.cutoff  # kappa, lambda high enough; distributions do not differ


# --------------------------------------------------------------------------- for display

NAMES: dict[str, str] = {
    "net-change": "net change (Scheibe et al. 1975)",
    "kappa": "weighted kappa",
    "lambda": "Goodman-Kruskal lambda (Chaffin & Talley 1980)",
    "chi-square-individual": "individual chi-square test (Chaffin & Talley 1980)",
    "chi-square-group": "group chi-square test (Dajani, Sincoff & Talley 1979)",
}

HEADINGS: dict[str, str] = {
    "net-change": "Net change", "kappa": "Kappa", "lambda": "Lambda",
    "chi-square-individual": "Chi² (individual)", "chi-square-group": "Chi² (group)"}
"""A column heading for each statistic."""

RELEVANT: dict[str, tuple[Caveat, ...]] = {
    "net-change": (),
    "kappa": ("unanimous_round", "kappa_undefined"),
    "lambda": ("lambda_undefined",),
    "chi-square-individual": ("chi2_individual_undefined", "chi2_individual_expected_below_5"),
    "chi-square-group": ("chi2_group_undefined", "chi2_group_expected_below_5"),
}
"""The caveats that bear on each statistic's verdict."""

def statistic_name(rule: StabilitySettings) -> str:
    """The study's statistic in words, e.g. ``weighted kappa (quadratic weights)``."""
    name = NAMES[rule.statistic]
    return f"{name} ({rule.kappa_weights} weights)" if rule.statistic == "kappa" else name


def criterion(rule: StabilitySettings) -> str:
    """When an item counts as stable, in words: ``... of at least 0.6``."""
    cut = f"{rule.cutoff:g}"
    return statistic_name(rule) + {
        "net-change": f" below {rule.cutoff * 100:g} %",
        "kappa": f" of at least {cut}", "lambda": f" of at least {cut}",
        "chi-square-individual": f" significant at p < {cut} (the ratings depend on the "
                                 "previous round's)",
        "chi-square-group": f" not significant, p ≥ {cut} (the two rounds' distributions do "
                            "not differ)",
    }[rule.statistic]


def p_text(p: float | None) -> str:
    """A p-value as printed: three decimals, ``< 0.001`` below that."""
    if p is None:
        return "–"
    return "< 0.001" if p < 0.0005 else str(round_half_up(p, 3))


def value_text(s: Stability, rule: StabilitySettings,
               share: Callable[[float | None], str]) -> str:
    """The study's statistic of an item as printed: ``0.63``, ``3.70 (4 df), p 0.448``.

    A net change is printed as ``share`` prints a share (the caller's percentage format).
    """
    if rule.statistic == "net-change":
        return share(s.net_change)
    if rule.statistic in ("kappa", "lambda"):
        value = chosen(s, rule)
        return "–" if value is None else str(round_half_up(value, 2))
    statistic, df, p = ((s.chi2_individual, s.chi2_individual_df, s.chi2_individual_p)
                        if rule.statistic == "chi-square-individual"
                        else (s.chi2_group, s.chi2_group_df, s.chi2_group_p))
    if statistic is None:
        return "–"
    return f"{round_half_up(statistic, 2)} ({df} df), p {p_text(p)}"


def relevant(s: Stability, rule: StabilitySettings) -> list[Caveat]:
    """The item's caveats that bear on the study's statistic."""
    bearing = ("no_pairs", *RELEVANT[rule.statistic])
    return [c for c in s.caveats if c in bearing]


def notes(s: Stability, rule: StabilitySettings) -> list[str]:
    """The caveats that bear on the study's statistic, in a few words each."""
    return [CAVEATS[c][0] for c in relevant(s, rule)]


def stability(previous_round: int, pairs: Sequence[tuple[int, int]],
              previous_median: float | None, bands: Sequence[Band],
              rule: StabilitySettings | None = None) -> Stability:
    """All the stability figures of one item, and its verdict by the study's ``rule``."""
    rule = rule or StabilitySettings()
    table = cross_table(pairs)
    rows, columns = _margins(table)
    band_of = {v: b.name for b in bands for v in range(b.min, b.max + 1)}
    n = len(pairs)
    changed = [(a, b) for a, b in pairs if a != b]
    towards = None
    if changed and previous_median is not None:
        towards = sum(1 for a, b in changed
                      if abs(b - previous_median) < abs(a - previous_median)) / len(changed)
    z, p = wilcoxon(pairs)
    kappa, kappa_q = weighted_kappa(table, linear), weighted_kappa(table, quadratic)
    lam = goodman_kruskal_lambda(table)
    individual, group = chi_square_individual(table), chi_square_group(table)

    caveats: list[Caveat] = []
    if not n:
        caveats.append("no_pairs")
    else:
        if kappa is None:
            caveats.append("kappa_undefined")
        elif len(rows) == 1 or len(columns) == 1:
            caveats.append("unanimous_round")
        if lam is None:
            caveats.append("lambda_undefined")
        if individual is None:
            caveats.append("chi2_individual_undefined")
        elif individual.min_expected < 5:
            caveats.append("chi2_individual_expected_below_5")
        if group is None:
            caveats.append("chi2_group_undefined")
        elif group.min_expected < 5:
            caveats.append("chi2_group_expected_below_5")

    same = unchanged(table)
    figures = Stability(
        previous_round=previous_round, pairs=n, unchanged=same,
        changed_band=(sum(1 for a, b in pairs if band_of[a] != band_of[b]) / n if n else None),
        net_change=net_change(table), kappa=kappa, kappa_quadratic=kappa_q, lambda_=lam,
        chi2_individual=individual.statistic if individual else None,
        chi2_individual_df=individual.df if individual else None,
        chi2_individual_p=individual.p if individual else None,
        chi2_group=group.statistic if group else None,
        chi2_group_df=group.df if group else None,
        chi2_group_p=group.p if group else None,
        wilcoxon_z=z, wilcoxon_p=p, towards_median=towards, stable=None, caveats=caveats)
    verdict = decide(chosen(figures, rule), same, rule) if n else None
    return figures.model_copy(update={"stable": verdict})
