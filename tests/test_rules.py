"""Consensus rules: worked examples, and independent numpy/scipy computations
on random ratings. Quantiles in these tests use numpy's "linear" (R type 7), the default."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delphi.core.models import Band, ConsensusRule
from delphi.core.rules import disagree, item_verdict, verdict
from tests.conftest import STUDY_YAML, Result

Run = Callable[..., Result]
Make = Callable[..., Path]

BANDS = [Band(name="disagree", min=1, max=3), Band(name="neutral", min=4, max=6),
         Band(name="agree", min=7, max=9)]


def judge(rule: str, ratings: list[int], **params: object) -> str | None:
    settings = ConsensusRule(rule=rule, **params)  # type: ignore[arg-type]
    return verdict(settings.rule, settings, Counter(ratings), BANDS, "linear")


# ---------------------------------------------------------------- worked examples


def test_rand_ucla_worked_examples() -> None:
    # Nine panellists split 1,1,2,3 | 7,7,8,9,9: by the table (k = 3) four rate 1-3 and five
    # 7-9, so they disagree; by IPRAS, P30 = 2 + 0.4 = 2.4, P70 = 7 + 0.6 = 7.6, IPR = 5.2 >
    # IPRAS = 2.35 + 1.5 * |5 - 5.0| = 2.35: disagreement too, and no verdict.
    split = [1, 1, 2, 3, 7, 7, 8, 9, 9]
    assert disagree(Counter(split), BANDS, "linear", "table")
    assert disagree(Counter(split), BANDS, "linear", "ipras")
    assert judge("rand-ucla", split) is None
    # 7,7,7,8,8,8,9,9,9: P30 = 7.4, P70 = 8.6, IPR = 1.2 < IPRAS = 2.35 + 1.5 * 3 = 6.85;
    # median 8: appropriate.
    assert judge("rand-ucla", [7, 7, 7, 8, 8, 8, 9, 9, 9]) == "agree"
    # Median 5 without disagreement: uncertain, the middle band.
    assert judge("rand-ucla", [2, 3, 4, 4, 5, 5, 6, 7, 8]) == "neutral"
    # The classic table: 3 of 8-10 raters at each end; 4 of 11-13.
    eleven = [1, 1, 1, 5, 5, 5, 5, 9, 9, 9, 9]
    assert not disagree(Counter(eleven), BANDS, "linear", "table")  # only 3 rate 1-3
    assert disagree(Counter([1, *eleven]), BANDS, "linear", "table")


def test_comet_in_out_and_low_agreement() -> None:
    assert judge("comet", [9] * 7 + [5] * 2 + [1]) == "agree"  # 70 % in, 10 % against
    assert judge("comet", [9] * 7 + [1] * 2 + [5]) is None  # 20 % rate 1-3
    assert judge("comet", [1] * 7 + [5] * 3) == "disagree"  # the mirror rule: out
    low = ConsensusRule(rule="comet", comet_out="low-agreement")
    groups = [Counter([9, 9, 5, 5]), Counter([9, 5, 5, 1])]
    overall = groups[0] + groups[1]
    assert verdict("comet", low, overall, BANDS, "linear", groups) == "disagree"
    groups[0] = Counter([9, 9, 9, 5])  # one group above 50 %: not out
    assert verdict("comet", low, groups[0] + groups[1], BANDS, "linear", groups) is None


def test_iqr_rule_and_half_medians() -> None:
    assert judge("iqr", [7, 8, 8, 8, 9]) == "agree"  # IQR 0
    assert judge("iqr", [1, 5, 9, 9]) is None
    assert judge("iqr", [3, 3, 4, 4]) == "neutral"  # median 3.5 lies between bands
    assert judge("iqr", [5, 5, 7, 7], max_iqr=2) == "neutral"  # median 6


def test_banded_rule_is_the_default() -> None:
    assert judge("banded", [7, 8, 9, 2]) == "agree"
    assert judge("banded", [7, 8, 2, 2]) is None


def test_scopes() -> None:
    rule = ConsensusRule(rule="banded", scope="every-group")
    groups = {"a": Counter([8, 8, 8, 8]), "b": Counter([8, 8, 8, 2]), "c": Counter()}
    overall = groups["a"] + groups["b"]
    assert item_verdict("banded", rule, overall, groups, BANDS, "linear") == "agree"
    groups["b"] = Counter([8, 8, 2, 2])
    assert item_verdict("banded", rule, groups["a"] + groups["b"], groups, BANDS,
                        "linear") is None
    anyone = ConsensusRule(rule="banded", scope="any-group")
    assert item_verdict("banded", anyone, Counter(), groups, BANDS, "linear") == "agree"
    groups["b"] = Counter([2, 2, 2, 2])  # two groups, two different verdicts
    assert item_verdict("banded", anyone, Counter(), groups, BANDS, "linear") is None


# ---------------------------------------------------------------- independent computations


def oracle(rule: str, ratings: list[int]) -> str | None:
    """The rules re-implemented from their definitions with numpy."""
    x = np.array(ratings)
    share = {b.name: float(np.mean((x >= b.min) & (x <= b.max))) for b in BANDS}
    median = float(np.median(x))

    def band_of_median() -> str:
        for b in BANDS:
            if b.min <= median <= b.max:
                return b.name
        return "neutral"

    if rule == "banded":
        hits = [b for b, s in share.items() if s >= 0.75 - 1e-12]
        return hits[0] if hits else None
    if rule == "comet":
        if share["agree"] >= 0.70 - 1e-12 and share["disagree"] < 0.15 - 1e-12:
            return "agree"
        if share["disagree"] >= 0.70 - 1e-12 and share["agree"] < 0.15 - 1e-12:
            return "disagree"
        return None
    if rule == "rand-ucla":
        p30, p70 = np.quantile(x, [0.30, 0.70], method="linear")
        if p70 - p30 > 2.35 + 1.5 * abs(5 - (p30 + p70) / 2) + 1e-9:
            return None
        return band_of_median()
    q1, q3 = np.quantile(x, [0.25, 0.75], method="linear")
    return band_of_median() if q3 - q1 <= 1 + 1e-9 else None


@settings(max_examples=300, deadline=None)
@given(ratings=st.lists(st.integers(1, 9), min_size=1, max_size=60),
       rule=st.sampled_from(["banded", "comet", "rand-ucla", "iqr"]))
def test_rules_match_an_independent_computation(ratings: list[int], rule: str) -> None:
    assert judge(rule, ratings) == oracle(rule, ratings)


# ---------------------------------------------------------------- in the analysis and CLI


def test_analyse_rules_side_by_side(make_study: Make, cli: Run) -> None:
    root = make_study()
    result = cli("analyse", "--study", str(root), "--rules", "comet,banded,iqr,rand-ucla")
    assert result.exit_code == 0, result.stderr
    assert "Consensus under each rule" in result.stdout
    data = __import__("json").loads(cli("analyse", "--study", str(root), "--json", "--rules",
                                        "banded,comet").stdout)
    assert data["items"][0]["rules"] == {"banded": "agree", "comet": "agree"}
    stored = __import__("json").loads((root / "rounds/round-1/results.json").read_text())
    assert "rules" not in stored["items"][0]  # the files hold the study's own rule only
    bad = cli("analyse", "--study", str(root), "--rules", "banded,delphi")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == ("error: --rules: unknown rule 'delphi'; choose from banded, "
                                  "comet, rand-ucla, iqr")


def test_study_rule_decides_consensus(make_study: Make, cli: Run) -> None:
    study = STUDY_YAML.replace("consensus: {rule: banded, threshold: 0.75}",
                               "consensus: {rule: iqr, max_iqr: 0.5}")
    root = make_study(files={"study.yaml": study})
    data = __import__("json").loads(cli("analyse", "--study", str(root), "--json").stdout)
    # 1.1 = 8, 9, 7: IQR 1 > 0.5, no consensus; 1.2 = 2, 3: IQR 0.5, disagree.
    assert [i["consensus"] for i in data["items"][:2]] == [None, "disagree"]


def test_stability_in_round_2_and_the_consensus_and_stable_stop_rule(make_study: Make,
                                                                      cli: Run) -> None:
    study = STUDY_YAML + "stability: {limit: 0.15, required: true}\n"
    root = make_study(files={"study.yaml": study},
                      returns="code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,8,1,9,3\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    first = cli("new-round", "--study", str(root), "--workers", "1")
    assert first.exit_code == 0, first.stderr
    from delphi.store.study import Study

    # Consensus in round 1, but stability needs two rounds: both items are asked again.
    assert Study(root).manifest(2).item_ids() == ["1.1", "1.2"]
    (root / "rounds/round-2/returns").mkdir()
    (root / "rounds/round-2/returns/r.csv").write_text("code,1.1,1.2\nE1,9,2\nE2,9,5\nU1,8,1\n")
    analysed = __import__("json").loads(cli("analyse", "--study", str(root), "--json").stdout)
    s11, s12 = (analysed["items"][i]["stability"] for i in (0, 1))
    assert (s11["pairs"], s11["net_change"], s11["stable"]) == (3, 0.0, True)
    assert s12["changed_band"] == pytest.approx(1 / 3) and s12["stable"] is False
    assert cli("new-round", "--study", str(root), "--workers", "1").exit_code == 0
    assert Study(root).manifest(3).item_ids() == ["1.2"]  # 1.1: consensus and stable


def test_random_study_rules_in_the_analysis() -> None:
    from delphi.core.analysis import analyse_round
    from tests.test_analysis import SETTINGS, _manifest

    rng = random.Random(7)
    from delphi.core.models import Panellist, PanelReturn, Roster

    people = [Panellist(code=f"P{k}", name="X", email="x@example.org",
                        group=rng.choice("abc")) for k in range(30)]
    returns = [PanelReturn(code=p.code, ratings={f"i{k}": rng.randint(1, 9) for k in range(8)})
               for p in people]
    result = analyse_round(SETTINGS, _manifest(8, [p.code for p in people]),
                           Roster(panellists=people), returns,
                           rules=["banded", "comet", "rand-ucla", "iqr"])
    same = {"low": "disagree", "mid": "neutral", "high": "agree", None: None}  # band names
    for item in result.items:
        ratings = [r.ratings[item.id] for r in returns]
        for name, got in (item.rules or {}).items():
            assert same[got] == oracle(name, ratings)
