"""delphi init, panel import, items import, panel withdraw: starting a study, changing its panel."""

from __future__ import annotations

import csv
import json
import re
import typing
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pydantic import BaseModel

from delphi import actions
from delphi.core.models import ItemBank, Panellist, Roster, Settings
from delphi.store.study import Study
from tests.conftest import STUDY_YAML, Result, tree_digest

Run = Callable[..., Result]
Make = Callable[..., Path]


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def errors(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


# ---------------------------------------------------------------------------------- init


def test_init_writes_a_valid_study_and_never_overwrites_one(tmp_path: Path, cli: Run) -> None:
    root = tmp_path / "pd-services_study"
    result = cli("init", str(root))
    assert result.exit_code == 0, result.stderr
    assert "delphi panel import panel.xlsx --study" in result.stdout
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "panels/panel.yaml", "questionnaires/items.yaml", "study.yaml"]
    assert cli("validate", "--study", str(root)).exit_code == 0
    assert Study(root).settings.title == "Pd services study"  # from the folder's name

    before = tree_digest(root)
    again = cli("init", str(root), "--title", "Another")
    assert again.exit_code == 2
    assert "is already a study folder" in again.stderr
    assert tree_digest(root) == before

    other = tmp_path / "half"
    (other / "panels").mkdir(parents=True)
    (other / "panels/panel.yaml").write_text("mine\n")
    refused = cli("init", str(other))
    assert refused.exit_code == 2 and "panels/panel.yaml exists already" in refused.stderr
    assert (other / "panels/panel.yaml").read_text() == "mine\n"
    assert not (other / "study.yaml").exists()


def test_init_title_is_written_safely(tmp_path: Path, cli: Run) -> None:
    title = 'Care: "what matters" # for whom?'
    assert cli("init", str(tmp_path / "s"), "--title", title).exit_code == 0
    assert Study(tmp_path / "s").settings.title == title


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and of the models it holds."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for inner in _models_in(info.annotation):
            names |= _fields(inner)
    return names


@pytest.mark.parametrize(("template", "model"), [
    ("study.yaml", Settings), ("items.yaml", ItemBank), ("panel.yaml", Roster)])
def test_init_explains_every_field(template: str, model: type[BaseModel]) -> None:
    """The files `delphi init` writes name every key the format has, each with an example.

    A key added to the models must be explained in delphi/templates/init/ too.
    """
    text = (Path(actions.__file__).parent.parent / "templates/init" / template).read_text()
    missing = sorted(f for f in _fields(model) if not re.search(rf"\b{f}:", text))
    assert not missing, f"delphi/templates/init/{template} does not explain {missing}"


# ---------------------------------------------------------------------------------- panel import


STUDY_WITH_PREFIX = STUDY_YAML.replace("{id: user,   label: Service users}",
                                       "{id: user,   label: Service users, prefix: SU}")


def test_panel_import_adds_codes_from_the_group_and_is_idempotent(make_study: Make, cli: Run,
                                                                   tmp_path: Path) -> None:
    root = make_study(files={"study.yaml": STUDY_WITH_PREFIX})
    sheet = write_csv(tmp_path / "panel.csv", [
        ["name", "Email", "group", "delivery", "address", "background", "region"],
        ["Gil Example", "gil@example.org", "expert", "", "", "psychiatry; nursing", "north"],
        ["Hal Example", "hal@example.org", "User", "", "", "", ""],
        ["Ida Example", "", "user", "post", "2 Example Street", "nursing", ""],
        ["", "", "", "", "", "", ""],
        ["Jo Example", "jo@example.org", "expert", "email", "", "", "south"]])
    first = cli("panel", "import", str(sheet), "--study", str(root))
    assert first.exit_code == 0, first.stderr
    assert "Expert authors: EX01, EX02" in first.stdout
    assert "Service users: SU01, SU02" in first.stdout
    roster = Study(root).roster.by_code()
    assert roster["EX01"].attributes == {"background": ["psychiatry", "nursing"],
                                         "region": "north"}
    assert roster["SU01"].group == "user" and not roster["SU01"].attributes
    assert roster["SU02"].delivery == "post" and roster["SU02"].address == "2 Example Street"
    assert roster["EX02"].name == "Jo Example"
    assert cli("validate", "--study", str(root)).exit_code == 0

    text = (root / "panels/panel.yaml").read_text()
    again = cli("panel", "import", str(sheet), "--study", str(root))
    assert again.exit_code == 0
    assert "Nothing to add: the 4 panellists" in again.stdout
    assert (root / "panels/panel.yaml").read_text() == text

    more = tmp_path / "more.csv"  # semicolons and a trailing separator, as some programs write
    more.write_text("name;email;group;\nKim Example;kim@example.org;expert;\n")
    cli("panel", "import", str(more), "--study", str(root))
    assert "EX03" in Study(root).roster.by_code()  # numbering goes on after the highest


def test_panel_import_with_codes_from_xlsx(make_study: Make, cli: Run, tmp_path: Path) -> None:
    root = make_study()
    sheet = write_xlsx(tmp_path / "panel.xlsx", [
        ["code", "name", "email", "group", "years"],
        ["E1", "Ann Example", "ann@example.org", "expert", None],  # already on the roster
        ["E9", "Lou Example", "lou@example.org", "expert", 12]])
    result = cli("panel", "import", str(sheet), "--study", str(root))
    assert result.exit_code == 0, result.stderr
    assert "Added 1 panellist to panels/panel.yaml (1 already there)" in result.stdout
    assert Study(root).roster.by_code()["E9"].attributes == {"years": "12"}


def test_panel_import_lists_every_problem_and_writes_nothing(make_study: Make, cli: Run,
                                                            tmp_path: Path) -> None:
    root = make_study()
    sheet = write_csv(tmp_path / "bad.csv", [
        ["code", "name", "email", "group", "delivery", "address"],
        ["N1", "Max Example", "max@example.org", "clinician", "", ""],      # 2 unknown group
        ["N2", "Ned Example", "ned@", "expert", "", ""],                     # 3 bad e-mail
        ["E1", "Not Ann", "other@example.org", "expert", "", ""],            # 4 code taken
        ["N3", "Oli Example", "oli@example.org", "expert", "", ""],
        ["n3", "Pat Example", "pat@example.org", "expert", "", ""],          # 6 duplicate code
        ["N4", "Quin Example", "ANN@example.org", "expert", "", ""],         # 7 roster e-mail
        ["N5", "Ria Example", "oli@example.org", "user", "", ""],            # 8 file e-mail
        ["N6", "Sam Example", "", "user", "post", ""],                       # 9 no address
        ["N7", "", "tam@example.org", "user", "", ""],                       # 10 no name
        ["N8", "Uma Example", "uma@example.org", "user", "pigeon", ""],      # 11 delivery
        ["N 9", "Val Example", "val@example.org", "user", "", ""]])          # 12 bad code
    before = tree_digest(root)
    result = cli("panel", "import", str(sheet), "--study", str(root))
    assert result.exit_code == 2
    assert tree_digest(root) == before
    shown = str(sheet)
    assert errors(result) == [
        f"error: {shown}:2: group: unknown group 'clinician'; study.yaml defines expert, user "
        "(add it to groups: in study.yaml, or correct the cell)",
        f"error: {shown}:3: email: 'ned@' is not an e-mail address",
        f"error: {shown}:4: code: code 'E1' is already on the roster with another name, email; "
        "importing adds panellists and changes none: edit the roster to change one",
        f"error: {shown}:6: code: duplicate code 'n3' (also on row 5)",
        f"error: {shown}:7: email: duplicate e-mail 'ANN@example.org': already on the roster "
        "as E1",
        f"error: {shown}:8: email: duplicate e-mail 'oli@example.org' (also on row 5)",
        f"error: {shown}:9: address: delivery is post but the address is empty",
        f"error: {shown}:10: name: the name is empty",
        f"error: {shown}:11: delivery: delivery 'pigeon' is not one of email, web, post",
        f"error: {shown}:12: code: code 'N 9': codes are up to 32 letters, digits, '_' and "
        "'-', starting with a letter or digit"]


def test_panel_import_problems_in_a_workbook_name_the_cell(make_study: Make, cli: Run,
                                                          tmp_path: Path) -> None:
    root = make_study()
    sheet = write_xlsx(tmp_path / "bad.xlsx", [
        ["name", "email", "group", "Years in post"],
        ["Max Example", "max@example.org", "expert", 3]])
    result = cli("panel", "import", str(sheet), "--study", str(root))
    assert errors(result) == [
        f"error: {sheet}:1: cell D1: Years in post: column 'Years in post' would be an "
        "attribute, but attribute names are letters, digits, '_', '.' and '-' (rename it, "
        "e.g. Years_in_post)"]
    sheet = write_xlsx(tmp_path / "bad2.xlsx", [
        ["name", "email", "group"], ["Max Example", "max@", "expert"]])
    result = cli("panel", "import", str(sheet), "--study", str(root))
    assert errors(result) == [f"error: {sheet}:2: cell B2: email: 'max@' is not an e-mail "
                              "address"]
    missing = write_csv(tmp_path / "cols.csv", [["name", "email"], ["A", "a@example.org"]])
    result = cli("panel", "import", str(missing), "--study", str(root))
    assert errors(result) == [f"error: {missing}:1: no 'group' column; the header needs name, "
                              "group (and may have code, email, delivery, address)"]
    wrong = tmp_path / "panel.txt"
    wrong.write_text("name\n")
    assert "not a CSV or XLSX file" in cli("panel", "import", str(wrong), "--study",
                                          str(root)).stderr


def test_prefixes_that_clash_need_one_in_study_yaml(make_study: Make, cli: Run,
                                                   tmp_path: Path) -> None:
    study = STUDY_YAML.replace("  - {id: user,   label: Service users}",
                               "  - {id: user,   label: Service users}\n"
                               "  - {id: usher,  label: Ushers}")
    root = make_study(files={"study.yaml": study})
    sheet = write_csv(tmp_path / "p.csv", [["name", "email", "group"],
                                           ["Al Example", "al@example.org", "user"]])
    result = cli("panel", "import", str(sheet), "--study", str(root))
    assert result.exit_code == 2
    assert "groups 'user', 'usher' would all get codes starting US" in result.stderr


ROSTER_BY_HAND = """\
# Our panel, typed by hand. Keep this header.
panellists:
# --- experts ---
- code: E1        # the chair
  name: Ann Example
  email: ann@example.org
  group: expert

- code: E2
  name: Ben Example
  email: ben@example.org
  group: expert
  attributes:
    background: [psychiatry]
# --- users ---
- {code: U1, name: Cat Example, email: cat@example.org, group: user}
- {code: U2, name: Dan Example, group: user, delivery: post, address: 1 Example Road}
# end of the panel: add new people above this line
"""


def test_a_hand_edited_roster_keeps_its_comments_and_order(make_study: Make, cli: Run,
                                                           tmp_path: Path) -> None:
    root = make_study(files={"panels/panel.yaml": ROSTER_BY_HAND})
    sheet = write_csv(tmp_path / "p.csv", [["name", "email", "group"],
                                           ["Eve Example", "eve@example.org", "expert"]])
    assert cli("panel", "import", str(sheet), "--study", str(root)).exit_code == 0
    assert cli("panel", "withdraw", "E1", "--reason", "moved: abroad", "--study",
               str(root)).exit_code == 0
    text = (root / "panels/panel.yaml").read_text()
    today = date.today().isoformat()
    assert text == ROSTER_BY_HAND.replace(
        "  group: expert\n\n",
        f"  group: expert\n  withdrawn: {{date: {today}, round: 1, reason: 'moved: abroad'}}"
        "\n\n").replace(
        "# end of the panel",
        "- code: EX01\n  name: Eve Example\n  email: eve@example.org\n  group: expert\n"
        "# end of the panel")
    assert cli("validate", "--study", str(root)).exit_code == 0


# ---------------------------------------------------------------------------------- items import


def test_items_import_adds_sections_and_items_and_is_idempotent(make_study: Make, cli: Run,
                                                                tmp_path: Path) -> None:
    root = make_study(returns=None)
    (root / "rounds").rename(tmp_path / "no-rounds")  # a study before round 1
    sheet = write_csv(tmp_path / "s.csv", [
        ["section", "id", "text", "section_title", "kind"],
        ["org", "1.10", "Tenth statement", "", ""],
        ["care", "2.1", "Care statement", "Care", ""],
        ["care", "2.10", "Another care statement", "", "rating"],
        ["", "", "", "", ""]])
    result = cli("items", "import", str(sheet), "--study", str(root))
    assert result.exit_code == 0, result.stderr
    assert "Added 3 statements to questionnaires/items.yaml; new sections: care." in result.stdout
    bank = Study(root).bank
    assert [i.id for i in bank.sections[0].items] == ["1.1", "1.2", "1.10"]
    assert bank.sections[-1].title == "Care"
    assert [i.id for i in bank.sections[-1].items] == ["2.1", "2.10"]
    text = (root / "questionnaires/items.yaml").read_text()
    assert '- id: "1.10"' in text and '- id: "2.10"' in text
    again = cli("items", "import", str(sheet), "--study", str(root))
    assert "Nothing to add: the 3 statements" in again.stdout
    assert (root / "questionnaires/items.yaml").read_text() == text


def test_items_added_after_round_1_are_introduced_in_the_next_round(make_study: Make,
                                                                    cli: Run,
                                                                    tmp_path: Path) -> None:
    root = make_study()
    sheet = write_csv(tmp_path / "s.csv", [["section", "id", "text"], ["org", "1.3", "New"]])
    result = cli("items", "import", str(sheet), "--study", str(root))
    assert "first asked in round 2 (introduced: 2)" in result.stdout
    assert Study(root).bank.sections[0].items[-1].introduced == 2


def test_items_import_lists_every_problem(make_study: Make, cli: Run, tmp_path: Path) -> None:
    root = make_study()
    sheet = write_xlsx(tmp_path / "s.xlsx", [
        ["section", "id", "text", "section_title", "kind"],
        ["org", 1.1, "A number", None, None],               # 2: would read 1.10 as 1.1
        ["org", "1.5", "Fine", None, None],
        ["org", "1.5", "Repeated", None, None],             # 4: repeated id
        ["org", "1.6", None, None, None],                   # 5: empty text
        ["new", "9.1", "No title", None, None],             # 6: new section without title
        ["org", "1.1", "Other text", None, None],           # 7: id in the bank, other text
        ["odd", "9.2", "Odd", "Odd", "vote"],               # 8: unknown kind
        ["org", "1.7", "Wrong kind", None, "ranking"]])     # 9: section is rating
    before = tree_digest(root)
    result = cli("items", "import", str(sheet), "--study", str(root))
    assert result.exit_code == 2
    assert tree_digest(root) == before
    kinds = ", ".join(__import__("delphi.core.bank", fromlist=["x"]).section_kinds())
    assert errors(result) == [
        f"error: {sheet}:2: cell B2: id: id '1.1' is a number in the workbook, so an id such as "
        "1.10 would read as 1.1: format the id column as text and type the ids again",
        f"error: {sheet}:4: cell B4: id: duplicate id '1.5' (also on row 3)",
        f"error: {sheet}:5: cell C5: text: the text is empty",
        f"error: {sheet}:6: cell D6: section_title: section 'new' is new: give its title in a "
        "section_title column",
        f"error: {sheet}:7: cell B7: id: id '1.1' is already in the item bank, with another "
        "text; to reword an item between rounds, add a revisions: entry to it",
        f"error: {sheet}:8: cell E8: kind: kind 'vote' is not one of {kinds}",
        f"error: {sheet}:9: cell E9: kind: section 'org' is a rating section in the item bank, "
        "not ranking"]


# ---------------------------------------------------------------------------------- withdraw


def test_withdrawal_before_returns(make_study: Make, cli: Run) -> None:
    """U2 (postal, no return yet) withdraws during round 1: counted apart, not invited again."""
    root = make_study()
    result = cli("panel", "withdraw", "u2", "--reason", "ill health", "--study", str(root))
    assert result.exit_code == 0, result.stderr
    assert "U2 withdrew on" in result.stdout and "not invited from round 2 on" in result.stdout
    entry = Study(root).roster.by_code()["U2"].withdrawn
    assert entry is not None and entry.round == 1 and entry.reason == "ill health"

    status = json.loads(cli("status", "--json", "--study", str(root)).stdout)
    assert status["overall"] == {"invited": 4, "returned": 3, "withdrawn": 1, "outstanding": 0,
                                 "rate": 0.75}
    assert status["outstanding"] == []
    assert status["withdrawn"] == [{"code": "U2", "group": "user", "date": entry.date.isoformat(),
                                    "round": 1}]  # no reason without --names
    named = json.loads(cli("status", "--json", "--names", "--study", str(root)).stdout)
    assert named["withdrawn"][0]["reason"] == "ill health"
    view = cli("status", "--study", str(root)).stdout
    assert "Everyone invited has returned or withdrawn." in view

    plan = actions.plan_mail(root, "questionnaire")
    assert plan.mailing.by_post == []  # no print bundle for U2
    assert plan.mailing.skipped["U2"].startswith("withdrew on")

    again = cli("panel", "withdraw", "U2", "--study", str(root))
    assert "withdrew already" in again.stdout
    unknown = cli("panel", "withdraw", "Z9", "--study", str(root))
    assert unknown.exit_code == 2
    assert errors(unknown) == ["error: panels/panel.yaml: no panellist with code 'Z9' on the "
                               "roster"]


def test_withdrawal_after_returns(make_study: Make, cli: Run) -> None:
    """E2 returned round 1, then withdrew: the return is analysed, round 2 does not invite E2."""
    root = make_study()
    result = cli("panel", "withdraw", "E2", "--study", str(root))
    assert "Their return to round 1 stays in the study and is analysed." in result.stdout
    analysed = json.loads(cli("analyse", "--json", "--study", str(root)).stdout)
    assert analysed["response"]["returned"] == 3
    assert analysed["items"][0]["n"] == 3  # E2's rating is still counted
    status = json.loads(cli("status", "--json", "--study", str(root)).stdout)
    assert status["overall"]["returned"] == 3 and status["overall"]["withdrawn"] == 0

    from delphi.core.rounds import build_manifest

    folder = Study(root)
    round_2 = build_manifest(folder.settings, folder.bank, folder.roster, 2)
    assert round_2.invited == ["E1", "U1", "U2"]
    round_1_again = build_manifest(folder.settings, folder.bank, folder.roster, 1)
    assert round_1_again == folder.manifest(1)  # the round they withdrew in is unchanged

    from delphi.core.status import round_status

    manifests = {1: folder.manifest(1), 2: round_2}
    returns = {1: folder.returns(1), 2: []}
    flow = round_status(folder.settings, folder.roster, manifests, returns, 2).attrition
    assert [(a.returned_previous, a.returned_both, a.withdrawn, a.lost) for a in flow] == [
        (3, 0, 1, 2)]


def test_panellist_model_says_who_is_withdrawn() -> None:
    """The core's answer for other adapters (the web links): withdrawn, and from when."""
    person = Panellist.model_validate({
        "code": "A1", "name": "A", "email": "a@example.org", "group": "g",
        "withdrawn": {"date": "2026-11-23", "round": 2}})
    assert person.is_withdrawn
    assert person.invited_to(2) and not person.invited_to(3)
    assert person.withdrawn_by(2) and not person.withdrawn_by(1)
    before_any = person.model_copy(update={"withdrawn": person.withdrawn.model_copy(  # type: ignore[union-attr]
        update={"round": None})})
    assert not before_any.invited_to(1) and before_any.withdrawn_by(1)


def test_an_empty_roster_or_bank_cannot_start_a_round(tmp_path: Path, cli: Run) -> None:
    root = tmp_path / "s"
    cli("init", str(root))
    result = cli("new-round", "--study", str(root))
    assert result.exit_code == 2
    assert "the item bank has no statements yet: add them with 'delphi items import" \
        in result.stderr


def test_the_whole_loop_from_init(tmp_path: Path, cli: Run) -> None:
    """As a new user: init, 30 panellists from XLSX, 8 statements from CSV, two rounds, report."""
    root = tmp_path / "study"
    assert cli("init", str(root), "--title", "Community services").exit_code == 0
    study_yaml = root / "study.yaml"
    study_yaml.write_text(study_yaml.read_text().replace(
        "  # - {id: service_user, label: Service users, short: Users, prefix: SU}",
        "  - {id: service_user, label: Service users}"))
    people = [["Name", "E-mail", "Group", "Delivery", "Address", "background"]]
    for i in range(30):
        group = "expert" if i < 15 else "service_user"
        if i == 29:
            people.append([f"Person {i}", None, group, "post", "1 Example Road", "nursing"])
        else:
            people.append([f"Person {i}", f"p{i}@example.org", group, None, None,
                           "psychiatry;nursing" if i % 3 else "nursing"])
    panel = write_xlsx(tmp_path / "panel.xlsx", people)
    statements = write_csv(tmp_path / "statements.csv", [
        ["section", "id", "text", "section_title"],
        *[["org" if i <= 5 else "care", f"{1 if i <= 5 else 2}.{i if i <= 5 else i - 5}",
           f"Statement {i}", "Organisation" if i <= 5 else "Care"] for i in range(1, 9)]])
    assert cli("panel", "import", str(panel), "--study", str(root)).exit_code == 0
    assert cli("items", "import", str(statements), "--study", str(root)).exit_code == 0
    assert cli("validate", "--study", str(root)).exit_code == 0

    built = cli("new-round", "--round", "1", "--study", str(root))
    assert built.exit_code == 0, built.stderr
    assert "Round 1: 8 items, 30 panellists invited." in built.stdout
    assert len(list((root / "rounds/round-1/questionnaires").glob("*.pdf"))) == 30

    codes = Study(root).manifest(1).invited
    rows = [["code", "1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"]]
    for n, code in enumerate(codes[:12] + codes[15:27]):
        rows.append([code, 8, 9, 7, n % 9 + 1, (n * 5) % 9 + 1, 2, 5, (n * 2) % 9 + 1])
    returns = write_csv(tmp_path / "returns.csv", rows)
    assert cli("import", str(returns), "--study", str(root)).exit_code == 0
    assert cli("panel", "withdraw", codes[0], "--study", str(root)).exit_code == 0  # returned
    assert cli("panel", "withdraw", codes[-1], "--study", str(root)).exit_code == 0  # did not
    analysed = cli("analyse", "--study", str(root))
    assert analysed.exit_code == 0, analysed.stderr
    second = cli("new-round", "--study", str(root))
    assert second.exit_code == 0, second.stderr
    assert "28 panellists invited" in second.stdout
    report = cli("report", "--format", "md,json", "--study", str(root))
    assert report.exit_code == 0, report.stderr
    text = (root / "report/report.md").read_text()
    assert "| 1 | 24/30 (80.0%) | 12/15 (80.0%) | 12/15 (80.0%) | 1 | 5 |" in text
    assert "| 2 | 24 | 0 | 1 | 23 | 0 |" in text  # one who returned round 1 withdrew
