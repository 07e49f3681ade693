"""`delphi report`: numbers agree with analyse; exports open; formulas stay inert;
Fisher's exact test and the FDR correction against scipy."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from delphi.core.subgroups import benjamini_hochberg, fisher_exact
from tests.conftest import PANEL_YAML, Result

Run = Callable[..., Result]
Make = Callable[..., Path]

PANEL = PANEL_YAML.replace("group: expert}", "group: expert, attributes: {approach: [CBT]}}"
                           ).replace("group: user}", "group: user, attributes: {approach: [DBT]}}")


@settings(max_examples=300, deadline=None)
@given(a=st.integers(0, 30), b=st.integers(0, 30), c=st.integers(0, 30), d=st.integers(0, 30))
def test_fisher_exact_matches_scipy(a: int, b: int, c: int, d: int) -> None:
    expected = sps.fisher_exact([[a, b], [c, d]]).pvalue
    assert fisher_exact(a, b, c, d) == pytest.approx(expected, rel=1e-6, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_benjamini_hochberg_matches_scipy(p: list[float]) -> None:
    assert benjamini_hochberg(p) == pytest.approx(list(sps.false_discovery_control(p)))


def test_report_agrees_with_analyse(make_study: Make, cli: Run, tmp_path: Path) -> None:
    root = make_study(files={"panels/panel.yaml": PANEL},
                      returns="code,1.1,1.2,5.1,5.2,comment:1.1\nE1,8,2,7,5,=HYPERLINK(\"x\")\n"
                              "E2,9,3,7,4,\nU1,7,,9,3,\n")
    analysed = json.loads(cli("analyse", "--study", str(root), "--json").stdout)
    out = tmp_path / "out"
    result = cli("report", "--study", str(root), "--output", str(out), "--by", "approach",
                 "--min-subgroup", "1", "--format", "md,html,xlsx,csv,json")
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 items reached consensus over 1 round(s)" in result.stdout
    data = json.loads((out / "report.json").read_text())
    assert data["response"][0]["overall"]["returned"] == analysed["response"]["returned"]
    consensus = {e["id"]: e["band"] for e in data["consensus"]}
    assert consensus == {i["id"]: i["consensus"] for i in analysed["items"]
                         if i["kind"] == "rating" and i["consensus"]}
    assert data["rules"]["banded"] == 2
    assert [r["id"] for r in data["rankings"][0]["rows"]] == ["5.1", "5.2"]
    assert any(f["attribute"] == "approach" and f["value"] == "CBT" for f in data["subgroups"])
    md = (out / "report.md").read_text()
    assert "Consensus was reached on 2 of 2 items (100.0%): 1 disagree, 1 agree." in md
    assert "| **banded** (the study's) | 2 |" in md

    ratings = list(csv.DictReader(io.StringIO((out / "ratings.csv").read_text())))
    assert len(ratings) == 11  # every rating given, one row each
    assert ratings[0] == {"round": "1", "code": "E1", "group": "expert", "item": "1.1",
                          "dimension": "", "kind": "rating", "rating": "8", "answer": "8"}

    book = openpyxl.load_workbook(out / "report.xlsx")
    assert book.sheetnames == ["Summary", "Round 1", "Comments"]
    comment = book["Comments"]["E2"]
    assert comment.value == '=HYPERLINK("x")'
    assert comment.data_type == "s"  # text, not a formula
    assert book["Round 1"]["A2"].value == "1.1"


def test_spss_export_has_variable_and_value_labels(make_study: Make, cli: Run,
                                                  tmp_path: Path) -> None:
    import pyreadstat

    root = make_study()
    result = cli("report", "--study", str(root), "--format", "sav", "--output", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    frame, meta = pyreadstat.read_sav(str(tmp_path / "report.sav"))
    assert list(frame["code"]) == ["E1", "E2", "U1", "U2"]
    assert list(frame["r1_1_1"].fillna(0)) == [8, 9, 7, 0]
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["r1_1_1"] == "Round 1, 1.1: First statement"
    assert meta.variable_value_labels["r1_1_1"][1.0] == "disagree strongly"
    assert meta.variable_value_labels["r1_5_1"][9.0] == "highest priority"
    assert meta.variable_value_labels["group"] == {1.0: "Expert authors", 2.0: "Service users"}


def test_report_refusals(make_study: Make, cli: Run) -> None:
    root = make_study()
    bad = cli("report", "--study", str(root), "--format", "docx")
    assert bad.exit_code == 2
    assert "--format docx: choose from pdf, html, md, xlsx, csv, json, sav" in bad.stderr
    unknown = cli("report", "--study", str(root), "--by", "shoe_size", "--format", "md")
    assert unknown.exit_code == 2
    assert "--by shoe_size: no panellist has this attribute" in unknown.stderr


def test_full_study_replays_table_17_and_the_report_agrees_with_analyse(tmp_path: Path) -> None:
    """examples/full-study: the three rounds of the reference study, with its response rates."""
    from delphi import actions
    from tests.conftest import ROOT

    full = ROOT / "examples" / "full-study"
    table_17 = {1: {"1.10", "2.3", "2.5", "2.7", "2.8", "2.9", "2.11", "2.13", "2.18", "3.6"},
                2: {"1.14", "2.15", "3.1", "3.2", "3.8"},
                3: {"1.1", "1.12", "1.13", "2.4", "3.5", "4.5"}}
    returned = {1: 88, 2: 84, 3: 80}
    report = actions.report(full, formats=["json"], output=tmp_path).data
    for round_no in (1, 2, 3):
        result = actions.analyse(full, round=round_no, write=False).result
        reached = {i.id for i in result.items if i.kind == "rating" and i.consensus}
        assert reached == table_17[round_no]
        assert result.response.returned == returned[round_no]
        assert {e.id for e in report.consensus if e.round == round_no} == reached
        assert report.response[round_no - 1].overall.returned == returned[round_no]
    assert (report.totals.reached, report.totals.asked) == (21, 54)
    assert report.totals.by_band == {"disagree": 1, "neutral": 0, "agree": 20}
    assert next(e for e in report.consensus if e.id == "1.1").band == "disagree"
    assert next(e for e in report.consensus if e.id == "1.12").text == (
        "Dedicated PD services should be open to self-referral")  # reworded for round 3


def test_subgroups_compare_only_those_with_the_attribute() -> None:
    from delphi.core.models import Band, Panellist
    from delphi.core.subgroups import subgroup_findings
    from delphi.i18n import load_language
    from delphi.render.report import finding

    bands = [Band(name="disagree", min=1, max=3), Band(name="neutral", min=4, max=6),
             Band(name="agree", min=7, max=9)]
    people = [Panellist(code=f"P{k}", name="X", email="x@example.org", group="g",
                        attributes={"approach": ["CBT"] if k < 5 else ["DBT"]} if k < 10 else {})
              for k in range(14)]
    ratings = {f"P{k}": (2 if k < 5 else 8) for k in range(14)}  # P10-P13: no approach
    found = subgroup_findings([("1.1", "A statement", 1, ratings)], people, ["approach"], bands,
                              min_size=5)
    cbt_disagree = next(f for f in found if f.value == "CBT" and f.band == "disagree")
    assert (cbt_disagree.subgroup_n, cbt_disagree.rest_n) == (5, 5)  # not the four without
    assert cbt_disagree.subgroup_share == 1.0 and cbt_disagree.overall_share == 0.5
    assert finding(cbt_disagree, load_language("en")).startswith(
        "100.0% of people with approach CBT disagreed with 'A statement', compared to 50.0% "
        "overall")
    assert not subgroup_findings([("1.1", "A", 1, ratings)], people, ["approach"], bands,
                                 min_size=6)  # subgroups of five are suppressed
