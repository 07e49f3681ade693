"""The round engine and `delphi new-round`: what the next round asks, refusals, backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from delphi import actions
from delphi.core.analysis import RoundResult
from delphi.core.rounds import build_manifest, plan_round
from delphi.errors import DelphiError
from delphi.store.study import Study
from tests.conftest import ITEMS_YAML, ROOT, Result, tree_digest, weasyprint_warnings

Run = Callable[..., Result]
Make = Callable[..., Path]

Example = tuple[Study, list[RoundResult]]
TABLE_17_R1 = {"1.10", "2.3", "2.5", "2.7", "2.8", "2.9", "2.11", "2.13", "2.18", "3.6"}


@pytest.fixture(scope="module")
def example_round_1() -> Example:
    study = Study(ROOT)
    return study, actions._earlier_results(study, 2)


def test_round_2_of_the_example_drops_consensus_and_rankings(example_round_1: Example) -> None:
    study, earlier = example_round_1
    plan = plan_round(study.settings, study.bank, study.roster, 2, earlier)
    asked = set(plan.manifest.item_ids())
    assert not asked & TABLE_17_R1
    assert set(plan.dropped) == TABLE_17_R1
    assert all(i.kind == "rating" for i in plan.manifest.items)
    assert plan.added == ["1.14", "2.20", "2.21", "2.22", "4.9"]
    assert len(asked) == 49 - 10 + 5
    assert plan.manifest.invited == [p.code for p in study.roster.panellists]


def test_committed_round_2_manifest_is_what_the_engine_decides(example_round_1: Example) -> None:
    study, earlier = example_round_1
    plan = plan_round(study.settings, study.bank, study.roster, 2, earlier)
    assert study.manifest(2) == plan.manifest


def test_keep_and_drop_override_the_rule(example_round_1: Example) -> None:
    study, earlier = example_round_1
    plan = plan_round(study.settings, study.bank, study.roster, 2, earlier, keep=["3.6"],
                      drop=["2.6"])
    asked = plan.manifest.item_ids()
    assert "3.6" in asked and "2.6" not in asked
    assert plan.kept == ["3.6"]
    assert plan.dropped["2.6"] == "dropped by the coordinator (--drop)"
    with pytest.raises(DelphiError, match="--keep 9.99: no such item"):
        plan_round(study.settings, study.bank, study.roster, 2, earlier, keep=["9.99"])
    with pytest.raises(DelphiError, match="both --keep and --drop"):
        plan_round(study.settings, study.bank, study.roster, 2, earlier, keep=["2.6"],
                   drop=["2.6"])


def test_revisions_change_the_wording_from_their_round(example_round_1: Example) -> None:
    study, _ = example_round_1
    texts = {r: {i.id: i.text for i in build_manifest(study.settings, study.bank, study.roster,
                                                      r).items} for r in (2, 3)}
    assert texts[2]["1.12"].endswith("referral by concerned friends/relatives")
    assert texts[3]["1.12"] == "Dedicated PD services should be open to self-referral"
    m3 = build_manifest(study.settings, study.bank, study.roster, 3)
    item = next(i for i in m3.items if i.id == "1.12")
    m2 = build_manifest(study.settings, study.bank, study.roster, 2)
    assert item.hash != next(i for i in m2.items if i.id == "1.12").hash


def test_ranking_sections_can_be_asked_again(example_round_1: Example) -> None:
    study, _ = example_round_1
    bank = study.bank.model_copy(update={"sections": [
        s.model_copy(update={"rounds": [1, 2]}) if s.id == "priorities" else s
        for s in study.bank.sections]})
    manifest = build_manifest(study.settings, bank, study.roster, 2)
    assert {i.section for i in manifest.items if i.kind == "ranking"} == {"priorities"}


# ----------------------------------------------------------------------------- the command


def test_new_round_needs_results_first(make_study: Make, cli: Run) -> None:
    root = make_study()
    before = tree_digest(root)
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: round 1 has no results yet: run 'delphi analyse "
                                     "--round 1' once its returns are in")
    assert tree_digest(root) == before


def test_new_round_refuses_stale_results(make_study: Make, cli: Run) -> None:
    root = make_study()
    assert cli("analyse", "--study", str(root)).exit_code == 0
    (root / "rounds/round-1/returns/returns.csv").write_text("code,1.1\nE1,1\n")
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 2
    assert "results of round 1 are out of date" in result.stderr
    assert not (root / "rounds/round-2").exists()


def test_new_round_builds_round_2_then_refuses_to_overwrite_it(make_study: Make, cli: Run,
                                                               caplog: pytest.LogCaptureFixture
                                                               ) -> None:
    root = make_study()
    assert cli("analyse", "--study", str(root)).exit_code == 0
    with caplog.at_level("WARNING", logger="weasyprint"):
        result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert weasyprint_warnings(caplog.records) == []
    assert "dropped 1.1: consensus (agree) in round 1" in result.stdout
    manifest = Study(root).manifest(2)
    assert manifest.item_ids() == []  # both rating items reached consensus; rankings end
    pdfs = sorted(p.name for p in (root / "rounds/round-2/questionnaires").iterdir())
    assert pdfs == ["E1.pdf", "E2.pdf", "U1.pdf", "U2.pdf"]

    before = tree_digest(root)
    again = cli("new-round", "--study", str(root), "--round", "2", "--workers", "1")
    assert again.exit_code == 2
    assert "round 2 already exists (rounds/round-2); use --force" in again.stderr
    assert tree_digest(root) == before

    forced = cli("new-round", "--study", str(root), "--round", "2", "--force", "--workers", "1")
    assert forced.exit_code == 0, forced.stderr
    backups = list((root / "rounds/.backups").iterdir())
    assert len(backups) == 1 and backups[0].name.startswith("round-2-")
    assert (backups[0] / "questionnaire.yaml").exists()
    assert not list((root / "rounds").glob(".round-*staging*"))


def test_new_round_1_from_the_item_bank(make_study: Make, cli: Run) -> None:
    root = make_study(returns=None)
    import shutil

    shutil.rmtree(root / "rounds")
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert Study(root).manifest(1).item_ids() == ["1.1", "1.2", "5.1", "5.2"]


def test_new_item_and_unknown_keep(make_study: Make, cli: Run) -> None:
    items = ITEMS_YAML.replace('''      - id: "1.2"
        text: Second statement''', '''      - id: "1.2"
        text: Second statement
      - id: "1.3"
        text: Third statement, new in round 2
        introduced: 2''')
    root = make_study(files={"questionnaires/items.yaml": items})
    assert cli("analyse", "--study", str(root)).exit_code == 0
    bad = cli("new-round", "--study", str(root), "--keep", "7.7", "--workers", "1")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: --keep 7.7: no such item in the item bank"
    result = cli("new-round", "--study", str(root), "--keep", "1.1", "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "new: 1.3" in result.stdout
    assert Study(root).manifest(2).item_ids() == ["1.1", "1.3"]


def test_suggestions_review_file(make_study: Make, cli: Run) -> None:
    root = make_study(returns="code,1.1,comment:1.1,suggestions\nE1,7,=HYPERLINK(\"x\"),"
                              "Ask about housing\nU1,3,,\n")
    result = cli("suggestions", "--study", str(root))
    assert result.exit_code == 0, result.stderr
    md = (root / "rounds/round-1/suggestions.md").read_text()
    assert "- **E1** (Expert authors): Ask about housing" in md
    assert "### 1.1 First statement" in md
    csv_text = (root / "rounds/round-1/suggestions.csv").read_text()
    assert "'=HYPERLINK" in csv_text  # formula made inert
    assert "Ann Example" not in md + csv_text  # codes only, never names


def test_new_round_completes_a_round_whose_pdfs_are_missing(make_study: Make,
                                                             cli: Run) -> None:
    """As in a fresh clone of the example: round 2's manifest is committed, its PDFs are not."""
    import shutil

    root = make_study()
    assert cli("analyse", "--study", str(root)).exit_code == 0
    assert cli("new-round", "--study", str(root), "--keep", "1.1", "--workers", "1"
               ).exit_code == 0
    manifest_before = (root / "rounds/round-2/questionnaire.yaml").read_text()
    shutil.rmtree(root / "rounds/round-2/questionnaires")
    refused = cli("new-round", "--study", str(root), "--workers", "1")
    assert refused.exit_code == 2  # without --keep 1.1 the plan is not the committed manifest
    assert "is not what the item bank and round 1's results give now" in refused.stderr
    result = cli("new-round", "--study", str(root), "--keep", "1.1", "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "its PDFs were missing and are now written" in result.stdout
    assert (root / "rounds/round-2/questionnaire.yaml").read_text() == manifest_before
    assert len(list((root / "rounds/round-2/questionnaires").glob("*.pdf"))) == 4
    again = cli("new-round", "--study", str(root), "--keep", "1.1", "--workers", "1")
    assert again.exit_code == 2 and "round 2 has no results yet" in again.stderr
