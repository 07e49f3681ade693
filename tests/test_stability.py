"""Stability between rounds: every number contentvalidR's author states for the published
tables (Chaffin & Talley 1980, Dajani et al. 1979, Cohen 1968) and the package's examples,
from tests/data/peers/contentvalidr/ (tolerances as stated there); scipy and numpy oracles on
random paired rounds; caveats, settings and the stop rule."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from delphi.core.models import Band, StabilitySettings
from delphi.core.stability import (
    chi2_sf,
    chi_square,
    chi_square_group,
    chi_square_individual,
    cross_table,
    goodman_kruskal_lambda,
    linear,
    net_change,
    quadratic,
    stability,
    unchanged,
    weighted_kappa,
    wilcoxon,
)
from tests.conftest import STUDY_YAML, Result
from tests.peerstudy import long_study, read_long

PEER = Path(__file__).parent / "data" / "peers" / "contentvalidr"
Run = Callable[..., Result]
Make = Callable[..., Path]

BANDS_9 = [Band(name="disagree", min=1, max=3), Band(name="neutral", min=4, max=6),
           Band(name="agree", min=7, max=9)]
BANDS_3 = [Band(name="low", min=1, max=1), Band(name="mid", min=2, max=2),
           Band(name="high", min=3, max=3)]


def rows(name: str) -> list[dict[str, str]]:
    with (PEER / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def crosstab(table: str) -> Counter[tuple[int, int]]:
    """Chaffin & Talley's table: (round-2 category, round-3 category) -> experts."""
    return Counter({(int(r["round2_category"]), int(r["round3_category"])): int(r["count"])
                    for r in rows("chaffin_talley_1980_crosstabs.csv") if r["table"] == table})


def long_pairs(table: str) -> list[tuple[int, int]]:
    """The same table from the long file: one (round 2, round 3) pair per expert."""
    by_expert: dict[str, dict[int, int]] = defaultdict(dict)
    for r in rows("chaffin_talley_1980_long.csv"):
        if r["table"] == table:
            by_expert[r["expert"]][int(r["round"])] = int(r["rating"])
    return [(x[2], x[3]) for x in by_expert.values()]


def rel(expected: float, tolerance: float) -> object:
    """R's expect_equal(x, expected, tolerance): relative difference within tolerance."""
    return pytest.approx(expected, rel=tolerance)


# ---------------------------------------------------------------- the published tables


@pytest.mark.parametrize("table", ["2a", "3a"])
def test_the_long_file_is_the_crosstab(table: str) -> None:
    assert cross_table(long_pairs(table)) == crosstab(table)
    assert len(long_pairs(table)) == 122


def test_chaffin_talley_2a() -> None:
    pairs = long_pairs("2a")
    s = stability(2, pairs, None, BANDS_3, StabilitySettings(statistic="chi-square-individual"))
    # Individual chi-square 196.43 (the paper printed 197.5 from rounded expected counts).
    assert s.chi2_individual == rel(196.43, 1e-4)
    assert s.chi2_individual_df == 4
    assert s.stable is True  # p < 0.05: the later ratings depend on the earlier ones
    assert s.lambda_ == pytest.approx(0.85, abs=1e-12)
    assert s.kappa_quadratic == pytest.approx(0.9188, abs=5e-5)  # the author's own value


def test_chaffin_talley_3a() -> None:
    pairs = long_pairs("3a")
    s = stability(2, pairs, None, BANDS_3, StabilitySettings(statistic="chi-square-individual"))
    assert s.chi2_individual == rel(3.70, 1e-3)  # paper: 3.79
    assert s.stable is False
    assert s.chi2_group == rel(1.516, 1e-3)  # same marginals as the paper's Table 1
    assert s.lambda_ == 0
    assert s.net_change == pytest.approx(9 / 122, abs=1e-15)
    assert s.unchanged == pytest.approx(55 / 122, abs=1e-15)
    assert s.kappa_quadratic == pytest.approx(0.1254, abs=5e-5)
    by = {name: stability(2, pairs, None, BANDS_3, StabilitySettings(statistic=name)).stable
          for name in ("chi-square-group", "lambda", "net-change")}
    # Each statistic read in its own direction: the group test sees stable distributions,
    # lambda sees no predictability, the net change 9/122 is below 15 %.
    assert by == {"chi-square-group": True, "lambda": False, "net-change": True}


def test_group_distribution_tables() -> None:
    tables: dict[str, list[list[int]]] = defaultdict(list)
    for r in rows("group_distribution_tables.csv"):
        tables[r["source"]].append([int(r["cat1"]), int(r["cat2"]), int(r["cat3"])])
    dajani = chi_square(tables["dajani_1979_table3_pooled"])
    assert dajani is not None
    assert dajani.statistic == rel(0.1385281, 1e-6) and dajani.df == 2
    chaffin = chi_square(tables["chaffin_talley_1980_table1"])
    assert chaffin is not None and chaffin.statistic == rel(1.516, 1e-3)
    # The group test on the pairs of Table 3a gives the same table, so the same statistic.
    group = chi_square_group(crosstab("3a"))
    assert group is not None and group.statistic == pytest.approx(chaffin.statistic)


def test_cohen_1968_weighted_kappa() -> None:
    counts = Counter({(int(r["judgeB_category"]), int(r["judgeA_category"])): int(r["count"])
                      for r in rows("cohen_1968_table1.csv")})
    assert sum(counts.values()) == 200
    weights: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for r in rows("cohen_1968_weights.csv"):
        weights[r["matrix"]][int(r["judgeB_category"]), int(r["judgeA_category"])] = float(
            r["weight"])
    got = {}
    for name, matrix in weights.items():
        value = weighted_kappa(counts, lambda i, j, m=matrix: m[i, j])
        assert value is not None
        got[name] = round(value, 3)
    assert got == {"unweighted": 0.492, "cohen_v": 0.348, "cohen_v_swapped": 0.574,
                   "validity": 0.353}


def test_lambda_undefined_when_the_later_round_is_unanimous() -> None:
    table = Counter({(1, 2): 5, (2, 2): 3, (3, 2): 2})
    assert goodman_kruskal_lambda(table) is None
    s = stability(1, list(table.elements()), None, BANDS_3, StabilitySettings(statistic="lambda"))
    assert "lambda_undefined" in s.caveats and s.stable is None


def test_a_unanimous_round_gives_kappa_0_flagged() -> None:
    bands = [Band(name="no", min=1, max=2), Band(name="yes", min=3, max=4)]
    kappa = StabilitySettings(statistic="kappa")
    s = stability(1, [(4, 4)] * 9 + [(3, 4)], None, bands, kappa)
    assert (s.unchanged, s.kappa_quadratic, s.kappa) == (0.9, 0.0, 0.0)
    assert "unanimous_round" in s.caveats and s.stable is False
    both = stability(1, [(4, 4)] * 5, None, bands, kappa)
    assert both.kappa is None and both.kappa_quadratic is None and both.unchanged == 1
    assert "kappa_undefined" in both.caveats
    assert both.stable is True  # everyone kept their rating: stable whatever the statistic
    assert both.chi2_individual is None and both.chi2_group is None
    assert {"chi2_individual_undefined", "chi2_group_undefined"} <= set(both.caveats)


# ---------------------------------------------------------------- the package's examples


SCALE_4 = """\
title: {title}
scale: {{min: 1, max: 4}}
bands:
  - {{name: disagree, min: 1, max: 2}}
  - {{name: agree, min: 3, max: 4}}
consensus: {{rule: banded, threshold: 0.75}}
groups:
  - {{id: expert, label: Experts}}
stability: {{statistic: kappa, weights: quadratic}}
"""


def analysed(cli: Run, root: Path, round_no: int) -> dict[str, Any]:
    result = cli("analyse", "--study", str(root), "--round", str(round_no), "--json")
    assert result.exit_code == 0, result.stderr
    return {i["id"]: i for i in json.loads(result.stdout)["items"]}


def test_vignette_consensus_and_stability(tmp_path: Path, cli: Run) -> None:
    # 10 experts, 6 statements, 3 rounds on 1-4; E10 leaves after round 2, S1 is set aside
    # after round 2. Consensus: at least 75 % rate 3 or 4 in the item's last round.
    root = long_study(tmp_path / "vignette", read_long(PEER / "vignette_delphi_rounds.csv"),
                      SCALE_4.format(title="contentvalidR vignette"))
    r2, r3 = analysed(cli, root, 2), analysed(cli, root, 3)
    last = {**r2, **r3}
    assert sorted(last) == ["S1", "S2", "S3", "S4", "S5", "S6"] and "S1" not in r3
    agree = {i: x["bands"]["agree"] for i, x in last.items()}
    assert {i for i, x in last.items() if x["consensus"] == "agree"} == {"S1", "S2", "S5"}
    assert agree["S3"] == 0 and last["S3"]["consensus"] == "disagree"  # the other direction
    assert round(agree["S4"], 2) == 0.56 and last["S4"]["consensus"] is None
    assert last["S6"]["consensus"] is None

    def stab(r: dict[str, Any], item: str) -> dict[str, Any]:
        value: dict[str, Any] = r[item]["stability"]
        return value

    for item in ("S3", "S4"):  # kappa >= 0.83 in both pairs of rounds (as printed, 2 dp)
        assert all(round(stab(r, item)["kappa_quadratic"], 2) >= 0.83
                   for r in (r2, r3))
    s2 = stab(r3, "S2")  # round 3 unanimous: 89 % kept their rating, kappa 0
    assert (s2["pairs"], round(s2["unchanged"], 2), s2["kappa_quadratic"]) == (9, 0.89, 0.0)
    assert "unanimous_round" in s2["caveats"]
    assert round(stab(r2, "S5")["kappa_quadratic"], 2) == 0.63
    assert round(stab(r3, "S5")["kappa_quadratic"], 2) == 0.53
    s6 = [stab(r, "S6") for r in (r2, r3)]
    assert [x["unchanged"] for x in s6] == [0, 0]
    assert all(x["kappa_quadratic"] < 0 for x in s6)
    assert [round(x["net_change"], 2) for x in s6] == [0.0, 0.11]
    shown = cli("analyse", "--study", str(root), "--round", "3").stdout
    assert "│ unanimous" in shown  # the S2 row's note, and what it means below the table
    assert "Notes: unanimous round: everyone gave the same rating in one of the two" in shown


def test_small_fixture_consensus(tmp_path: Path, cli: Run) -> None:
    root = long_study(tmp_path / "small", read_long(PEER / "test_small_delphi.csv"),
                      SCALE_4.format(title="contentvalidR test fixture"))
    r2 = analysed(cli, root, 2)
    assert r2["S1"]["bands"]["agree"] == 1 and r2["S1"]["consensus"] == "agree"
    assert r2["S2"]["consensus"] == "disagree"  # no consensus on agreement: other direction
    assert sorted(i for i, x in r2.items() if x["consensus"] == "agree") == ["S1", "S3", "S4"]


# ---------------------------------------------------------------- oracles on random rounds


paired = st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=80)


def matrix(pairs: list[tuple[int, int]]) -> np.ndarray:
    m = np.zeros((9, 9))
    for a, b in pairs:
        m[a - 1, b - 1] += 1
    return m


@settings(max_examples=200, deadline=None)
@given(pairs=paired)
def test_kappas_match_a_matrix_computation(pairs: list[tuple[int, int]]) -> None:
    observed = matrix(pairs) / len(pairs)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    d = np.abs(np.subtract.outer(np.arange(9), np.arange(9)))
    for weights, power in ((linear, 1), (quadratic, 2)):
        v = d ** power
        chance = (v * expected).sum()
        value = weighted_kappa(cross_table(pairs), weights)
        if chance < 1e-12:
            assert value is None
        else:
            assert value == pytest.approx(1 - (v * observed).sum() / chance, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2,
                      max_size=40))
def test_quadratic_kappa_is_the_fleiss_cohen_anova_form(pairs: list[tuple[int, int]]) -> None:
    # Fleiss & Cohen (1973): (SS_subjects - SS_error) / (SS_subjects + 2 SS_rounds + SS_error)
    # of the two-way layout panellist x round, one observation per cell.
    y = np.array(pairs, dtype=float)
    n = len(y)
    grand = y.mean()
    ss_subjects = 2 * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_rounds = n * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((y - grand) ** 2).sum() - ss_subjects - ss_rounds
    denominator = ss_subjects + 2 * ss_rounds + ss_error
    value = weighted_kappa(cross_table(pairs), quadratic)
    if denominator < 1e-9:
        assert value is None
    else:
        assert value == pytest.approx((ss_subjects - ss_error) / denominator, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(pairs=paired)
def test_counts_lambda_and_chi_squares_match_numpy_and_scipy(
        pairs: list[tuple[int, int]]) -> None:
    table, m = cross_table(pairs), matrix(pairs)
    n = len(pairs)
    rows_, cols = m.sum(axis=1), m.sum(axis=0)
    assert unchanged(table) == pytest.approx(np.trace(m) / n)
    assert net_change(table) == pytest.approx(np.abs(rows_ - cols).sum() / 2 / n)
    lam = goodman_kruskal_lambda(table)
    if cols.max() == n:
        assert lam is None
    else:
        assert lam == pytest.approx((m.max(axis=1).sum() - cols.max()) / (n - cols.max()))

    occupied = m[rows_ > 0][:, cols > 0]
    individual = chi_square_individual(table)
    if min(occupied.shape) < 2:
        assert individual is None
    else:
        ref = sps.chi2_contingency(occupied, correction=False)
        assert individual is not None
        assert individual.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
        assert individual.df == ref.dof
        assert individual.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        assert individual.min_expected == pytest.approx(ref.expected_freq.min())

    two = np.vstack([rows_, cols])
    two = two[:, two.sum(axis=0) > 0]
    group = chi_square_group(table)
    if two.shape[1] < 2:
        assert group is None
    else:
        ref = sps.chi2_contingency(two, correction=False)
        assert group is not None
        assert group.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
        assert (group.df, group.p) == (ref.dof, pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300))


@settings(max_examples=300, deadline=None)
@given(x=st.floats(0, 2000, allow_nan=False), df=st.integers(1, 80))
def test_chi2_survival_matches_scipy(x: float, df: int) -> None:
    assert chi2_sf(x, df) == pytest.approx(sps.chi2.sf(x, df), rel=1e-10, abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(pairs=paired)
def test_wilcoxon_matches_scipy(pairs: list[tuple[int, int]]) -> None:
    z, p = wilcoxon(pairs)
    diffs = [b - a for a, b in pairs]
    if not any(diffs):
        assert z is None and p is None
        return
    expected = sps.wilcoxon([b for _, b in pairs], [a for a, _ in pairs], zero_method="wilcox",
                            correction=False, method="approx")
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


def test_stability_worked_example() -> None:
    before = [7, 7, 8, 5, 2]
    after = [7, 8, 8, 7, 3]
    pairs = list(zip(before, after, strict=True))
    # Distributions: {2,5,7,7,8} -> {3,7,7,8,8}: 2 and 5 go, 3 and 8 come: net change 40 %.
    s = stability(1, pairs, 7.0, BANDS_9)
    assert s.net_change == pytest.approx(0.4)
    assert s.pairs == 5 and s.unchanged == pytest.approx(0.4)  # 7 -> 7 and 8 -> 8
    assert s.changed_band == pytest.approx(0.2)  # 5 -> 7 only
    assert s.stable is False
    # Changed: 7->8 (away from 7), 5->7 (towards), 2->3 (towards): two of three.
    assert s.towards_median == pytest.approx(2 / 3)
    assert s.chi2_individual_p is not None and "chi2_individual_expected_below_5" in s.caveats


# ---------------------------------------------------------------- settings and the stop rule


@pytest.mark.parametrize(("yaml", "message"), [
    ("{statistic: kappa, alpha: 0.05}",
     "stability: alpha does not apply to statistic kappa; its cut-off is threshold"),
    ("{statistic: lambda, weights: linear}",
     "stability: weights apply to kappa only, not to lambda"),
    ("{statistic: net-change, threshold: 0.2}",
     "stability: threshold does not apply to statistic net-change; its cut-off is limit"),
    ("{statistic: lambda, threshold: -0.5}",
     "stability: threshold -0.5: lambda lies between 0 and 1"),
    ("{statistic: chi-square-group, alpha: 5}",
     "stability.alpha: Input should be less than 1 (got 5)"),
])
def test_stability_settings_errors_name_the_line_and_the_fix(make_study: Make, cli: Run,
                                                             yaml: str, message: str) -> None:
    root = make_study(files={"study.yaml": STUDY_YAML + f"stability: {yaml}\n"})
    result = cli("validate", "--study", str(root))
    assert result.exit_code == 2
    line = len(STUDY_YAML.splitlines()) + 1
    assert f"study.yaml:{line}: {message}" in result.stdout + result.stderr


def test_stability_settings_defaults_and_shorthand() -> None:
    assert StabilitySettings().in_force() == {"statistic": "net-change", "limit": 0.15,
                                              "required": False}
    assert StabilitySettings(limit=0.2, required=True).cutoff == 0.2  # today's keys
    assert StabilitySettings.model_validate("kappa").in_force() == {
        "statistic": "kappa", "weights": "quadratic", "threshold": 0.6, "required": False}
    assert StabilitySettings(statistic="chi-square-group").cutoff == 0.05


def test_kappa_decides_the_stop_rule_and_the_terminal_shows_it(make_study: Make,
                                                                cli: Run) -> None:
    study = STUDY_YAML + ("stability: {statistic: kappa, weights: linear, threshold: 0.5, "
                          "required: true}\n")
    root = make_study(files={"study.yaml": study},
                      returns="code,1.1,1.2\nE1,9,1\nE2,8,2\nU1,7,3\nU2,9,2\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    assert cli("new-round", "--study", str(root), "--workers", "1").exit_code == 0
    from delphi.store.study import Study

    assert Study(root).manifest(2).item_ids() == ["1.1", "1.2"]
    # 1.1 keeps every rating: kappa 1, stable. 1.2 keeps the ratings' spread but not who
    # gave them: kappa below 0.5, not stable although consensus holds.
    (root / "rounds/round-2/returns").mkdir()
    (root / "rounds/round-2/returns/r.csv").write_text(
        "code,1.1,1.2\nE1,9,2\nE2,8,1\nU1,7,2\nU2,9,3\n")
    data = json.loads(cli("analyse", "--study", str(root), "--json").stdout)
    s11, s12 = (data["items"][i]["stability"] for i in (0, 1))
    assert (s11["kappa"], s11["stable"]) == (1.0, True)
    assert s12["kappa"] < 0.5 and s12["stable"] is False
    assert data["stability_rule"] == {"statistic": "kappa", "weights": "linear",
                                      "threshold": 0.5, "required": True}
    shown = cli("analyse", "--study", str(root)).stdout
    assert "stable: weighted kappa (linear weights) of at least 0.5" in shown
    table = shown[shown.index("Stability since round 1"):]
    row = next(line for line in table.splitlines() if line.startswith("1.1 "))
    assert "1.00" in row and "✔" in row
    assert cli("new-round", "--study", str(root), "--workers", "1").exit_code == 0
    assert Study(root).manifest(3).item_ids() == ["1.2"]


def test_report_and_workbook_show_the_studys_statistic(tmp_path: Path, cli: Run) -> None:
    study = SCALE_4.format(title="Vignette").replace(
        "stability: {statistic: kappa, weights: quadratic}",
        "stability: {statistic: chi-square-individual, alpha: 0.05}")
    root = long_study(tmp_path / "vignette", read_long(PEER / "vignette_delphi_rounds.csv"),
                      study)
    out = tmp_path / "out"
    result = cli("report", "--study", str(root), "--format", "md,xlsx,json", "--output",
                 str(out))
    assert result.exit_code == 0, result.stderr
    md = (out / "report.md").read_text()
    method = md.split("## Method\n\n")[1].split("\n")[0]
    assert ("Stability between consecutive rounds was judged over the panellists who rated an "
            "item in both rounds, by the individual chi-square test (Chaffin & Talley 1980) "
            "significant at p < 0.05") in method
    section = md.split("## Stability between rounds\n\n")[1].split("\n## ")[0]
    assert "Round 2: 5 of 6 items stable; round 3: 4 of 5 items stable." in section
    assert "| Item | Rounds | Pairs | Unchanged | Chi² (individual) | Stable | Note |" in section
    # S3, rounds 2 to 3: everyone kept their rating, 1 or 2: a perfect 2 x 2 association has
    # chi-square n = 9 with 1 df. S6: everyone changed, by a fixed permutation of 1-4: a
    # perfect 4 x 4 association, chi-square n (k - 1) = 27 with 9 df, "stable" though nobody
    # kept a rating (the critique of this test).
    assert "| S3 | 2–3 | 9 | 100.0% | 9.00 (1 df), p 0.003 | yes | expected < 5 |" in section
    assert "| S6 | 2–3 | 9 | 0.0% | 27.00 (9 df), p 0.001 | yes | expected < 5 |" in section
    # S2 in round 3 is unanimous: the test cannot be computed, and not everyone kept theirs.
    assert "| S2 | 2–3 | 9 | 88.9% | – | – | a round used one rating |" in section

    import openpyxl

    sheet = openpyxl.load_workbook(out / "report.xlsx")["Stability"]
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][0] == ("Stable: individual chi-square test (Chaffin & Talley 1980) "
                           "significant at p < 0.05 (the ratings depend on the previous "
                           "round's)")
    header = cells[1]
    assert header[7] == "Chi² (individual) p (the study's)"
    s3 = next(row for row in cells[2:] if row[:3] == (3, 2, "S3"))
    assert s3[7] == pytest.approx(sps.chi2.sf(9, 1)) and s3[8] is True
    assert s3[header.index("lambda")] == 1 and s3[header.index("kappa_quadratic")] == 1
    data = json.loads((out / "report.json").read_text())
    assert {"lambda", "kappa_quadratic", "caveats"} <= set(data["stability"][0]["figures"])
