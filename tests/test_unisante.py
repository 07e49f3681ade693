"""Unisanté's demo Delphi ("Delphi fast-track", tests/data/peers/unisante/).

The raw round-2 and round-3 ratings become a study (item bank, roster, one manifest per
round), the returns go in through ``delphi import`` and out through ``delphi analyse --json``,
and every number of their executive summary is reproduced exactly: returns, n, "no opinion"
answers (the study's unsure answer), Q1, median and Q3 (R type 7), the response rate, and their
verdict (agreement: median 7 or more, disagreement: 3 or less; consensus: IQR 3 or less), which
is delphi's ``iqr`` rule with ``max_iqr: 3``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import Result
from tests.peerstudy import Rating, long_study

PEER = Path(__file__).parent / "data" / "peers" / "unisante"
Run = Callable[..., Result]

STUDY_YAML = """\
title: Delphi fast-track – Puff Bars (Unisanté demo)
scale: {min: 1, max: 9}
anchors: {1: Désaccord total, 3: Désaccord, 5: Neutre, 7: Accord, 9: Accord total}
bands:
  - {name: disagree, min: 1, max: 3}
  - {name: neutral,  min: 4, max: 6}
  - {name: agree,    min: 7, max: 9}
consensus: {rule: iqr, max_iqr: 3}
quartiles: linear
unsure: {code: X, label: "Pas d'avis"}
groups:
  - {id: expert, label: Experts}
"""

RATING = re.compile(r"^dft(?P<round>[23])_(?P<section>[a-z])_s(?P<number>\d+)_type1$")


def sheet(name: str) -> list[dict[str, Any]]:
    rows = list(openpyxl.load_workbook(PEER / name, read_only=True).active.iter_rows(
        values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def raw_ratings() -> list[Rating]:
    """Every type-1 (1-9 rating) answer of both rounds. "No opinion" (10 in the ``_no_op``
    column) is the study's unsure answer ``X``, not a rating, as Unisanté count it; a rating
    given beside it is kept, as they do."""
    out: list[Rating] = []
    for round_no in (2, 3):
        for row in sheet(f"dft{round_no}_data_clean.xlsx"):
            for column, value in row.items():
                if RATING.match(str(column)):
                    if value is None and row[f"{column}_no_op"] == 10:
                        value = "X"
                    out.append((f"P{row['record_id']}", column.removesuffix("_type1"),
                                round_no, value))
    return out


@pytest.fixture(scope="module")
def summary() -> list[dict[str, Any]]:
    return [row for row in sheet("dt_exec_summary.xlsx") if row["type"] == "type1"]


@pytest.fixture(scope="module")
def analysed(summary: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[Any, Any]:
    from typer.testing import CliRunner

    from delphi.cli import app

    ratings = raw_ratings()
    texts = {row["variable"].removesuffix("_type1"): row["var_label_exec_summary"]
             for row in summary}
    titles = {row["section"].lower(): row["section_txt"] for row in sheet(
        "dt_exec_summary.xlsx") if row["type"] == "text"}
    sections = {item: (item.split("_")[1], titles[item.split("_")[1]])
                for _, item, _, _ in ratings}
    root = long_study(tmp_path_factory.mktemp("unisante") / "study", ratings, STUDY_YAML,
                      texts=texts, sections=sections, returns=False)
    runner = CliRunner()
    results: dict[Any, Any] = {}
    for round_no in (2, 3):
        # One wide CSV per round, as a coordinator would export it, through delphi import.
        items = list(dict.fromkeys(i for _, i, r, _ in ratings if r == round_no))
        table: dict[str, dict[str, int | str | None]] = {}
        for code, item, r, value in ratings:
            if r == round_no:
                table.setdefault(code, {})[item] = value
        path = root.parent / f"round-{round_no}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["code", *items])
            for code, answers in table.items():
                writer.writerow([code, *["" if answers[i] is None else answers[i]
                                         for i in items]])
        imported = runner.invoke(app, ["import", str(path), "--study", str(root), "--round",
                                       str(round_no)])
        assert imported.exit_code == 0, imported.output
        shown = runner.invoke(app, ["analyse", "--study", str(root), "--round", str(round_no),
                                    "--json"])
        assert shown.exit_code == 0, shown.output
        results[round_no] = json.loads(shown.stdout)
    from delphi.store.study import Study

    results["returns"] = {r: Study(root).returns(r) for r in (2, 3)}
    return results


def test_the_summary_lists_every_rating_statement_once(summary: list[dict[str, Any]]) -> None:
    assert len(summary) == 26
    assert sorted(row["variable"] for row in summary if row["dft_round"] == "2") == [
        "dft2_a_s4_type1", "dft2_b_s11_type1", "dft2_b_s18_type1"]


def test_every_number_of_the_executive_summary(summary: list[dict[str, Any]],
                                               analysed: dict[Any, Any]) -> None:
    for row in summary:
        result = analysed[int(row["dft_round"])]
        item = next(i for i in result["items"]
                    if i["id"] == row["variable"].removesuffix("_type1"))
        where = f"{row['variable']} (round {row['dft_round']})"
        assert result["response"]["returned"] == int(row["participants_count"]), where
        assert item["n"] == int(row["reponses_count"]), where
        # Their "no answer" count is the no-opinion answers (nobody left a rating blank),
        # which the import kept as the study's unsure answer.
        unsure = sum(1 for ret in analysed["returns"][int(row["dft_round"])]
                     if item["id"] in ret.unsure)
        assert unsure == int(row["reponses_na"]), where
        assert result["response"]["returned"] - item["n"] == int(row["reponses_na"]), where
        assert round(item["n"] / result["response"]["returned"], 3) == float(
            row["response_rate"]), where
        # Exactly: both are R type 7 on the same ratings.
        assert (item["q1"], item["median"], item["q3"], item["iqr"]) == (
            float(row["q1"]), float(row["median"]), float(row["q3"]),
            float(row["iqr_range"])), where


def test_their_verdicts_are_the_iqr_rule(summary: list[dict[str, Any]],
                                         analysed: dict[Any, Any]) -> None:
    # agreement ok: median >= 7; not_ok: median <= 3 ("disagreement reached"); consensus ok:
    # IQR <= 3. delphi's iqr rule gives the median's band when the IQR is within max_iqr.
    band = {"ok": "agree", "not_ok": "disagree", None: "neutral"}
    for row in summary:
        result = analysed[int(row["dft_round"])]
        item = next(i for i in result["items"]
                    if i["id"] == row["variable"].removesuffix("_type1"))
        expected = band[row["agreement"]] if row["consensus"] == "ok" else None
        assert item["consensus"] == expected, row["variable"]
    groups = {row["group_exec_summary"] for row in summary}
    assert groups == {"agree_with_consensus", "agree_without_consensus",
                      "disagree_without_consensus", "no_agree"}
