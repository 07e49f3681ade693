"""ENLIGHT (peer data in tests/data/peers/enlight/): a real 1-7 panel with "don't know", which
stays in the denominator and counts towards exclusion, and strict thresholds (more than 75 %).

The study is built from the raw round-1 workbook the way a coordinator would: one item per
rated column, the answer labels turned into their codes (``7 – Very important`` -> 7,
``X – Don't know ...`` -> X), imported and analysed by ``delphi``. Every item's shares and
verdicts must equal the authors' own (``Round1_item-rating.csv``).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from delphi import actions
from tests.conftest import build_tree, write_manifest

PEER = Path(__file__).parent / "data" / "peers" / "enlight"
WORKBOOK = PEER / "results-for-enlight-conse-2023-03-16-0639.xlsx"
UNKNOWN = "X – Don't know or recognise this quantity/item and cannot evaluate"
LABELS = {"1 – Very unimportant", "2 – Quite unimportant", "3 – Unimportant",
          "4 – Neither unimportant nor important", "5 – Important", "6 – Quite important",
          "7 – Very important", UNKNOWN}

STUDY = """\
title: ENLIGHT checklist, round 1
scale: {min: 1, max: 7}
anchors: {1: Very unimportant, 4: Neither unimportant nor important, 7: Very important}
bands:
  - {name: exclude, min: 1, max: 3}
  - {name: neutral, min: 4, max: 4}
  - {name: include, min: 5, max: 7}
unsure:
  code: X
  label: Don't know or recognise this quantity/item and cannot evaluate
{counting}consensus: {rule: banded, threshold: 0.75, strict: true}
groups:
  - {id: panel, label: Panel}
"""
SWAPPED = {12.3, 14.1, 14.4, 15.4, 18.3, 21.5}  # the peer README: flip if X were missing


def _workbook() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], list[list[str]]]:
    """(item id, text, section id) per rated column, (section id, title), and answer rows."""
    import openpyxl

    book = openpyxl.load_workbook(WORKBOOK, read_only=True)
    rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    header, answers = rows[0], rows[1:]
    items, sections, columns = [], [], []
    for col, name in enumerate(header):
        item = re.fullmatch(r"(\d+)\.(\d+)\. (.+)", str(name or ""), re.S)
        section = re.fullmatch(r"(\d+)\. (.+)", str(name or ""), re.S)
        if item:
            items.append((f"{item[1]}.{item[2]}", item[3].strip(), item[1]))
            columns.append(col)
        elif section and int(section[1]) >= 11 and int(section[1]) < 24:
            sections.append((section[1], section[2].strip()))
    table = []
    for row in answers:
        cells = [row[c] for c in columns]
        assert all(c is None or c in LABELS for c in cells)  # every cell one of the 8 labels
        table.append([f"R{int(row[0]):02d}", *["" if c is None else c[0] for c in cells]])
    return items, sections, table


def build(root: Path, in_denominator: bool = True) -> Path:
    items, sections, table = _workbook()
    bank = {"sections": [{"id": f"s{sid}", "title": title,
                          "items": [{"id": i, "text": t} for i, t, s in items if s == sid]}
                         for sid, title in sections]}
    panel = {"panellists": [{"code": row[0], "name": f"Respondent {row[0]}",
                             "email": f"{row[0].lower()}@example.org", "group": "panel"}
                            for row in table]}
    build_tree(root, {
        "study.yaml": STUDY.replace("{counting}", "  in_denominator: true\n  band: exclude\n"
                                    if in_denominator else ""),
        "questionnaires/items.yaml": json.dumps(bank, ensure_ascii=False),
        "panels/panel.yaml": json.dumps(panel)})
    write_manifest(root)
    with (root / "answers.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", *[i for i, _, _ in items]])
        writer.writerows(table)
    actions.import_returns(root, [root / "answers.csv"])
    return root


# The one item whose text the authors' output shortened (the workbook's header is longer).
SHORTENED = {"Relative size of stimulus (e.g. angular extent in degrees)":
             "Relative size of stimulus (e.g. angular extent in degrees from a specific "
             "viewpoint)"}


def peer() -> dict[str, dict[str, str]]:
    """The authors' results by item text."""
    with (PEER / "Round1_item-rating.csv").open(encoding="utf-8", newline="") as handle:
        return {SHORTENED.get(row["Var2"], row["Var2"]): row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    root = build(tmp_path_factory.mktemp("enlight") / "study")
    data = actions.analyse(root, write=False).result.to_json()
    return {item["text"]: item for item in data["items"]}


def test_the_study_asks_61_items_of_65_respondents(
        result: dict[str, dict[str, object]]) -> None:
    assert len(result) == 61
    assert {i["n"] + i["unsure"] for i in result.values()} == {63, 64, 65}  # type: ignore


def test_every_share_and_verdict_is_the_authors(result: dict[str, dict[str, object]]) -> None:
    theirs = peer()
    assert set(theirs) == set(result)
    for text, row in theirs.items():
        ours = result[text]
        bands = ours["bands"]
        assert isinstance(bands, dict)
        unknown = ours["unsure"] / ours["denominator"]  # type: ignore[operator]
        assert bands["include"] == pytest.approx(float(row["rating_incl"]), abs=1e-12), text
        assert bands["exclude"] == pytest.approx(float(row["rating_excl"]), abs=1e-12), text
        assert unknown == pytest.approx(float(row["rating_unknown"]), abs=1e-12), text
        assert (ours["consensus"] == "include") == (row["incl_yn"] == "y"), text
        assert (ours["consensus"] == "exclude") == (row["excl_yn"] == "y"), text


def test_the_authors_aggregate_figures(result: dict[str, dict[str, object]]) -> None:
    verdicts = [i["consensus"] for i in result.values()]
    assert (verdicts.count("include"), verdicts.count("exclude")) == (24, 0)
    unknown = [i["unsure"] / i["denominator"] for i in result.values()]  # type: ignore
    assert sum(1 for u in unknown if u >= 0.2) == 18


def test_dont_know_as_missing_flips_six_verdicts(tmp_path: Path) -> None:
    root = build(tmp_path / "study", in_denominator=False)
    data = actions.analyse(root, write=False).result.to_json()
    included = {float(i["id"]) for i in data["items"] if i["consensus"] == "include"}
    assert len(included) == 30 and SWAPPED <= included
