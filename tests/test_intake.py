"""Returns intake and status: the whole cycle with PDFs filled by another program, and every
refusal (bad cell, other round, other study, second return, unknown files)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest

from delphi.core.fields import rating_field
from delphi.core.models import PanelReturn
from delphi.store.returns_csv import ReturnsReader
from delphi.store.study import Study
from tests.conftest import STUDY_YAML, Result, build_tree, tree_digest, write_manifest

Run = Callable[..., Result]
Make = Callable[..., Path]


def fill(pdf: Path, out: Path, ratings: dict[str, int], comments: dict[str, str] | None = None,
         suggestions: str | None = None) -> Path:
    """Fill a questionnaire as a PDF reader would: radio states /0../8, text values."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(pdf))
    values: dict[str, str] = {rating_field(i): f"/{v - 1}" for i, v in ratings.items()}
    values.update({f"comment_{i.replace('.', '~')}": t for i, t in (comments or {}).items()})
    if suggestions:
        values["suggestions"] = suggestions
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    writer.write(out)
    return out


@pytest.fixture(scope="module")
def round_2_pdfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny study with round 2 built once (1.1 and 1.2 asked again) for the module."""
    from typer.testing import CliRunner

    from delphi.cli import app
    from tests.conftest import ITEMS_YAML, PANEL_YAML

    root = build_tree(tmp_path_factory.mktemp("cycle") / "study", {
        "study.yaml": STUDY_YAML, "questionnaires/items.yaml": ITEMS_YAML,
        "panels/panel.yaml": PANEL_YAML,
        "rounds/round-1/returns/returns.csv": "code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\n"
                                              "U1,3,5,9,3\n"})
    write_manifest(root)
    runner = CliRunner()
    assert runner.invoke(app, ["analyse", "--study", str(root)]).exit_code == 0
    result = runner.invoke(app, ["new-round", "--study", str(root), "--keep", "1.2",
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def study2(round_2_pdfs: Path, tmp_path: Path) -> Path:
    """A fresh copy of the module's study, so each test starts with no round-2 returns."""
    import shutil

    copy = tmp_path / "study"
    shutil.copytree(round_2_pdfs, copy)
    return copy


def test_filled_pdf_imports_and_analyse_counts_it(study2: Path, tmp_path: Path,
                                                   cli: Run) -> None:
    pdfs = study2 / "rounds/round-2/questionnaires"
    e1 = fill(pdfs / "E1.pdf", tmp_path / "reply-from-e1.pdf", {"1.1": 7, "1.2": 2},
              {"1.1": "=1+1 is not a formula here"}, "More on housing")
    u2 = fill(pdfs / "U2.pdf", tmp_path / "scan 17.pdf", {"1.1": 9})
    result = cli("import", str(e1), str(u2), "--study", str(study2))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "Round 2: 2 new returns."
    returns = {r.code: r for r in Study(study2).returns(2)}
    assert returns["E1"].ratings == {"1.1": 7, "1.2": 2}
    assert returns["E1"].comments == {"1.1": "=1+1 is not a formula here"}
    assert returns["E1"].suggestions == "More on housing"
    assert returns["U2"].ratings == {"1.1": 9, "1.2": None}
    canonical = (study2 / "rounds/round-2/returns/returns.csv").read_text()
    assert "'=1+1" in canonical  # inert in a spreadsheet, restored on reading

    analysed = json.loads(cli("analyse", "--study", str(study2), "--round", "2",
                              "--json").stdout)
    assert analysed["response"]["returned"] == 2
    item = analysed["items"][0]
    assert (item["id"], item["n"], item["median"]) == ("1.1", 2, 8.0)
    status = json.loads(cli("status", "--study", str(study2), "--json").stdout)
    assert status["overall"]["returned"] == analysed["response"]["returned"]
    assert {g: c["returned"] for g, c in status["groups"].items()} == {
        g: c["returned"] for g, c in analysed["response"]["groups"].items()}
    assert [o["code"] for o in status["outstanding"]] == ["E2", "U1"]
    assert "name" not in status["outstanding"][0]
    assert status["overall"]["invited"] == analysed["response"]["invited"]
    assert cli("suggestions", "--study", str(study2), "--round", "2").exit_code == 0
    review = (study2 / "rounds/round-2/suggestions.md").read_text()
    assert "- **E1** (Expert authors): More on housing" in review
    assert "=1+1 is not a formula here" in review
    log = (study2 / "rounds/round-2/returns/import-log.jsonl").read_text().splitlines()
    assert [json.loads(line)["codes"] for line in log] == [["E1"], ["U2"]]
    assert len(list((study2 / "rounds/round-2/returns/sources").iterdir())) == 2


def test_importing_the_same_file_twice_changes_nothing(study2: Path, tmp_path: Path,
                                                       cli: Run) -> None:
    e1 = fill(study2 / "rounds/round-2/questionnaires/E1.pdf", tmp_path / "e1.pdf", {"1.1": 4})
    assert cli("import", str(e1), "--study", str(study2)).exit_code == 0
    before = tree_digest(study2)
    again = cli("import", str(e1), "--study", str(study2))
    assert again.exit_code == 0
    assert "e1.pdf: already imported" in again.stdout
    assert tree_digest(study2) == before
    # the same return in another file (say, a CSV typed from it) is no change either
    (tmp_path / "same.csv").write_text("code,1.1\nE1,4\n")
    same = cli("import", str(tmp_path / "same.csv"), "--study", str(study2))
    assert same.exit_code == 0 and "1 unchanged" in same.stdout
    assert Study(study2).returns(2)[0].ratings["1.1"] == 4


def test_a_different_second_return_needs_replace(study2: Path, tmp_path: Path,
                                                 cli: Run) -> None:
    (tmp_path / "first.csv").write_text("code,1.1,1.2\nU1,5,5\n")
    (tmp_path / "second.csv").write_text("code,1.1,1.2\nU1,6,5\n")
    assert cli("import", str(tmp_path / "first.csv"), "--study", str(study2)).exit_code == 0
    before = tree_digest(study2)
    refused = cli("import", str(tmp_path / "second.csv"), "--study", str(study2))
    assert refused.exit_code == 2
    assert ("U1 already has a different return for round 2 (from "
            "rounds/round-2/returns/returns.csv:2); use --replace") in refused.stderr
    assert tree_digest(study2) == before
    replaced = cli("import", str(tmp_path / "second.csv"), "--study", str(study2),
                   "--replace")
    assert replaced.exit_code == 0, replaced.stderr
    assert "1 replaced (U1)" in replaced.stdout
    assert Study(study2).returns(2)[0].ratings["1.1"] == 6
    history = list((study2 / "rounds/round-2/returns/history").iterdir())
    assert len(history) == 1 and "U1,5,5" in history[0].read_text()


def test_xlsx_with_one_bad_cell_imports_nothing_and_names_the_cell(study2: Path,
                                                                   tmp_path: Path,
                                                                   cli: Run) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["code", "1.1", "1.2"], ["E1", 7, 8], ["E2", 3, 12], ["U1", 5.0, None]):
        sheet.append(row)
    book.save(tmp_path / "returns.xlsx")
    before = tree_digest(study2)
    result = cli("import", str(tmp_path / "returns.xlsx"), "--study", str(study2))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'returns.xlsx'}:3: cell C3: item 1.2: rating 12 is outside the "
        "scale 1-9"]
    assert tree_digest(study2) == before
    sheet["C3"] = 2
    book.save(tmp_path / "returns.xlsx")
    ok = cli("import", str(tmp_path / "returns.xlsx"), "--study", str(study2))
    assert ok.exit_code == 0, ok.stderr
    assert [r.code for r in Study(study2).returns(2)] == ["E1", "E2", "U1"]


def test_batch_with_problems_lists_every_one_and_imports_nothing(study2: Path, tmp_path: Path,
                                                                 cli: Run) -> None:
    (tmp_path / "good.csv").write_text("code,1.1\nE1,7\n")
    (tmp_path / "long.csv").write_text("code,item,rating\nE2,1.1,x\nU1,9.9,3\n")
    (tmp_path / "notes.txt").write_text("hello")
    before = tree_digest(study2)
    result = cli("import", str(tmp_path / "good.csv"), str(tmp_path / "long.csv"),
                 str(tmp_path / "notes.txt"), str(tmp_path / "missing.csv"),
                 "--study", str(study2))
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"error: {tmp_path / 'notes.txt'}: cannot import this kind of file; import CSV, XLSX "
        "or the PDF questionnaires made by delphi",
        f"error: {tmp_path / 'missing.csv'}: file not found"]
    assert tree_digest(study2) == before
    result = cli("import", str(tmp_path / "good.csv"), str(tmp_path / "long.csv"),
                 "--study", str(study2))
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'long.csv'}:2: item 1.1: rating 'x' is not a whole number from 1 "
        "to 9; leave the cell empty for no answer",
        f"error: {tmp_path / 'long.csv'}:3: unknown item '9.9' in item: round 2 did not ask it"]
    assert tree_digest(study2) == before


def test_pdf_of_another_round_or_study_is_refused(study2: Path, tmp_path: Path, cli: Run,
                                                  make_study: Make) -> None:
    e1 = fill(study2 / "rounds/round-2/questionnaires/E1.pdf", tmp_path / "e1.pdf", {"1.1": 7})
    result = cli("import", str(e1), "--study", str(study2), "--round", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {e1}: is a questionnaire of round 2, not round 1"

    other = make_study()  # same layout, but its round 2 will be another questionnaire
    (other / "study.yaml").write_text(STUDY_YAML.replace("Tiny study", "Another study"))
    write_manifest(other, 2)
    result = cli("import", str(e1), "--study", str(other))
    assert result.exit_code == 2
    assert "belongs to another study or another version of round 2's questionnaire" in (
        result.stderr)

    (tmp_path / "plain.pdf").write_bytes((study2 / "rounds/round-2/questionnaires/E2.pdf")
                                         .read_bytes()[:2000])
    broken = cli("import", str(tmp_path / "plain.pdf"), "--study", str(study2))
    assert broken.exit_code == 2 and "plain.pdf" in broken.stderr


def test_enter_a_paper_return(study2: Path, cli: Run) -> None:
    from typer.testing import CliRunner

    from delphi.cli import app

    # 1.1: "x" is refused, then 7; at 1.2 go back; 1.1 = 8, 1.2 = 3; a comment on 1.2; no
    # suggestions; confirm.
    keys = "x\n7\nb\n8\n3\n1.2\nunclear wording\n\n\ny\n"
    result = CliRunner().invoke(app, ["enter", "u2", "--study", str(study2)], input=keys)
    assert result.exit_code == 0, result.output
    assert "is not a rating" in result.output
    assert "Return of U2 for round 2 saved." in result.output
    saved = Study(study2).returns(2)
    assert [(r.code, r.ratings, r.comments) for r in saved] == [
        ("U2", {"1.1": 8, "1.2": 3}, {"1.2": "unclear wording"})]
    again = CliRunner().invoke(app, ["enter", "U2", "--study", str(study2)], input="q\n")
    assert again.exit_code == 2
    assert "U2 already has a return for round 2" in again.output


def test_enter_quit_saves_nothing(study2: Path) -> None:
    from typer.testing import CliRunner

    from delphi.cli import app

    before = tree_digest(study2)
    result = CliRunner().invoke(app, ["enter", "E1", "--study", str(study2)], input="5\nq\n")
    assert result.exit_code == 0
    assert "nothing was saved" in result.output
    assert tree_digest(study2) == before


def test_status_shows_names_only_on_request(study2: Path, cli: Run) -> None:
    plain = cli("status", "--study", str(study2))
    assert plain.exit_code == 0
    assert "Ann Example" not in plain.stdout and "U2 (post)" in plain.stdout
    named = cli("status", "--study", str(study2), "--names")
    assert "Ann Example" in named.stdout
    rounds = json.loads(cli("status", "--study", str(study2), "--json").stdout)
    assert rounds["attrition"] == [{"round": 2, "returned_previous": 3, "returned_both": 0,
                                    "withdrawn": 0, "lost": 3, "rejoined": 0}]


def _flattened(pdf: Path, out: Path) -> Path:
    """The questionnaire with its form flattened away: no fields, the document info kept."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(pdf))
    writer._root_object.pop("/AcroForm", None)
    for page in writer.pages:
        page.pop("/Annots", None)
    writer.write(out)
    return out


def _round_field(pdf: Path, out: Path, value: str) -> Path:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(pdf))
    for page in writer.pages:
        writer.update_page_form_field_values(page, {"delphi_round": value},
                                             auto_regenerate=False)
    writer.add_metadata({"/delphiround": value})
    writer.write(out)
    return out


@pytest.mark.parametrize(("make", "expected"), [
    (_flattened, "has no form fields left (it was flattened, or printed to PDF rather than "
                 "saved): its answers cannot be read; save the filled form with the PDF "
                 "reader's Save, or type it in with 'delphi enter E1'"),
    (lambda pdf, out: _round_field(pdf, out, "²"),
     "the questionnaire's round is '²', not a round number: the file was altered"),
    (lambda pdf, out: out.write_bytes(pdf.read_bytes()[:2000]) and out,
     "not a readable PDF ("),
], ids=["flattened", "round ²", "truncated"])
def test_a_pdf_that_cannot_be_read_exactly_is_refused(study2: Path, tmp_path: Path, cli: Run,
                                                      make: Callable[[Path, Path], Path],
                                                      expected: str) -> None:
    pdf = make(study2 / "rounds/round-2/questionnaires/E1.pdf", tmp_path / "E1-back.pdf")
    before = tree_digest(study2)
    result = cli("import", str(pdf), "--study", str(study2))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {pdf}: {expected}"), result.stderr
    assert tree_digest(study2) == before


def test_returns_read_equal_validated_ones_and_are_handed_over(make_study: Make) -> None:
    """The reader builds returns from the values it checked, without validating them again:
    they equal validated returns, and once handed over it reads nothing more into them."""
    study = Study(make_study())
    reader = ReturnsReader(study.manifest(1), study.settings)
    path = study.canonical_returns_path(1)
    reader.read(path, "returns.csv")
    returns = reader.returns()
    assert len(returns) >= 2
    assert all(PanelReturn.model_validate(r.model_dump()) == r for r in returns)
    assert reader.returns() == returns
    with pytest.raises(RuntimeError, match="returns were taken"):
        reader.read(path, "again.csv")
