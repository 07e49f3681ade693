"""A corpus of hostile and careless inputs: each gives exit 2 with one message naming the
culprit (file, line or cell, value), changes no file, or is imported exactly.

One line per case: what the file holds, and the message expected."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from delphi.core.models import PanelReturn
from delphi.store.study import Study
from tests.conftest import Result, tree_digest

Run = Callable[..., Result]
Make = Callable[..., Path]


def xlsx(rows: list[list[object]], formulas: dict[str, str] | None = None,
         text_header: bool = False) -> bytes:
    """A workbook with ``rows`` on its first sheet; ``formulas`` by cell (``"B2": "=1+1"``)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, formula in (formulas or {}).items():
        sheet[ref] = formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def patched_xlsx(data: bytes, edit: Callable[[str], str]) -> bytes:
    """The same workbook with its first sheet's XML changed by ``edit``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = edit(body.decode("utf-8")).encode("utf-8")
            dst.writestr(info, body)
    return out.getvalue()


GOOD = xlsx([["code", "1.1", "1.2"], ["E1", 7, 8]])

# (case, {file name: content}, expected message after "error: <file>:")
REFUSED: list[tuple[str, dict[str, bytes], str]] = [
    ("unterminated quote", {"a.csv": b'code,1.1\nE1,"8\nE2,9\n'},
     r"a\.csv:\d: malformed CSV: unexpected end of data"),
    ("stray quote", {"a.csv": b'code,1.1\nE1,"8"x\n'}, r"a\.csv:2: malformed CSV"),
    ("NUL byte", {"a.csv": b"code,1.1\nE1,\x008\n"}, r"a\.csv:2: item 1\.1: rating '\\x008'"),
    ("not UTF-8", {"a.csv": b"code,1.1\nE\xe91,8\n"},
     r"a\.csv:2: not UTF-8 text \(byte 0xe9 at position 10\)"),
    ("empty file", {"a.csv": b""}, r"a\.csv:1: the file is empty"),
    ("long row with extra cells", {"a.csv": b"code,item,rating\nE1,1.1,7,oops\n"},
     r"a\.csv:2: 4 cells but the header has 3 columns"),
    ("wide row with extra cells", {"a.csv": b"code,1.1\nE1,7,8\n"},
     r"a\.csv:2: 3 cells but the header has 2 columns"),
    ("wide and long file, one panellist",
     {"a.csv": b"code,1.1\nE1,7\n", "b.csv": b"code,item,rating\nE1,1.2,7\n"},
     r"b\.csv:2: duplicate return for E1: already returned in .*a\.csv:2"),
    ("two long files, one panellist",
     {"a.csv": b"code,item,rating\nE1,1.1,7\n", "b.csv": b"code,item,rating\nE1,1.2,7\n"},
     r"b\.csv:2: duplicate return for E1: already returned in .*a\.csv:2"),
    ("rating 1e0", {"a.csv": b"code,1.1\nE1,1e0\n"}, r"a\.csv:2: item 1\.1: rating '1e0' is not"),
    ("full-width digit", {"a.csv": "code,1.1\nE1,７\n".encode()},
     r"a\.csv:2: item 1\.1: rating '７' is not a whole number"),
    ("rating nan", {"a.csv": b"code,1.1\nE1,nan\n"}, r"a\.csv:2: item 1\.1: rating 'nan' is not"),
    ("5000-digit rating", {"a.csv": b"code,1.1\nE1," + b"9" * 5000 + b"\n"},
     r"a\.csv:2: item 1\.1: rating '9{40}'\.\.\. is not a whole number"),
    ("xlsx header typed as a number", {"a.xlsx": xlsx([["code", 1.1, "1.2"], ["E1", 7, 8]])},
     r"a\.xlsx:1: cell B1: the header cell holds the number 1\.1, not text, .* format the "
     r"header row as text"),
    ("xlsx formula in a rating cell",
     {"a.xlsx": xlsx([["code", "1.1"], ["E1", None]], {"B2": "=3+4"})},
     r"a\.xlsx:2: cell B2: holds a formula \(=3\+4\); delphi reads only the values typed in"),
    ("xlsx formula in a comment cell",
     {"a.xlsx": xlsx([["code", "1.1", "comment:1.1"], ["E1", 7, None]],
                     {"C2": '=HYPERLINK("http://x","y")'})},
     r"a\.xlsx:2: cell C2: holds a formula \(=HYPERLINK"),
    ("xlsx corrupt sheet",
     {"a.xlsx": patched_xlsx(GOOD, lambda xml: xml[: len(xml) // 2])},
     r"a\.xlsx: the first sheet cannot be read \(.*\); save the workbook again"),
    ("xlsx not a zip", {"a.xlsx": b"PK\x03\x04 not really"},
     r"a\.xlsx: not a readable XLSX workbook"),
    ("unknown kind of file", {"a.txt": b"code,1.1\n"}, r"a\.txt: cannot import this kind"),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_a_bad_returns_file_is_refused_with_its_place(make_study: Make, tmp_path: Path, cli: Run,
                                                      files: dict[str, bytes],
                                                      expected: str) -> None:
    study = make_study(returns=None)
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    before = tree_digest(study)
    result = cli("import", *paths, "--study", str(study))
    assert result.exit_code == 2, result.stdout
    assert re.search(r"^error: .*" + expected, result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr
    assert tree_digest(study) == before


EXACT: list[tuple[str, dict[str, bytes], dict[str, object]]] = [
    ("a comment starting with an apostrophe",
     {"a.csv": b"code,1.1,comment:1.1\nE1,7,'Tis a fine idea\n"},
     {"comments": {"1.1": "'Tis a fine idea"}}),
    ("a comment starting like a formula",
     {"a.csv": b"code,1.1,comment:1.1\nE1,7,=1+1\n"}, {"comments": {"1.1": "=1+1"}}),
    ("two apostrophes", {"a.csv": b"code,1.1,suggestions\nE1,7,''x\n"},
     {"suggestions": "''x"}),
    ("a quoted field across lines", {"a.csv": b'code,1.1,comment:1.1\nE1,7,"two\nlines"\n'},
     {"comments": {"1.1": "two\nlines"}}),
    ("xlsx rating 7.0 and a text cell starting with =",
     {"a.xlsx": xlsx([["code", "1.1", "comment:1.1"], ["E1", 7.0, "'=x"]])},
     {"ratings": {"1.1": 7}, "comments": {"1.1": "'=x"}}),
    ("xlsx claiming XFD1048576 as its used range",
     {"a.xlsx": patched_xlsx(GOOD, lambda xml: re.sub(r'<dimension ref="[^"]*"',
                                                      '<dimension ref="A1:XFD1048576"', xml))},
     {"ratings": {"1.1": 7, "1.2": 8}}),
    ("xlsx with a header 1.10 typed as text",
     {"a.xlsx": xlsx([["code", "1.1", "1.2"], ["E1", "7", "8"]])},
     {"ratings": {"1.1": 7, "1.2": 8}}),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in EXACT],
                         ids=[c[0] for c in EXACT])
def test_a_return_is_stored_exactly_as_the_file_holds_it(make_study: Make, tmp_path: Path,
                                                         cli: Run, files: dict[str, bytes],
                                                         expected: dict[str, object]) -> None:
    study = make_study(returns=None)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = cli("import", *[str(tmp_path / n) for n in files], "--study", str(study))
    assert result.exit_code == 0, result.stderr
    (stored,) = Study(study).returns(1)
    for key, value in expected.items():
        got = getattr(stored, key)
        if isinstance(value, dict):
            got = {k: v for k, v in got.items() if v is not None}
        assert got == value
    # and again after analysis and the review file: the canonical file round-trips
    assert cli("suggestions", "--study", str(study)).exit_code == 0
    assert Study(study).returns(1)[0] == stored


@pytest.mark.parametrize(("line", "expected"), [
    (b"\xff\xfe{}", r"import-log\.jsonl:2: not UTF-8 text \(byte 0 of the line\)"),
    (b"[1, 2]", r"import-log\.jsonl:2: not a log entry: a JSON list where an object belongs"),
    (b"42", r"import-log\.jsonl:2: not a log entry: a JSON number where an object belongs"),
    (b'{"time": ', r"import-log\.jsonl:2: not a JSON line"),
    (b"[" * 100_000, r"import-log\.jsonl:2: not a (JSON line|log entry: nested too deep)"),
    (b"1" * 5000, r"import-log\.jsonl:2: not a JSON line \(Exceeds the limit"),
], ids=["invalid UTF-8", "a list", "a number", "torn", "deep", "long number"])
def test_a_damaged_import_log_line_is_named(make_study: Make, tmp_path: Path, cli: Run,
                                            line: bytes, expected: str) -> None:
    study = make_study(returns=None)
    (tmp_path / "a.csv").write_text("code,1.1\nE1,7\n")
    assert cli("import", str(tmp_path / "a.csv"), "--study", str(study)).exit_code == 0
    log = study / "rounds/round-1/returns/import-log.jsonl"
    log.write_bytes(log.read_bytes() + line + b"\n")
    (tmp_path / "b.csv").write_text("code,1.1\nE2,7\n")
    before = tree_digest(study)
    result = cli("import", str(tmp_path / "b.csv"), "--study", str(study))
    assert result.exit_code == 2
    assert re.search(r"^error: rounds/round-1/returns/" + expected, result.stderr, re.M), \
        result.stderr
    assert tree_digest(study) == before


def test_two_imports_at_the_same_moment_both_land(make_study: Make, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The first import is held inside its write while the second starts: without the round's
    intake lock the second would merge into the old returns and lose the first one's."""
    import delphi.store.intake as intake

    study = make_study(returns=None)
    (tmp_path / "a.csv").write_text("code,1.1\nE1,7\n")
    (tmp_path / "b.csv").write_text("code,1.1\nE2,8\n")
    first_writing, release = threading.Event(), threading.Event()
    real = intake.atomic_write

    def slow_write(texts: dict[Path, str]) -> None:
        if not first_writing.is_set():
            first_writing.set()
            release.wait(10)
        real(texts)

    monkeypatch.setattr(intake, "atomic_write", slow_write)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            intake.import_files(Study(study).validated(), [tmp_path / name])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=run, args=("a.csv",))
    a.start()
    assert first_writing.wait(10)
    b = threading.Thread(target=run, args=("b.csv",))
    b.start()
    b.join(0.5)  # b waits for the lock (or, without one, would finish now and be lost)
    release.set()
    a.join(10)
    b.join(10)
    assert not errors
    assert [r.code for r in Study(study).returns(1)] == ["E1", "E2"]


def killed_at_random(command: list[str], seed: int, runs: int, earliest: float,
                     latest: float) -> Iterator[None]:
    """Run ``command`` ``runs`` times, each killed (SIGKILL) at a moment drawn between
    ``earliest`` and ``latest`` seconds from its start; yield after each kill, to look."""
    import os
    import random
    import signal
    import subprocess
    import time

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    chance = random.Random(seed)
    for _ in range(runs):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(earliest, latest))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        yield


def test_an_import_killed_at_any_moment_loses_nothing(make_study: Make, tmp_path: Path) -> None:
    """Kill ``delphi import`` at random points: the returns file is always whole, and the file
    imported afterwards is never 'already imported' while its return is missing."""
    import os
    import subprocess
    import sys

    study = make_study()  # round 1 has E1, E2 and U1 in returns.csv
    (tmp_path / "late.csv").write_text("code,1.1,comment:1.1\nU2,4,'Tis late\n")
    command = [sys.executable, "-m", "delphi", "import", str(tmp_path / "late.csv"),
               "--study", str(study)]
    for _ in killed_at_random(command, seed=19, runs=5, earliest=0.1, latest=0.9):
        codes = [r.code for r in Study(study).returns(1)]  # whole, never half-written
        assert codes[:3] == ["E1", "E2", "U1"]
        if codes == ["E1", "E2", "U1", "U2"]:
            break
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (late,) = [r for r in Study(study).returns(1) if r.code == "U2"]
    assert late.comments == {"1.1": "'Tis late"}
    assert not list((study / "rounds/round-1/returns").rglob(".*.tmp"))


def _commands() -> list[tuple[str, list[str], set[str]]]:
    """Every command: its name, the arguments it needs, and its options."""
    import typer.main

    from delphi.cli import app

    group = typer.main.get_command(app)
    out = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        args = [("x.csv" if p.name == "files" else "E1") for p in command.params
                if p.param_type_name == "argument"]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        out.append((name, args, options))
    return out


COMMANDS = _commands()


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "error: --round 0: rounds are numbered from 1"),
    ("-1", "error: --round '-1': not a whole number; rounds are numbered from 1"),
    ("two", "error: --round 'two': not a whole number; rounds are numbered from 1"),
    ("1.5", "error: --round '1.5': not a whole number; rounds are numbered from 1"),
    ("99999999999", "error: --round 99999999999: too large"),
])
def test_every_command_names_a_bad_round(make_study: Make, cli: Run, value: str,
                                         expected: str) -> None:
    study = make_study()
    walked = 0
    for name, args, options in COMMANDS:
        if "--round" not in options:
            continue
        walked += 1
        result = cli(name, *args, "--study", str(study), "--round", value)
        assert result.exit_code == 2, (name, result.stdout)
        assert result.stderr.splitlines() == [expected + " (see --help)"], (name, result.stderr)
    assert walked >= 8


@pytest.mark.parametrize(("value", "expected"), [
    ("/no/such/dir", "error: --study /no/such/dir: no such folder"),
    ("/etc/hostname", "error: --study /etc/hostname: is a file; give the study's folder"),
])
def test_every_command_names_a_bad_study_folder(cli: Run, value: str, expected: str) -> None:
    for name, args, options in COMMANDS:
        if "--study" not in options:
            continue
        result = cli(name, *args, "--study", value)
        assert result.exit_code == 2, (name, result.stdout)
        assert result.stderr.splitlines() == [expected + " (see --help)"], (name, result.stderr)


def test_a_folder_that_is_no_study_is_named(tmp_path: Path, cli: Run) -> None:
    result = cli("status", "--study", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'study.yaml'}: file not found; is this "
                                    "a study folder?")


@pytest.mark.parametrize(("args", "expected"), [
    (["new-round", "--workers", "0"], "error: --workers 0: at least 1 process lays out PDFs"),
    (["report", "--min-subgroup", "0"],
     "error: --min-subgroup 0: the smallest subgroup shown must be 1 or more"),
    (["send", "--rate", "0"], "error: --rate '0': give messages per minute, from 0.1 to 100000"),
    (["analyse", "--bogus"], "error: No such option: --bogus"),
    (["import"], "error: Missing argument 'files'"),
])
def test_option_errors_are_one_line(make_study: Make, cli: Run, args: list[str],
                                    expected: str) -> None:
    result = cli(*args, "--study", str(make_study()))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [expected + " (see --help)"]


def test_enter_with_no_input_says_so_and_exits_2(make_study: Make, tmp_path: Path) -> None:
    import subprocess
    import sys

    study = make_study()
    before = tree_digest(study)
    result = subprocess.run([sys.executable, "-m", "delphi", "enter", "U2", "--study",
                             str(study)], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: the input ended at the question 'rating'; nothing was saved"]
    assert "Aborted" not in result.stdout + result.stderr
    assert tree_digest(study) == before


TEMPLATE = "templates/questionnaire.html.j2"


@pytest.mark.parametrize(("text", "expected"), [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}",
     f"{TEMPLATE}:1: not allowed in a template: access to attribute '__class__' of 'str' "
     "object is unsafe"),
    ("{{ q.__init__.__globals__ }}", f"{TEMPLATE}:1: not allowed in a template"),
    ("<p>\n{% if %}\n</p>", f"{TEMPLATE}:2: template syntax error: Expected an expression"),
    ("<p>\n\n{{ nope.x }}</p>", f"{TEMPLATE}:3: 'nope' is undefined; the names a template may "
                                "use are documented in delphi/render/context.py"),
    ("{% include 'nope.html' %}", f"{TEMPLATE}:1: includes 'nope.html', which is neither in "
                                  "the study's templates nor the package's"),
], ids=["python internals", "globals", "syntax error", "undefined name", "missing include"])
def test_a_study_template_is_sandboxed_and_its_errors_named(make_study: Make, cli: Run,
                                                            text: str, expected: str) -> None:
    study = make_study(files={TEMPLATE: text})
    before = tree_digest(study)
    result = cli("preview", "E1", "--study", str(study))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: " + expected), result.stderr
    assert tree_digest(study) == before


@pytest.mark.parametrize("name", [TEMPLATE, "templates/questionnaire.css",
                                  "templates/mail/questionnaire.txt.j2"])
def test_a_template_linking_out_of_the_study_is_refused(make_study: Make, cli: Run,
                                                        tmp_path: Path, name: str) -> None:
    study = make_study()
    secret = tmp_path / "secret.txt"
    secret.write_text("Subject: the coordinator's private notes\n")
    (study / name).parent.mkdir(parents=True, exist_ok=True)
    (study / name).symlink_to(secret)
    for code in ("E1", "E2", "U1", "U2"):  # the mail needs PDFs to attach; any will do
        pdf = study / f"rounds/round-1/questionnaires/{code}.pdf"
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(b"%PDF-1.7\n")
    command = ("send", "--dry-run") if "mail" in name else ("preview", "E1")
    result = cli(*command, "--study", str(study))
    assert result.exit_code == 2
    assert f"error: {name}: is a link to {secret}, outside the study folder" in result.stderr


def test_a_link_inside_the_study_is_followed(make_study: Make, cli: Run) -> None:
    from delphi.render.templates import environment

    study = make_study(files={"shared/letter.txt.j2": "Subject: {{ study }}\nHello\n"})
    (study / "templates/mail").mkdir(parents=True)
    (study / "templates/mail/questionnaire.txt.j2").symlink_to(study / "shared/letter.txt.j2")
    env = environment(study, "templates/mail", html=False)
    text = env.get_template("questionnaire.txt.j2").render(study="T & U")
    assert text == "Subject: T & U\nHello\n"


# ----------------------------------------------------------------------------- rounds lost


SWAPPER = """
import os, sys, time
import delphi.store.study as st

real = os.replace
def slow(a, b):  # widen the instants between the renames, so that kills land there
    time.sleep(0.01); real(a, b); time.sleep(0.01)
os.replace = slow
study = st.Study(sys.argv[1])
i = 0
while True:
    i += 1
    staging = study.staging_dir(1)
    staging.mkdir(parents=True)
    (staging / "questionnaire.yaml").write_text(f"v{i}\\n")
    for n in range(20):
        (staging / f"part-{n}.txt").write_text("x" * 1000)
    st.replace_round(study, 1, staging)
    print(i, flush=True)
"""


def test_replacing_a_round_killed_at_any_instant_loses_nothing(tmp_path: Path) -> None:
    """Kill a process that replaces round 1 over and over: the next reader always finds a
    whole round 1 (the old or the new), and no staging folder or journal is left."""
    import sys

    from delphi.store.study import settle_replacements

    root = tmp_path / "study"
    (root / "rounds/round-1").mkdir(parents=True)
    (root / "rounds/round-1/questionnaire.yaml").write_text("v0\n")
    seen = set()
    for _ in killed_at_random([sys.executable, "-c", SWAPPER, str(root)], seed=19, runs=6,
                              earliest=0.4, latest=0.8):
        study = Study(root)
        assert study.rounds() == [1]  # settles what the kill left
        seen.add((root / "rounds/round-1/questionnaire.yaml").read_text())
        assert not list((root / "rounds").glob(".round-*"))
        assert not list((root / "rounds").glob(".replacing-*"))
        assert settle_replacements(study) == []
    assert len(seen) > 1  # the runs did replace the round


def _journal_state(root: Path, step: int) -> None:
    """A replacement of round 1 stopped after ``step`` renames, its journal still there."""
    import json

    rounds = root / "rounds"
    (rounds / "round-1").mkdir(parents=True)
    (rounds / "round-1/questionnaire.yaml").write_text("old\n")
    staging = rounds / ".round-1.staging-999999999"
    staging.mkdir()
    (staging / "questionnaire.yaml").write_text("new\n")
    backup = rounds / ".backups/round-1-20261123T120000"
    (rounds / ".replacing-round-1.json").write_text(json.dumps({
        "target": "rounds/round-1", "staging": "rounds/.round-1.staging-999999999",
        "backup": "rounds/.backups/round-1-20261123T120000", "pid": 999999999}))
    if step >= 1:
        backup.parent.mkdir()
        (rounds / "round-1").rename(backup)
    if step >= 2:
        staging.rename(rounds / "round-1")


@pytest.mark.parametrize(("step", "expected"), [(0, "old\n"), (1, "old\n"), (2, "new\n")],
                         ids=["before the renames", "between them", "after them"])
def test_a_replacement_stopped_at_each_instant_is_settled(tmp_path: Path, step: int,
                                                          expected: str) -> None:
    _journal_state(tmp_path, step)
    assert Study(tmp_path).rounds() == [1]
    assert (tmp_path / "rounds/round-1/questionnaire.yaml").read_text() == expected
    assert sorted(p.name for p in (tmp_path / "rounds").iterdir()
                  if p.name.startswith(".")) == ([".backups"] if step else [])


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda r: (r / "rounds/round-1/questionnaire.yaml").unlink(),
     "rounds/round-1/questionnaire.yaml: missing, but the round folder holds returns; "
     "restore it from rounds/.backups or your version control"),
    (lambda r: ((r / "rounds/round-1/questionnaire.yaml").unlink(),
                (r / "rounds/round-1/questionnaire.yaml").mkdir()),
     "rounds/round-1/questionnaire.yaml: is a folder, not the round's manifest; the round's "
     "returns cannot be checked without it"),
    (lambda r: (r / "rounds/round-1").rename(r / "rounds/.backups/round-1-20261123T120000"),
     "rounds/round-1: round 1 is missing; only its backup "
     "rounds/.backups/round-1-20261123T120000 is left: move it back to rounds/round-1"),
    (lambda r: (r / "rounds/round-1").rename(r / "rounds/round-2"),
     "rounds/round-1: round 1 is missing; rounds are numbered without gaps"),
], ids=["manifest deleted", "manifest a folder", "only a backup left", "a gap"])
def test_validate_notices_a_round_that_went_missing(make_study: Make, cli: Run,
                                                    damage: Callable[[Path], object],
                                                    expected: str) -> None:
    study = make_study()
    (study / "rounds/.backups").mkdir()
    damage(study)
    result = cli("validate", "--study", str(study))
    assert result.exit_code == 2, result.stdout
    assert expected in result.stderr.splitlines(), result.stderr


def test_new_round_force_killed_at_random_points_leaves_a_valid_study(make_study: Make) -> None:
    import sys

    study = make_study(returns=None)
    command = [sys.executable, "-m", "delphi", "new-round", "--study", str(study), "--round",
               "1", "--force", "--workers", "1"]
    for _ in killed_at_random(command, seed=1919, runs=3, earliest=0.3, latest=1.8):
        folder = Study(study)
        assert folder.problems() == []  # settles first: round 1 whole, nothing missing
        assert folder.rounds() == [1]
        assert not [p for p in (study / "rounds").iterdir()
                    if p.name.startswith(".") and p.name != ".backups"]
        assert not list((study / "rounds").rglob("*.tmp"))


def test_a_killed_runs_half_written_files_are_removed(make_study: Make) -> None:
    import os

    study = make_study()
    dead = study / "rounds/round-1/.results.json.pid999999999.x1y2.tmp"
    dead.write_text('{"half": ')
    mine = study / f"rounds/round-1/.results.csv.pid{os.getpid()}.tmp"
    mine.write_text("being written")
    assert Study(study).rounds() == [1]
    assert not dead.exists() and mine.exists()


# ----------------------------------------------------------------------------- study files

SECOND_PANEL = """\
panellists:
  - {code: X1, name: Xena Example, email: xena@example.org, group: user}
  - {code: e2, name: Eddie Example, email: eddie@example.org, group: user}
"""
SECOND_BANK = """\
sections:
  - id: more
    title: More
    items:
      - id: "9.1"
        text: Another statement
      - id: "1.2"
        text: A repeated id
"""
TWO_FILES = ("roster: [panels/panel.yaml, panels/more.yaml]\n"
             "item_bank: [questionnaires/items.yaml, questionnaires/more.yaml]\n")


@pytest.mark.parametrize(("files", "expected"), [
    ({"study.yaml": "scale: {min: 1, max: 1000000000}\n"},
     "study.yaml:{line}: scale: the scale 1-1000000000 has 1000000000 points; a rating scale "
     "has at most 101 (0-100)"),
    ({"study.yaml": "scale: {min: 1, max: " + "9" * 5000 + "}\n"},
     "study.yaml: malformed YAML: Exceeds the limit (4300 digits)"),
    ({"questionnaires/items.yaml": "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8))},
     "questionnaires/items.yaml:7: malformed YAML: the document stands for more than "
     "2,000,000 values once its *aliases are expanded; write the values out"),
    ({"questionnaires/items.yaml": "a: &a [*a]\n"},
     "questionnaires/items.yaml:1: malformed YAML: an alias refers to a collection that "
     "contains it"),
    ({"questionnaires/items.yaml": "[" * 50_000 + "]" * 50_000},
     "questionnaires/items.yaml: malformed YAML: nested too deep"),
    ({"questionnaires/items.yaml": "sections:\n  - id: s\n    title: S\n    items:\n"
      "      - id: 1.10\n        text: T\n"},
     "questionnaires/items.yaml:5: sections[0].items[0].id: item ids must be quoted, or they "
     'are read as numbers (1.1): write id: "1.10"'),
    ({"panels/panel.yaml": "panellists:\n  - {code: E1, name: A, email: a@b.org, group: "
      "expert}\n  - {code: e1, name: B, email: b@b.org, group: expert}\n"},
     "panels/panel.yaml:3: panellists[1].code: duplicate panellist code 'E1' (first on line 2)"),
    ({"panels/more.yaml": SECOND_PANEL, "questionnaires/more.yaml": SECOND_BANK,
      "study.yaml": TWO_FILES},
     "panels/more.yaml:3: panellists[1].code: duplicate panellist code 'E2' (first in "
     "panels/panel.yaml:3)"),
    ({"panels/more.yaml": SECOND_PANEL.replace("e2", "X9"),
      "questionnaires/more.yaml": SECOND_BANK, "study.yaml": TWO_FILES},
     "questionnaires/more.yaml:7: sections[0].items[1].id: duplicate item id '1.2' (first in "
     "questionnaires/items.yaml:7)"),
    ({"panels/panel.yaml": "panellists:\n  - {code: E1, name: \"A\\rB\", email: a@b.org, "
      "group: expert}\n"},
     "panels/panel.yaml:2: panellists[0].name: must be one line of text; it holds the control "
     "character '\\r' ('A\\rB')"),
    ({"study.yaml": "# " + "x" * (21 * 1024 * 1024) + "\n"},
     "study.yaml: is 21.0 MB, more than the 20 MB delphi reads from such a file"),
], ids=["scale of a billion", "5000-digit number", "billion laughs", "recursive alias",
        "deep nesting", "unquoted id 1.10", "duplicate code", "code in two rosters",
        "item id in two banks", "name with a line break", "20 MB file"])
def test_a_bad_study_file_is_named_by_validate(make_study: Make, cli: Run,
                                               files: dict[str, str], expected: str) -> None:
    from tests.conftest import STUDY_YAML

    study = make_study()
    for name, text in files.items():
        if name == "study.yaml" and not text.startswith("#"):  # replace keys, keep the rest
            keys = {line.split(":")[0] for line in text.splitlines()}
            lines = STUDY_YAML.splitlines(keepends=True)
            line = next(i for i, li in enumerate(lines, 1) if li.split(":")[0] in keys)
            expected = expected.replace("{line}", str(line))
            kept = [li for li in lines if li.split(":")[0] not in keys]
            text = "".join(kept[:line - 1]) + text + "".join(kept[line - 1:])
        (study / name).write_text(text)
    before = tree_digest(study)
    result = cli("validate", "--study", str(study))
    assert result.exit_code == 2, result.stdout
    assert any(line.startswith(expected) for line in result.stderr.splitlines()), \
        result.stderr[:2000]
    assert tree_digest(study) == before


@pytest.mark.parametrize(("text", "expected"), [
    ("[" * 100_000 + "]" * 100_000, ": not results: nested too deep"),
    ('{"a": ' + "1" * 5000 + "}", ": not valid JSON (Exceeds the limit (4300 digits)"),
    ("[1, 2]", ": not results: a JSON object belongs here"),
    ("{", ":1: not valid JSON (Expecting property name"),
], ids=["deep", "5000 digits", "a list", "torn"])
def test_a_damaged_results_file_is_named(make_study: Make, cli: Run, text: str,
                                         expected: str) -> None:
    study = make_study()
    assert cli("analyse", "--study", str(study)).exit_code == 0
    (study / "rounds/round-1/results.json").write_text(text)
    result = cli("new-round", "--study", str(study))
    assert result.exit_code == 2
    assert "error: rounds/round-1/results.json" + expected in result.stderr, result.stderr


@pytest.mark.parametrize(("line", "expected"), [
    (b"\xc3\x28", "rounds/round-1/mail-log.jsonl:2: not UTF-8 text (byte 0 of the line)"),
    (b"[]", "rounds/round-1/mail-log.jsonl:2: not a log entry: a JSON list where an object "
            "belongs"),
    (b'{"time": "x"}', "rounds/round-1/mail-log.jsonl:2: not a mail-log entry (time: Input "
                       "should be a valid datetime"),
], ids=["invalid UTF-8", "a list", "not an entry"])
def test_a_damaged_mail_log_line_is_named(make_study: Make, cli: Run, line: bytes,
                                          expected: str) -> None:
    import json

    study = make_study()
    log = study / "rounds/round-1/mail-log.jsonl"
    entry = {"time": "2026-11-23T12:00:00+00:00", "kind": "questionnaire", "code": "E1",
             "status": "sent", "message_id": "<1@x>"}
    log.write_bytes(json.dumps(entry).encode() + b"\n" + line + b"\n")
    for command in (("send", "--dry-run"), ("remind", "--dry-run")):
        result = cli(*command, "--study", str(study))
        assert result.exit_code == 2
        assert result.stderr.startswith("error: " + expected), result.stderr


# ----------------------------------------------------------------------------- generated

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CSV_PIECES = ["code", "item", "rating", "comment", "comment:1.1", "suggestions", "1.1", "1.2",
              "5.1", "E1", "e2", "U1", "U2", "7", "9", "10", "0", "7.0", "1e0", "'", "''Tis",
              "=1+1", "-", "@x", '"', '""', ",", "\n", "\r\n", "\r", " ", "\t", "é", "\x00"]


@pytest.fixture(scope="module")
def round_1(tmp_path_factory: pytest.TempPathFactory) -> Study:
    from tests.conftest import ITEMS_YAML, PANEL_YAML, STUDY_YAML, build_tree, write_manifest

    root = build_tree(tmp_path_factory.mktemp("generated") / "study", {
        "study.yaml": STUDY_YAML, "questionnaires/items.yaml": ITEMS_YAML,
        "panels/panel.yaml": PANEL_YAML})
    write_manifest(root)
    return Study(root)


CELL = st.lists(st.sampled_from(CSV_PIECES), max_size=4).map("".join)
ROWS = st.lists(st.tuples(st.sampled_from(["E1", "E2", "U1", "u2"]), CELL, CELL, CELL),
                max_size=4).map(lambda rows: "".join(",".join(r) + "\n" for r in rows))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.sampled_from(CSV_PIECES), max_size=40).map("".join),
                 ROWS.map("code,1.1,comment:1.1,suggestions\n".__add__),
                 ROWS.map("code,item,rating,comment\n".__add__)))
def test_any_csv_is_read_exactly_or_refused(round_1: Study, text: str) -> None:
    """Whatever a CSV holds: problems, or returns that the canonical file holds exactly."""
    import tempfile

    from delphi.store.returns_csv import ReturnsReader, returns_csv_text

    manifest = round_1.manifest(1)
    reader = ReturnsReader(manifest, round_1.settings)
    reader.read(Path("x.csv"), "x.csv", data=text.encode("utf-8"))
    if reader.problems:
        assert all(p.file == "x.csv" for p in reader.problems)
        return
    returns = reader.returns()
    again = ReturnsReader(manifest, round_1.settings)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "returns.csv"
        path.write_text(returns_csv_text(manifest, returns, round_1.settings), encoding="utf-8")
        again.read(path, "returns.csv", escaped=True)
    assert again.problems == []

    def answers(rs: list[PanelReturn]) -> list[tuple[object, ...]]:
        return [(r.code, {k: v for k, v in r.ratings.items() if v is not None}, r.comments,
                 r.suggestions) for r in rs]

    assert answers(again.returns()) == answers(returns)


YAML_PIECES = ["title", "scale", "min", "max", "bands", "groups", "id", "label", "name", ":",
               ": ", "- ", "\n", "  ", "{", "}", "[", "]", ",", "&a ", "*a", "!!python/object",
               "'", '"', "1", "1.10", "9" * 30, "-1", "yes", "null", "~", "#", "|", ">", "\t",
               "é", "\x00", "\ufeff", "? ", "<<: *a"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=50).map("".join))
def test_any_yaml_loads_or_is_one_clear_problem(text: str) -> None:
    import tempfile

    from delphi.core.models import Settings
    from delphi.errors import DelphiError
    from delphi.store.yamlfile import load_model

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_model(path, "study.yaml", Settings)
        except DelphiError as exc:
            assert exc.problems
            assert all(str(p).startswith("study.yaml") for p in exc.problems)
