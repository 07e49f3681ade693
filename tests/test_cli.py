"""The CLI in-process: output, exit codes and the exact error line of every bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ITEMS_YAML, PANEL_YAML, ROOT, STUDY_YAML, Result, tree_digest

Run = Callable[..., Result]
Make = Callable[..., Path]


def test_analyse_tiny_study(make_study: Make, cli: Run) -> None:
    root = make_study()
    result = cli("analyse", "--study", str(root))
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 items reached consensus: 1 disagree, 1 agree" in result.stdout
    assert "✔ agree" in result.stdout
    assert all(len(line) <= 100 for line in result.stdout.splitlines())
    assert (root / "rounds/round-1/results.json").exists()
    csv_lines = (root / "rounds/round-1/results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("round,item,section,kind,group,n,median")
    assert len(csv_lines) == 1 + 4 * 3  # items x (all + 2 groups)


def test_analyse_json_is_what_results_json_holds(make_study: Make, cli: Run) -> None:
    root = make_study()
    result = cli("analyse", "--study", str(root), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == json.loads((root / "rounds/round-1/results.json").read_text())
    assert data["response"] == {"invited": 4, "returned": 3, "groups": {
        "expert": {"invited": 2, "returned": 2}, "user": {"invited": 2, "returned": 1}}}
    first = data["items"][0]
    assert (first["id"], first["n"], first["median"], first["consensus"]) == ("1.1", 3, 8.0,
                                                                              "agree")
    assert first["groups"]["user"]["n"] == 1
    second = data["items"][1]
    assert second["groups"]["user"] == {"n": 0, "unsure": 0, "denominator": 0, "median": None,
                                        "q1": None, "q3": None,
                                        "iqr": None, "mean": None,
                                        "bands": {"disagree": None, "neutral": None,
                                                  "agree": None},
                                        "consensus": None, "rank": None}
    ranks = {i["id"]: i["rank"] for i in data["items"]}
    assert ranks == {"1.1": None, "1.2": None, "5.1": 1, "5.2": 2}


def test_example_study_json(cli: Run, tmp_path: Path) -> None:
    import shutil

    for name in ("study.yaml", "questionnaires", "panels", "rounds"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    result = cli("analyse", "--study", str(tmp_path), "--json")
    data = json.loads(result.stdout)
    assert (data["response"]["invited"], data["response"]["returned"]) == (99, 88)
    assert len([i for i in data["items"] if i["kind"] == "rating"]) == 49


def test_round_without_returns_is_zero_of_n(make_study: Make, cli: Run) -> None:
    root = make_study(returns=None)
    result = cli("analyse", "--study", str(root))
    assert result.exit_code == 0
    assert "0 of 4 returned" in result.stdout
    assert "0 of 2 items reached consensus" in result.stdout


def test_validate_passes_on_the_tiny_study(make_study: Make, cli: Run) -> None:
    result = cli("validate", "--study", str(make_study()))
    assert result.exit_code == 0
    assert "valid" in result.stdout


# ---------------------------------------------------------------- every bad input

BAD_INPUTS = {
    "malformed YAML": (
        {"study.yaml": STUDY_YAML.replace("title: Tiny study", "title: [Tiny study")},
        "study.yaml:", "malformed YAML"),
    "unknown key": (
        {"study.yaml": STUDY_YAML.replace("quartiles: linear", "quartile: linear")},
        "study.yaml:10: quartile: unknown key 'quartile'", None),
    "duplicate key": (
        {"study.yaml": STUDY_YAML + "title: Again\n"},
        "study.yaml:16: ", "duplicate key 'title' (first on line 1)"),
    "bad quartile method": (
        {"study.yaml": STUDY_YAML.replace("quartiles: linear", "quartiles: type7")},
        "study.yaml:10: quartiles:", "'type7'"),
    "overlapping bands": (
        {"study.yaml": STUDY_YAML.replace("{name: neutral,  min: 4", "{name: neutral,  min: 3")},
        "study.yaml:4: bands: bands overlap: 'disagree' (1-3) and 'neutral' (3-6)", None),
    "gap between bands": (
        {"study.yaml": STUDY_YAML.replace("{name: neutral,  min: 4", "{name: neutral,  min: 5")},
        "study.yaml:4: bands: bands leave a gap: nothing covers 4-4", None),
    "bands do not cover the scale": (
        {"study.yaml": STUDY_YAML.replace("{name: agree,    min: 7, max: 9}",
                                          "{name: agree,    min: 7, max: 8}")},
        "study.yaml:4: bands: bands leave a gap: the scale ends at 9", None),
    "threshold of one half": (
        {"study.yaml": STUDY_YAML.replace("threshold: 0.75", "threshold: 0.5")},
        "study.yaml:8: consensus.threshold:", "(got 0.5)"),
    "unknown group": (
        {"panels/panel.yaml": PANEL_YAML.replace("group: user, delivery",
                                                 "group: users, delivery")},
        "panels/panel.yaml:5: panellists[3].group: unknown group 'users'", None),
    "duplicate code": (
        {"panels/panel.yaml": PANEL_YAML.replace("code: E2", "code: E1")},
        "panels/panel.yaml:3: panellists[1].code: duplicate panellist code 'E1'", None),
    "post without address": (
        {"panels/panel.yaml": PANEL_YAML.replace(", address: 1 Example Road", "")},
        "panels/panel.yaml:5: panellists[3]:", "U2: delivery is post but there is no address"),
    "duplicate item id": (
        {"questionnaires/items.yaml": ITEMS_YAML.replace('id: "1.2"', 'id: "1.1"')},
        "questionnaires/items.yaml:7: sections[0].items[1].id: duplicate item id '1.1'", None),
    "unquoted item id": (
        {"questionnaires/items.yaml": ITEMS_YAML.replace('id: "1.2"', "id: 1.2")},
        "questionnaires/items.yaml:7: sections[0].items[1].id:", 'write id: "1.2"'),
    "missing item bank": (
        {"study.yaml": STUDY_YAML.replace("questionnaires/items.yaml", "questionnaires/x.yaml")},
        "questionnaires/x.yaml: file not found", None),
    "rating out of range": (
        {"rounds/round-1/returns/returns.csv": "code,1.1\nE1,10\n"},
        "rounds/round-1/returns/returns.csv:2: item 1.1: rating 10 is outside the scale 1-9",
        None),
    "rating not an integer": (
        {"rounds/round-1/returns/returns.csv": "code,1.1\nE1,7.5\n"},
        "rounds/round-1/returns/returns.csv:2: item 1.1: rating '7.5' is not a whole number",
        None),
    "rating not a number": (
        {"rounds/round-1/returns/returns.csv": "code,1.1\nE1,n/a\n"},
        "returns.csv:2: item 1.1: rating 'n/a' is not a whole number", None),
    "unknown code": (
        {"rounds/round-1/returns/returns.csv": "code,1.1\nZZ9,7\n"},
        "returns.csv:2: unknown panellist code 'ZZ9': not invited to round 1", None),
    "unknown item": (
        {"rounds/round-1/returns/returns.csv": "code,1.1,9.9\nE1,7,7\n"},
        "returns.csv:1: unknown item '9.9' in column: round 1 did not ask it", None),
    "duplicate return": (
        {"rounds/round-1/returns/returns.csv": "code,1.1\nE1,7\nU1,5\ne1,8\n"},
        "returns.csv:4: duplicate return for E1: already returned in "
        "rounds/round-1/returns/returns.csv:2", None),
    "duplicate return across files": (
        {"rounds/round-1/returns/more.csv": "code,item,rating\nE2,1.1,4\n"},
        "returns.csv:3: duplicate return for E2: already returned in "
        "rounds/round-1/returns/more.csv:2", None),
    "duplicate long row": (
        {"rounds/round-1/returns/returns.csv": "code,item,rating\nE1,1.1,7\nE1,1.1,8\n"},
        "returns.csv:3: duplicate row: E1 already rated item 1.1 on line 2", None),
    "edited manifest": (
        {"rounds/round-1/questionnaire.yaml": None},
        "rounds/round-1/questionnaire.yaml:", "must not be edited"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
@pytest.mark.parametrize("command", ["analyse", "validate"])
def test_bad_input_gives_one_clear_line_and_exit_2(case: str, command: str, make_study: Make,
                                                   cli: Run) -> None:
    files, expected, also = BAD_INPUTS[case]
    root = make_study()
    if files.get("rounds/round-1/questionnaire.yaml", "") is None:
        manifest = root / "rounds/round-1/questionnaire.yaml"
        files = {"rounds/round-1/questionnaire.yaml": manifest.read_text().replace(
            "text: First statement", "text: First statement, edited")}
    from tests.conftest import build_tree

    build_tree(root, files)  # type: ignore[arg-type]
    before = tree_digest(root)
    result = cli(command, "--study", str(root))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    first = lines[0]
    assert expected in first, first
    if also:
        assert also in first, first
    if command == "analyse":
        assert len(lines) == 1, lines
    else:
        assert lines[-1] == "1 problem found."
    assert tree_digest(root) == before  # nothing written


def test_validate_lists_every_problem(make_study: Make, cli: Run) -> None:
    root = make_study(files={
        "panels/panel.yaml": PANEL_YAML.replace("code: E2", "code: E1").replace(
            "group: user, delivery", "group: users, delivery"),
        "rounds/round-1/returns/returns.csv": "code,1.1,1.2\nE1,10,x\nQQ,1,1\n",
    })
    result = cli("validate", "--study", str(root))
    assert result.exit_code == 2
    assert "panels/panel.yaml:3" in result.stderr and "panels/panel.yaml:5" in result.stderr
    assert result.stderr.strip().endswith("2 problems found.")
    root2 = make_study(files={"rounds/round-1/returns/returns.csv":
                              "code,1.1,1.2\nE1,10,x\nQQ,1,1\n"})
    result = cli("validate", "--study", str(root2))
    assert "3 problems found." in result.stderr


def test_not_a_study_folder(tmp_path: Path, cli: Run) -> None:
    result = cli("analyse", "--study", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'study.yaml'}: file not found; is this a study folder? Pass "
        "--study DIR to point at one")


def test_missing_round(make_study: Make, cli: Run) -> None:
    result = cli("analyse", "--study", str(make_study()), "--round", "4")
    assert result.exit_code == 2
    assert "round 4 has no questionnaire (rounds with a questionnaire: 1)" in result.stderr


def test_round_option_is_range_checked(make_study: Make, cli: Run) -> None:
    result = cli("analyse", "--study", str(make_study()), "--round", "0")
    assert result.exit_code == 2


def test_traceback_switch_shows_the_exception(make_study: Make, cli: Run) -> None:
    from delphi.errors import RoundStateError

    with pytest.raises(RoundStateError):
        cli("--traceback", "analyse", "--study", str(make_study()), "--round", "4")


def test_roster_in_several_files(make_study: Make, cli: Run) -> None:
    study = STUDY_YAML.replace("roster: panels/panel.yaml",
                               "roster: [panels/panel.yaml, panels/more.yaml]")
    more = "panellists:\n  - {code: E9, name: Eve Example, email: eve@example.org, group: expert}\n"
    root = make_study(files={"study.yaml": study, "panels/more.yaml": more})
    assert cli("validate", "--study", str(root)).exit_code == 0
    (root / "panels/more.yaml").write_text(more.replace("E9", "E1"))
    result = cli("validate", "--study", str(root))
    assert result.exit_code == 2
    assert result.stderr.startswith("panels/more.yaml:2: panellists[0].code: duplicate "
                                    "panellist code 'E1' (first in panels/panel.yaml:2)")


def test_every_action_name_resolves_to_its_module() -> None:
    """delphi.actions loads a command family's module on first use of one of its names."""
    from types import ModuleType

    import delphi.actions as actions

    for name in actions.__all__:
        value = getattr(actions, name)
        assert not isinstance(value, ModuleType), name  # not shadowed by a submodule
        if callable(value):
            assert value.__module__.startswith("delphi.actions."), name


def test_words_with_brackets_or_colons_are_shown_as_written(tmp_path: Path, cli: Run) -> None:
    """A statement, title, label or name is printed as written, not read as rich markup."""
    from tests.conftest import RETURNS_CSV, build_tree, write_manifest

    root = build_tree(tmp_path / "study", {
        "study.yaml": STUDY_YAML.replace("label: Expert authors",
                                         'label: "Expert [bold]authors :smile:"'),
        "questionnaires/items.yaml": ITEMS_YAML.replace(
            "title: Organisation", 'title: "Organisation [red]x"').replace(
            "text: First statement", "text: First [where possible] [/b] statement"),
        "panels/panel.yaml": PANEL_YAML.replace("name: Ann Example", 'name: "Ann [/b] :x:"'),
    })
    write_manifest(root)
    status = cli("status", "--study", str(root), "--names")
    assert status.exit_code == 0, status.stderr
    assert "Expert [bold]authors :smile:" in status.stdout
    assert "Ann [/b] :x:" in status.stdout
    build_tree(root, {"rounds/round-1/returns/returns.csv": RETURNS_CSV})
    analysed = cli("analyse", "--study", str(root))
    assert analysed.exit_code == 0, analysed.stderr
    assert "Organisation [red]x" in analysed.stdout
    assert "First [where possible] [/b]" in analysed.stdout
    assert "Expert [bold]authors :smile:" in analysed.stdout
    build_tree(root, {"rounds/round-1/returns/returns.csv":  # the rules disagree on 1.1
                      "code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,1,,9,3\n"})
    rules = cli("analyse", "--study", str(root), "--rules", "banded,iqr,comet,rand-ucla")
    assert rules.exit_code == 0, rules.stderr
    assert "Items on which the rules disagree" in rules.stdout
    assert "First [where possible] [/b]" in rules.stdout


def test_an_error_quoting_an_emoji_code_quotes_it_as_written(make_study: Make,
                                                              cli: Run) -> None:
    root = make_study(files={"study.yaml": STUDY_YAML.replace("{min: 1, max: 9}",
                                                              '{min: ":x:", max: 9}')})
    result = cli("status", "--study", str(root))
    assert result.exit_code == 2
    assert "(got ':x:')" in result.stderr, result.stderr


def test_delphi_makes_only_the_command_that_runs(make_study: Make) -> None:
    """Start-up: typer would make every command with its options' types; delphi makes one."""
    import contextlib
    import io

    import typer.main

    from delphi.cli import app

    group = typer.main.get_command(app)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        group.main(["--help"], standalone_mode=False)  # lists commands from their docstrings
        made = group.commands.made  # type: ignore[attr-defined]
        assert set(made) <= {"panel", "items"}  # the two small groups, for their help
        group.main(["status", "--study", str(make_study())], standalone_mode=False)
    assert set(made) - {"panel", "items"} == {"status"}
    assert "status  " in out.getvalue() and "Invited" in out.getvalue()
