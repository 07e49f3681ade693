"""Statistics: hand-worked cases, the Table 18 tie rule, and numpy as an independent oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delphi.core.models import Band
from delphi.core.rules import banded
from delphi.core.stats import diverges, quantile, rank, round_half_up, summarise

BANDS = [Band(name="disagree", min=1, max=3), Band(name="neutral", min=4, max=6),
         Band(name="agree", min=7, max=9)]
NUMPY_METHOD = {"linear": "linear", "spss": "weibull"}


def consensus(values: list[int], threshold: float = 0.75) -> str | None:
    return banded(counts(values), BANDS, threshold)


def counts(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# ---------------------------------------------------------------- hand-worked examples


def test_readme_worked_example() -> None:
    # The README's example: ratings 2, 4, 7, 8, 9 (n = 5).
    # linear: Q1 at h = 0.25*4 + 1 = 2 -> x2 = 4; Q3 at h = 4 -> x4 = 8; IQR 4.
    # spss:   Q1 at h = 0.25*6 = 1.5 -> 2 + 0.5*(4-2) = 3; Q3 at h = 4.5 -> 8.5; IQR 5.5.
    ratings = counts([2, 4, 7, 8, 9])
    assert quantile(ratings, 0.25, "linear") == 4.0
    assert quantile(ratings, 0.75, "linear") == 8.0
    assert quantile(ratings, 0.25, "spss") == 3.0
    assert quantile(ratings, 0.75, "spss") == 8.5
    assert quantile(ratings, 0.5, "linear") == quantile(ratings, 0.5, "spss") == 7.0


def test_even_count_median_is_the_mean_of_the_middle_two() -> None:
    assert quantile(counts([7, 8]), 0.5) == 7.5
    assert quantile(counts([1, 2, 3, 9]), 0.5, "spss") == 2.5


def test_single_rating_every_quantile_is_that_rating() -> None:
    for method in ("linear", "spss"):
        for p in (0.25, 0.5, 0.75):
            assert quantile({6: 1}, p, method) == 6.0  # type: ignore[arg-type]


def test_summary_of_a_small_item() -> None:
    s = summarise([8, 9, 7, 2], BANDS)
    assert (s.n, s.unsure, s.denominator, s.median, s.q1, s.q3) == (4, 0, 4, 7.5, 5.75, 8.25)
    assert s.iqr == pytest.approx(2.5)
    assert s.mean == 6.5
    assert s.bands == {"disagree": 0.25, "neutral": 0.0, "agree": 0.75}
    assert s.consensus is None  # the rules fill it in
    assert consensus([8, 9, 7, 2]) == "agree"  # 3 of 4 is exactly 75 %: consensus
    assert banded(counts([8, 9, 7, 2]), BANDS, 0.75, strict=True) is None  # not more than 75 %


def test_just_below_threshold_is_no_consensus() -> None:
    assert consensus([7] * 74 + [5] * 26) is None
    assert consensus([7] * 75 + [5] * 25) == "agree"


def test_threshold_compared_exactly_for_awkward_fractions() -> None:
    # 0.7 * 10 is 7.000000000000001 in floating point; 7 of 10 must still count as 70 %.
    assert consensus([8] * 7 + [2] * 3, 0.7) == "agree"


def test_disagreement_consensus() -> None:
    assert consensus([1, 2, 3, 2, 5]) == "disagree"


def test_no_ratings_gives_nulls() -> None:
    s = summarise([], BANDS)
    assert s.n == s.denominator == 0 and consensus([]) is None
    assert s.median is s.q1 is s.q3 is s.iqr is s.mean is s.consensus is None
    assert s.bands == {"disagree": None, "neutral": None, "agree": None}


def test_divergence_ignores_groups_without_ratings() -> None:
    assert diverges([5.0, 7.0, None], 2)
    assert not diverges([5.0, 6.5], 2)
    assert not diverges([5.0, None, None], 2)


def test_round_half_up_as_on_paper() -> None:
    assert str(round_half_up(7.45)) == "7.5"
    assert str(round_half_up(7.449)) == "7.4"
    assert str(round_half_up(6.25)) == "6.3"


# ---------------------------------------------------------------- ranks (Table 18)


def test_table_18_ranks_from_its_own_figures() -> None:
    # Total median (mean) of Table 18 of the reference study, and its rank column.
    table = {
        "stigma": (8.0, 7.4, 1), "psychological": (8.0, 7.4, 1), "day": (7.0, 7.1, 3),
        "consultation": (7.0, 7.1, 3), "employment": (7.0, 6.8, 5),
        "organisational": (7.0, 6.8, 5), "case-management": (7.0, 6.6, 7),
        "workers": (7.0, 6.2, 8), "network": (6.0, 6.3, 9), "tc": (5.0, 5.3, 10),
        "inpatient": (5.0, 5.0, 11),
    }
    ranks = rank((k, med, mean) for k, (med, mean, _) in table.items())
    assert ranks == {k: r for k, (_, _, r) in table.items()}


def test_rank_ties_use_the_mean_rounded_to_one_decimal() -> None:
    ranks = rank([("a", 7.0, 6.84), ("b", 7.0, 6.76), ("c", 7.0, 6.74), ("d", None, None)])
    assert ranks == {"a": 1, "b": 1, "c": 3, "d": None}


def test_rank_by_median_before_mean() -> None:
    ranks = rank([("high-mean", 6.0, 6.9), ("high-median", 7.0, 6.2)])
    assert ranks == {"high-median": 1, "high-mean": 2}


# ---------------------------------------------------------------- numpy oracle

ratings = st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(values=ratings, method=st.sampled_from(["linear", "spss"]))
def test_quartiles_match_numpy(values: list[int], method: str) -> None:
    s = summarise(values, BANDS, method)  # type: ignore[arg-type]
    q1, med, q3 = np.quantile(np.array(values), [0.25, 0.5, 0.75], method=NUMPY_METHOD[method])
    assert s.q1 == pytest.approx(q1, abs=1e-9)
    assert s.median == pytest.approx(med, abs=1e-9)
    assert s.q3 == pytest.approx(q3, abs=1e-9)
    assert s.iqr == pytest.approx(q3 - q1, abs=1e-9)
    assert s.mean == pytest.approx(float(np.mean(values)))
    assert s.n == len(values)


@settings(max_examples=200, deadline=None)
@given(values=ratings, threshold=st.sampled_from([0.6, 0.7, 0.75, 0.8, 1.0]))
def test_bands_and_consensus_match_a_direct_count(values: list[int], threshold: float) -> None:
    s = summarise(values, BANDS)
    arr = np.array(values)
    shares = {b.name: float(np.mean((arr >= b.min) & (arr <= b.max))) for b in BANDS}
    assert s.bands == pytest.approx(shares)
    assert sum(s.bands.values()) == pytest.approx(1.0)  # type: ignore[arg-type]
    in_band = {b.name: int(((arr >= b.min) & (arr <= b.max)).sum()) for b in BANDS}
    # integer percentages: an exact comparison the float threshold cannot spoil
    expected = [b for b, c in in_band.items() if c * 100 >= round(threshold * 100) * len(arr)]
    assert consensus(values, threshold) == (expected[0] if expected else None)


@settings(max_examples=100, deadline=None)
@given(values=ratings)
def test_quartiles_are_ordered_and_on_the_scale(values: list[int]) -> None:
    for method in ("linear", "spss"):
        s = summarise(values, BANDS, method)  # type: ignore[arg-type]
        assert min(values) <= s.q1 <= s.median <= s.q3 <= max(values)  # type: ignore[operator]
