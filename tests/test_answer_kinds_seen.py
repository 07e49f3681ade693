"""What panellists see of the answer kinds beyond one 1-9 rating, and what comes back.

One small study with every kind: a statement rated on two dimensions (the second on its own
1-5 scale), an "unsure" answer, a choice and an open question asked in rounds 1 and 2. A
panellist's filled PDF imports exactly, and round 2 shows that panellist their own answers.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest

from delphi.core.fields import rating_field
from delphi.store.study import Study
from tests.conftest import Result, build_tree

Run = Callable[..., Result]

STUDY = """\
title: Every kind of answer
scale: {min: 1, max: 9}
anchors: {1: not at all, 9: very much}
bands:
  - {name: low, min: 1, max: 3}
  - {name: middle, min: 4, max: 6}
  - {name: high, min: 7, max: 9}
unsure: {code: X, label: Cannot say, in_denominator: false}
consensus: {rule: banded, threshold: 0.75}
groups:
  - {id: all, label: Everyone}
item_bank: questionnaires/items.yaml
roster: panels/panel.yaml
"""
ITEMS = """\
sections:
  - id: ind
    title: Indicators
    dimensions:
      - {id: importance, label: Importance}
      - id: feasibility
        label: Feasibility
        scale: {min: 1, max: 5}
        anchors: {1: impossible, 5: easy}
        bands:
          - {name: low, min: 1, max: 2}
          - {name: middle, min: 3, max: 3}
          - {name: high, min: 4, max: 5}
    items:
      - {id: "1.1", text: Waiting times are measured}
  - id: vote
    title: A vote
    kind: choice
    options:
      - {id: "yes", label: Make it mandatory}
      - {id: "no", label: Leave it optional}
    items:
      - {id: "2.1", text: Reporting waiting times}
  - id: ideas
    title: Ideas
    kind: open
    rounds: [1, 2]
    items:
      - {id: "3.1", text: What else should be measured?}
"""
PANEL = """\
panellists:
  - {code: A1, name: Ann Example, email: ann@example.org, group: all}
  - {code: A2, name: Ben Example, email: ben@example.org, group: all}
  - {code: A3, name: Cat Example, email: cat@example.org, group: all}
"""
# A2 and A3 answer by CSV, so that no answer reaches consensus and everything is asked again.
OTHERS = ("code,1.1/importance,1.1/feasibility,2.1,3.1\n"
          "A2,2,5,no,Staff turnover\nA3,9,1,yes,\n")
MINE = "Continuity of care (and who pays for it)"


def fill(pdf: Path, out: Path, values: dict[str, str]) -> Path:
    """Fill a questionnaire as a PDF reader would: a radio group gets the state of the button
    whose value (listed in /Opt) is given; a text field gets its text."""
    reader = pypdf.PdfReader(pdf)
    fields = reader.get_fields() or {}
    states: dict[str, str] = {}
    for name, value in values.items():
        options = [str(o) for o in fields[name].get("/Opt") or []]
        states[name] = f"/{options.index(value)}" if options else value
    writer = pypdf.PdfWriter(clone_from=reader)
    for page in writer.pages:
        writer.update_page_form_field_values(page, states, auto_regenerate=False)
    writer.write(out)
    return out


def text_of(pdf: Path | bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(unicodedata.normalize("NFKC", text).split())


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Round 1 built (PDFs made by new-round), nothing returned yet."""
    from typer.testing import CliRunner

    from delphi.cli import app

    root = build_tree(tmp_path_factory.mktemp("kinds") / "study", {
        "study.yaml": STUDY, "questionnaires/items.yaml": ITEMS, "panels/panel.yaml": PANEL})
    result = CliRunner().invoke(app, ["new-round", "--study", str(root), "--round", "1",
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "laid out on its own" not in result.output
    return root


def test_round_1_questionnaire_has_a_field_per_answer(study: Path) -> None:
    fields: dict[str, Any] = pypdf.PdfReader(
        study / "rounds/round-1/questionnaires/A1.pdf").get_fields() or {}
    importance, feasibility = rating_field("1.1/importance"), rating_field("1.1/feasibility")
    assert importance == "rating_1~1/importance"
    # each rating's buttons: the scale's values, then "unsure" as the last option
    assert [str(o) for o in fields[importance]["/Opt"]] == [*map(str, range(1, 10)), "X"]
    assert [str(o) for o in fields[feasibility]["/Opt"]] == [*map(str, range(1, 6)), "X"]
    assert [str(o) for o in fields[rating_field("2.1")]["/Opt"]] == ["yes", "no"]
    assert fields["answer_3~1"]["/FT"] == "/Tx"
    assert "own_3~1" not in fields  # nothing to show back in round 1
    # spoken names say what each group is
    assert "Feasibility" in str(fields[feasibility].get("/TU"))
    shown = text_of(study / "rounds/round-1/questionnaires/A1.pdf")
    for words in ("Importance", "Feasibility", "Cannot say", "Make it mandatory",
                  "Leave it optional", "What else should be measured?", "impossible"):
        assert words in shown, words


def test_filled_pdf_imports_exactly(study: Path, cli: Run, tmp_path: Path) -> None:
    """Every kind of answer in a PDF filled as a reader fills it comes back as given."""
    filled = fill(study / "rounds/round-1/questionnaires/A1.pdf", tmp_path / "A1.pdf", {
        rating_field("1.1/importance"): "X", rating_field("1.1/feasibility"): "4",
        rating_field("2.1"): "yes", "answer_3~1": MINE, "comment_1~1": "Hard to measure"})
    result = cli("import", str(filled), "--study", str(study))
    assert result.exit_code == 0, result.stderr
    (tmp_path / "others.csv").write_text(OTHERS)
    assert cli("import", str(tmp_path / "others.csv"), "--study", str(study)).exit_code == 0
    mine = next(r for r in Study(study).returns(1) if r.code == "A1")
    assert mine.unsure == ["1.1/importance"]
    assert {k: v for k, v in mine.ratings.items() if v is not None} == {"1.1/feasibility": 4}
    assert mine.choices == {"2.1": "yes"}
    assert mine.texts == {"3.1": MINE}
    assert mine.comments == {"1.1": "Hard to measure"}


def test_round_2_shows_each_panellist_their_own_answers(study: Path, cli: Run) -> None:
    """Round 2 (after the import above) shows A1 the unsure answer, the second dimension's
    rating, the choice and the open answer, and shows A1's to no one else."""
    assert Study(study).returns(1), "runs after test_filled_pdf_imports_exactly"
    assert cli("analyse", "--study", str(study)).exit_code == 0
    result = cli("new-round", "--study", str(study), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "laid out on its own" not in result.stdout  # still laid out once for everyone
    pdfs = study / "rounds/round-2/questionnaires"
    shown = text_of(pdfs / "A1.pdf")
    assert re.search(r"Importance Your rating in round 1: Cannot say", shown), shown
    assert re.search(r"Feasibility Your rating in round 1: 4 ", shown)
    assert "Your choice in round 1: Make it mandatory" in shown
    fields = pypdf.PdfReader(pdfs / "A1.pdf").get_fields() or {}
    assert fields["own_3~1"]["/V"] == MINE
    assert int(fields["own_3~1"]["/Ff"]) & 1  # read-only
    # another panellist sees their own answers, never A1's
    other = pypdf.PdfReader(pdfs / "A2.pdf").get_fields() or {}
    assert other["own_3~1"]["/V"] == "Staff turnover"
    assert "Your choice in round 1: Leave it optional" in text_of(pdfs / "A2.pdf")
    assert MINE not in text_of(pdfs / "A2.pdf")
    assert (pypdf.PdfReader(pdfs / "A3.pdf").get_fields() or {})["own_3~1"]["/V"] == ""
    # The reader draws the earlier answer (in whatever script it is) with its own fonts: the
    # field has no appearance of its own, the form asks for them, and so the radio buttons
    # are drawn in the page (a reader that draws fields itself draws no button of its own).
    reader = pypdf.PdfReader(pdfs / "A1.pdf")
    assert reader.trailer["/Root"]["/AcroForm"]["/NeedAppearances"]
    widgets = [a.get_object() for page in reader.pages for a in page.get("/Annots", [])]
    assert not [w for w in widgets if w.get("/T") == "own_3~1" and "/AP" in w]
