"""The answer model: per-section scales, unsure answers, dimensions, choice and open questions,
from the study files through validation and the returns readers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from delphi.core.answers import questions
from delphi.core.models import Answer, PanelReturn
from delphi.errors import DelphiError
from delphi.store.study import Study
from tests.conftest import build_tree, write_manifest

STUDY = """\
title: Answers study
scale: {min: 1, max: 7}
anchors: {1: Very unimportant, 7: Very important}
bands:
  - {name: unimportant, min: 1, max: 3}
  - {name: neutral,     min: 4, max: 4}
  - {name: important,   min: 5, max: 7}
unsure: {code: X, label: Don't know, in_denominator: true, band: unimportant}
consensus: {rule: banded, threshold: 0.75, strict: true}
groups:
  - {id: expert, label: Experts}
  - {id: user, label: Users}
"""

ITEMS = """\
sections:
  - id: rate
    title: Ratings
    items:
      - {id: "1.1", text: First}
      - {id: "1.2", text: Second}
  - id: qi
    title: Indicators
    unsure: false
    dimensions:
      - {id: importance, label: Importance}
      - id: feasibility
        label: Feasibility
        scale: {min: 1, max: 5}
        bands: [{name: low, min: 1, max: 2}, {name: mid, min: 3, max: 3},
                {name: high, min: 4, max: 5}]
        unsure: {code: "?", label: Cannot say}
    items:
      - {id: "2.1", text: Indicator one}
  - id: vote
    title: Votes
    kind: choice
    options:
      - {id: "yes", label: "Yes"}
      - {id: "no", label: "No"}
    items:
      - {id: "3.1", text: Mandatory?}
  - id: ideas
    title: Ideas
    kind: open
    items:
      - {id: "4.1", text: What else?}
"""

PANEL = """\
panellists:
  - {code: E1, name: Ann, email: a@example.org, group: expert}
  - {code: E2, name: Ben, email: b@example.org, group: expert}
  - {code: U1, name: Cat, email: c@example.org, group: user}
"""

WIDE = """\
code,1.1,1.2,2.1/importance,2.1/feasibility,3.1,4.1,comment:2.1
E1,7,X,6,?,yes,More training,Hard to measure
E2,x,,5,4,No,,
U1,2,3,,5,,"'=not a formula",
"""


def make(tmp_path: Path, returns: str | None = WIDE) -> Path:
    root = build_tree(tmp_path / "study", {"study.yaml": STUDY, "questionnaires/items.yaml": ITEMS,
                                           "panels/panel.yaml": PANEL})
    write_manifest(root)
    if returns is not None:
        build_tree(root, {"rounds/round-1/returns/returns.csv": returns})
    return root


def test_questions_follow_sections_and_dimensions(tmp_path: Path) -> None:
    study = Study(make(tmp_path, None))
    asked = questions(study.settings, study.manifest(1))
    assert [q.key for q in asked] == ["1.1", "1.2", "2.1/importance", "2.1/feasibility", "3.1",
                                      "4.1"]
    by_key = {q.key: q for q in asked}
    assert by_key["1.1"].rating is not None and by_key["1.1"].rating.unsure_code() == "X"
    importance = by_key["2.1/importance"].rating
    assert importance is not None and importance.unsure is None  # unsure: false in section
    assert importance.scale.max == 7 and importance.anchors == {1: "Very unimportant",
                                                                7: "Very important"}
    feasibility = by_key["2.1/feasibility"].rating
    assert feasibility is not None and feasibility.scale.max == 5
    assert feasibility.unsure_code() == "?" and feasibility.anchors == {}
    assert by_key["3.1"].option_ids() == ["yes", "no"] and by_key["3.1"].rating is None
    assert by_key["4.1"].kind == "open"


def test_wide_csv_reads_every_kind_of_answer(tmp_path: Path) -> None:
    returns = {r.code: r for r in Study(make(tmp_path)).returns(1)}
    e1, e2, u1 = returns["E1"], returns["E2"], returns["U1"]
    assert e1.ratings == {"1.1": 7, "2.1/importance": 6}
    assert e1.unsure == ["1.2", "2.1/feasibility"]
    assert e1.choices == {"3.1": "yes"} and e1.texts == {"4.1": "More training"}
    assert e1.comments == {"2.1": "Hard to measure"}
    assert e2.unsure == ["1.1"] and e2.choices == {"3.1": "no"}  # case folded to the id
    assert e2.answer("1.2") is None and e2.answer("1.1") == Answer(kind="unsure")
    assert u1.texts == {"4.1": "=not a formula"}
    assert u1.answer("2.1/feasibility") == Answer(kind="rating", value=5)


def test_canonical_csv_round_trips(tmp_path: Path) -> None:
    from delphi.store.returns_csv import ReturnsReader, returns_csv_text

    study = Study(make(tmp_path))
    original = study.returns(1)
    text = returns_csv_text(study.manifest(1), original, study.settings)
    assert text.splitlines()[0] == ("code,1.1,1.2,2.1/importance,2.1/feasibility,3.1,4.1,"
                                    "comment:2.1,suggestions")
    path = tmp_path / "again.csv"
    path.write_text(text, encoding="utf-8")
    reader = ReturnsReader(study.manifest(1), study.settings)
    reader.read(path, "again.csv", escaped=True)
    assert not reader.problems
    assert [r.model_dump(exclude={"source"}) for r in reader.returns()] == [
        r.model_dump(exclude={"source"}) for r in original]


def test_long_csv_takes_answer_keys(tmp_path: Path) -> None:
    long = ("code,item,rating\nE1,2.1/feasibility,?\nE1,3.1,yes\nE1,4.1,An idea\n"
            "E1,1.1,X\nU1,2.1/importance,4\n")
    returns = {r.code: r for r in Study(make(tmp_path, long)).returns(1)}
    assert returns["E1"].unsure == ["2.1/feasibility", "1.1"]
    assert returns["E1"].choices == {"3.1": "yes"} and returns["E1"].texts == {"4.1": "An idea"}
    assert returns["U1"].ratings == {"2.1/importance": 4}


@pytest.mark.parametrize(("returns", "expected"), [
    ("code,1.1\nE1,?\n", "returns.csv:2: item 1.1: rating '?' is not a whole number from 1 to 7 "
                         "or X (Don't know); leave the cell empty for no answer"),
    ("code,2.1/importance\nE1,X\n", "returns.csv:2: item 2.1/importance: rating 'X' is not a "
                                    "whole number from 1 to 7; leave"),
    ("code,2.1/feasibility\nE1,6\n", "returns.csv:2: item 2.1/feasibility: rating 6 is outside "
                                     "the scale 1-5 or ? (Cannot say)"),
    ("code,3.1\nE1,maybe\n", "returns.csv:2: item 3.1: 'maybe' is not one of its options "
                             "(yes, no); leave the cell empty for no answer"),
    ("code,2.1\nE1,5\n", "returns.csv:1: unknown item '2.1' in column: it is rated per "
                         "dimension; name the columns 2.1/importance, 2.1/feasibility"),
    ("code,1.1/importance\nE1,5\n", "returns.csv:1: unknown item '1.1/importance' in column: "
                                    "item 1.1 has no dimensions; name the column 1.1"),
    ("code,2.1/cost\nE1,5\n", "returns.csv:1: unknown item '2.1/cost' in column: round 1 did "
                              "not ask dimension 'cost' of it (it asked 2.1/importance, "
                              "2.1/feasibility)"),
    ("code,item,rating\nE1,3.1,perhaps\n", "returns.csv:2: item 3.1: 'perhaps' is not one of"),
])
def test_bad_cells_name_file_line_and_value(tmp_path: Path, returns: str,
                                            expected: str) -> None:
    study = Study(make(tmp_path, returns))
    with pytest.raises(DelphiError) as caught:
        study.returns(1)
    assert expected in str(caught.value)


def test_one_bad_cell_imports_nothing(tmp_path: Path) -> None:
    root = make(tmp_path, None)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,1.1,3.1\nE1,X,yes\nE2,5,perhaps\n", encoding="utf-8")
    from delphi import actions

    with pytest.raises(DelphiError, match=r"bad.csv:3: item 3.1: 'perhaps'"):
        actions.import_returns(root, [bad])
    assert not (root / "rounds/round-1/returns").exists() or not any(
        (root / "rounds/round-1/returns").iterdir())


def test_xlsx_cells_are_named(tmp_path: Path) -> None:
    import openpyxl

    from delphi.store.returns_csv import ReturnsReader
    from delphi.store.returns_xlsx import read_xlsx

    study = Study(make(tmp_path, None))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["code", "1.1", "2.1/feasibility", "3.1", "4.1"], ["E1", 7, "?", "no", "Idea"],
                ["E2", "X", 9, "yes", None]):
        sheet.append(row)
    book.save(tmp_path / "r.xlsx")
    reader = ReturnsReader(study.manifest(1), study.settings)
    read_xlsx(tmp_path / "r.xlsx", "r.xlsx", reader)
    assert [str(p) for p in reader.problems] == [
        "r.xlsx:3: cell C3: item 2.1/feasibility: rating 9 is outside the scale 1-5 or ? "
        "(Cannot say)"]


def _validate(tmp_path: Path, files: dict[str, str]) -> list[str]:
    root = make(tmp_path, None)
    build_tree(root, {k: textwrap.dedent(v) for k, v in files.items()})
    return [str(p) for p in Study(root).problems()]


def test_validate_explains_unsure_mistakes_in_study_yaml(tmp_path: Path) -> None:
    study = STUDY.replace("unsure: {code: X, label: Don't know, in_denominator: true, "
                          "band: unimportant}",
                          "unsure: {code: 5, label: Don't know, in_denominator: true, "
                          "band: maybe}")
    assert _validate(tmp_path, {"study.yaml": study}) == [
        "study.yaml:8: unsure.code: the unsure code '5' is also a value of the scale 1-7, so a "
        "return could not tell them apart",
        "study.yaml:8: unsure.band: unsure band 'maybe' is not one of the bands (unimportant, "
        "neutral, important)"]


def test_validate_band_needs_denominator(tmp_path: Path) -> None:
    study = STUDY.replace("in_denominator: true, ", "")
    problems = _validate(tmp_path, {"study.yaml": study})
    assert problems == ["study.yaml:8: unsure.band: band 'unimportant' counts the unsure "
                        "answers in a band's share, so they must count in the denominator "
                        "too: add in_denominator: true (or remove band)"]


def test_validate_explains_section_mistakes(tmp_path: Path) -> None:
    items = """\
    sections:
      - id: a
        title: A
        scale: {min: 0, max: 10}
        items: [{id: "1", text: One}]
      - id: b
        title: B
        bands: [{name: low, min: 1, max: 5}, {name: high, min: 6, max: 9}]
        items: [{id: "2", text: Two}]
      - id: c
        title: C
        kind: choice
        items: [{id: "3", text: Three}]
      - id: d
        title: D
        kind: choice
        options: [{id: "yes", label: Y}, {id: "yes", label: N}]
        items: [{id: "4", text: Four}]
      - id: e
        title: E
        dimensions: [{id: imp, label: I}, {id: imp, label: J}]
        items: [{id: "5", text: Five}]
      - id: f
        title: F
        kind: choice
        options: [{id: yes, label: Y}, {id: "no", label: N}]
        items: [{id: "6", text: Six}]
      - id: g
        title: G
        scale: {min: 1, max: 9}
        bands: [{name: low, min: 1, max: 4}, {name: high, min: 5, max: 9}]
        unsure: {code: "9", label: Cannot}
        items: [{id: "7", text: Seven}]
      - id: h
        title: H
        unsure: {code: "Z", label: Cannot, in_denominator: true, band: nope}
        items: [{id: "8", text: Eight}]
    """
    assert _validate(tmp_path, {"questionnaires/items.yaml": items}) == [
        "questionnaires/items.yaml:2: sections[0]: sets scale (0-10), so it must set bands for "
        "that scale too",
        "questionnaires/items.yaml:10: sections[2]: a choice section needs options: a list of "
        "{id, label}",
        "questionnaires/items.yaml:17: sections[3].options: option id 'yes' is used twice",
        "questionnaires/items.yaml:21: sections[4].dimensions: dimension id 'imp' is used twice",
        "questionnaires/items.yaml:26: sections[5].options[0].id: option ids must be quoted: "
        "unquoted yes/no/true/false/on/off are read as true or false; write \"true\" in quotes "
        "(e.g. id: \"yes\")",
    ]
    # once the file loads, the checks that need study.yaml run
    fixed = items.replace("        scale: {min: 0, max: 10}\n", "").replace(
        "        kind: choice\n        items: [{id: \"3\"", "        items: [{id: \"3\"").replace(
        '{id: "yes", label: N}', '{id: "no", label: N}').replace(
        "{id: imp, label: J}", "{id: fea, label: J}").replace("{id: yes,", '{id: "yes",')
    assert _validate(tmp_path, {"questionnaires/items.yaml": fixed}) == [
        "questionnaires/items.yaml:7: sections[1].bands: bands leave a gap: the scale ends at "
        "7, the last band at 9 (the inherited scale is 1-7)",
        "questionnaires/items.yaml:7: sections[1].bands: unsure band 'unimportant' is not one "
        "of the bands (low, high) (inherited; set unsure here, or unsure: false)",
        "questionnaires/items.yaml:30: sections[6].unsure.code: the unsure code '9' is also a "
        "value of the scale 1-9, so a return could not tell them apart",
        "questionnaires/items.yaml:34: sections[7].unsure.band: unsure band 'nope' is not one "
        "of the bands (unimportant, neutral, important)",
    ]


def test_inherited_unsure_band_must_exist_in_own_bands(tmp_path: Path) -> None:
    items = """\
    sections:
      - id: a
        title: A
        scale: {min: 1, max: 5}
        bands: [{name: low, min: 1, max: 2}, {name: high, min: 3, max: 5}]
        items: [{id: "1", text: One}]
    """
    assert _validate(tmp_path, {"questionnaires/items.yaml": items}) == [
        "questionnaires/items.yaml:5: sections[0].bands: unsure band 'unimportant' is not one "
        "of the bands (low, high) (inherited; set unsure here, or unsure: false)"]


# ---------------------------------------------------------------- analysis


def test_analysis_entries_of_every_kind(tmp_path: Path) -> None:
    from delphi import actions

    data = actions.analyse(make(tmp_path), write=False).result.to_json()
    entries = {(i["id"], i.get("dimension")): i for i in data["items"]}
    assert list(entries) == [("1.1", None), ("1.2", None), ("2.1", "importance"),
                             ("2.1", "feasibility"), ("3.1", None), ("4.1", None)]
    # 1.1: 7 (E1), X (E2, in the denominator and in 'unimportant'), 2 (U1)
    first = entries["1.1", None]
    assert (first["n"], first["unsure"], first["denominator"]) == (2, 1, 3)
    assert first["median"] == 4.5  # numeric ratings only
    assert first["bands"] == {"unimportant": 2 / 3, "neutral": 0.0, "important": 1 / 3}
    assert first["consensus"] is None and "dimension" not in first
    assert first["groups"]["expert"]["unsure"] == 1
    # 2.1/feasibility: ? (E1, not in the denominator), 4, 5
    feasibility = entries["2.1", "feasibility"]
    assert (feasibility["n"], feasibility["unsure"], feasibility["denominator"]) == (2, 1, 2)
    assert feasibility["bands"] == {"low": 0.0, "mid": 0.0, "high": 1.0}
    assert feasibility["consensus"] == "high"  # 100 % > 75 %
    choice = entries["3.1", None]
    assert choice == {"id": "3.1", "section": "vote", "kind": "choice", "n": 2,
                      "options": {"yes": 0.5, "no": 0.5}, "consensus": None,
                      "groups": {"expert": {"n": 2, "options": {"yes": 0.5, "no": 0.5},
                                            "consensus": None},
                                 "user": {"n": 0, "options": {"yes": None, "no": None},
                                          "consensus": None}},
                      "text": "Mandatory?", "stability": None}
    assert entries["4.1", None] == {"id": "4.1", "section": "ideas", "kind": "open", "n": 2,
                                    "groups": {"expert": {"n": 1}, "user": {"n": 1}},
                                    "text": "What else?"}
    assert data["consensus_rule"]["strict"] is True


def test_next_round_asks_open_dimensions_and_drops_choices_at_consensus(tmp_path: Path) -> None:
    from delphi import actions
    from delphi.core.rounds import plan_round

    returns = ("code,1.1,1.2,2.1/importance,2.1/feasibility,3.1,4.1\n"
               "E1,7,7,6,2,yes,Idea\nE2,7,2,6,5,yes,\nU1,6,3,7,4,yes,\n")
    root = make(tmp_path, returns)
    result = actions.analyse(root, write=False).result
    study = Study(root)
    plan = plan_round(study.settings, study.bank, study.roster, 2, [result])
    assert plan.dropped == {"1.1": "consensus (important) in round 1",
                            "2.1/importance": "consensus (important) in round 1",
                            "3.1": "consensus (yes) in round 1"}
    items = {i.id: i for i in plan.manifest.items}
    assert list(items) == ["1.2", "2.1"]  # open questions: round 1 only
    assert items["2.1"].dimensions == ["feasibility"]
    asked = [q.key for q in questions(study.settings, plan.manifest)]
    assert asked == ["1.2", "2.1/feasibility"]
    from delphi.core.report import build_report

    totals = build_report(study.settings, study.roster, {1: study.manifest(1)},
                          {1: study.returns(1)}, {1: result}).totals
    assert (totals.asked, totals.reached) == (5, 3)  # 1.1, 1.2, 2.1 twice, 3.1
    assert totals.by_band == {"unimportant": 0, "neutral": 0, "important": 2, "yes": 1}
    kept = plan_round(study.settings, study.bank, study.roster, 2, [result], keep=["2.1"])
    assert [q.key for q in questions(study.settings, kept.manifest)] == [
        "1.2", "2.1/importance", "2.1/feasibility"]


def test_choice_consensus_follows_the_scope() -> None:
    from delphi.core.models import ConsensusRule
    from delphi.core.rules import choice_consensus

    groups = {"a": {"yes": 4}, "b": {"yes": 1, "no": 3}, "c": {}}
    overall = {"yes": 5, "no": 3}
    panel, every, anyone = (ConsensusRule(threshold=0.6, scope=s)
                            for s in ("panel", "every-group", "any-group"))
    assert choice_consensus(overall, ["yes", "no"], panel, groups) == "yes"  # 5 of 8
    assert choice_consensus(overall, ["yes", "no"], every, groups) is None  # b says no
    assert choice_consensus(overall, ["yes", "no"], anyone, groups) is None  # a and b differ
    assert choice_consensus(overall, ["yes", "no"], anyone, {**groups, "b": {"yes": 1}}) == "yes"
    strict = ConsensusRule(threshold=0.625, strict=True)
    assert choice_consensus(overall, ["yes", "no"], strict) is None  # 5 of 8 is 62.5 %


def test_stability_pairs_numeric_ratings_per_answer_key(tmp_path: Path) -> None:
    from delphi.core.analysis import analyse_round

    study = Study(make(tmp_path, None))
    manifest = study.manifest(1)
    before = [PanelReturn(code="E1", ratings={"1.1": 7, "2.1/feasibility": 2}),
              PanelReturn(code="E2", ratings={"1.1": 6, "2.1/feasibility": 4}),
              PanelReturn(code="U1", ratings={"1.1": 2}, unsure=["2.1/feasibility"])]
    after = [PanelReturn(code="E1", ratings={"1.1": 7, "2.1/feasibility": 3}),
             PanelReturn(code="E2", ratings={"2.1/feasibility": 4}, unsure=["1.1"]),
             PanelReturn(code="U1", ratings={"1.1": 3, "2.1/feasibility": 5})]
    result = analyse_round(study.settings, manifest, study.roster, after, previous=(1, before))
    items = {i.key: i for i in result.items}
    first, feasibility = items["1.1"].stability, items["2.1/feasibility"].stability
    assert first is not None and feasibility is not None
    assert first.pairs == 2 and first.unchanged == 0.5  # E2 went to "unsure": no pair
    assert feasibility.pairs == 2 and feasibility.changed_band == 0.5  # on its own 1-5 bands
    assert items["2.1/importance"].stability is None  # nobody rated it in round 1
    assert items["3.1"].stability is None and items["4.1"].stability is None


@pytest.mark.parametrize("code", ["7", "07", "7.0", "+3"])
def test_an_unsure_code_a_spreadsheet_reads_as_a_rating_is_refused(tmp_path: Path,
                                                                   code: str) -> None:
    study = STUDY.replace("code: X,", f'code: "{code}",')
    assert _validate(tmp_path, {"study.yaml": study})[0].startswith(
        f"study.yaml:8: unsure.code: the unsure code '{code}' is also a value of the scale 1-7")


def test_report_subgroups_use_each_dimensions_own_bands(tmp_path: Path) -> None:
    from delphi.core.analysis import analyse_round
    from delphi.core.models import Roster
    from delphi.core.report import build_report
    from delphi.core.rounds import build_manifest
    from delphi.core.rules import RULES

    study = Study(make(tmp_path, None))
    roster = Roster.model_validate({"panellists": [
        {"code": f"P{i}", "name": f"P{i}", "email": f"p{i}@example.org", "group": "expert",
         "attributes": {"role": "nurse" if i < 3 else "doctor"}} for i in range(6)]})
    manifest = build_manifest(study.settings, study.bank, roster, 1)
    returns = [PanelReturn(code=f"P{i}", ratings={"2.1/feasibility": 5 if i < 3 else 1})
               for i in range(6)]
    result = analyse_round(study.settings, manifest, roster, returns, rules=RULES)
    data = build_report(study.settings, roster, {1: manifest}, {1: returns}, {1: result},
                        attributes=["role"], min_subgroup=3)
    found = {(f.item, f.value, f.band): f.subgroup_share for f in data.subgroups}
    assert found[("2.1/feasibility", "nurse", "high")] == 1.0  # the dimension's 4-5 band
    assert found[("2.1/feasibility", "doctor", "low")] == 1.0  # its 1-2 band
