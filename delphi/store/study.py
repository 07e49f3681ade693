"""The study folder: reads and validates every file, and writes results atomically.

Layout (see the study format): ``study.yaml``, the item bank and roster files it names,
and ``rounds/round-N/`` with ``questionnaire.yaml`` (the manifest), ``returns/*.csv`` and the
``results.*`` files ``delphi analyse`` writes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from delphi.core.checks import check_bank, check_manifest, check_roster, check_settings
from delphi.core.models import (
    ItemBank,
    Manifest,
    PanelReturn,
    Roster,
    Settings,
)
from delphi.errors import DelphiError, MissingFile, Problem, RoundStateError, StudyInvalid, dotted
from delphi.store.limits import RESULTS_FILE_BYTES, read_text_bounded
from delphi.store.returns_csv import ReturnsReader
from delphi.store.yamlfile import dump_yaml, line_of, load_model

if TYPE_CHECKING:  # annotations only: `delphi status` does not import the analysis
    from delphi.core.analysis import RoundResult
    from delphi.i18n import Language

SETTINGS_FILE = "study.yaml"
MANIFEST_FILE = "questionnaire.yaml"
QUESTIONNAIRES = "questionnaires"
CANONICAL_RETURNS = "returns.csv"  # the returns file delphi owns in rounds/round-N/returns/
ROUND_DIR = re.compile(r"^round-([1-9][0-9]*)$")
TEMPORARY = re.compile(r"\.pid([0-9]+)\.(?:[^.]+\.)?tmp$")  # atomic_write's, write_bytes'
BACKUP_DIR = re.compile(r"^round-([1-9][0-9]*)-[0-9]{8}T[0-9]{6}(?:-[0-9]+)?$")  # not -pdfs-

T = TypeVar("T")
M = TypeVar("M", ItemBank, Roster)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(files: dict[Path, str]) -> None:
    """Write several text files so that each is either wholly old or wholly new.

    Every file is first written to a temporary file beside it; only when all are written are
    they renamed into place, so a failure leaves every file as it was.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp",
                                       dir=path.parent)
            os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; study files are ordinary files
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a binary file through a temporary name beside it, so it is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.pid{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Study:
    """A study folder. Files are loaded lazily, validated once, and cached."""

    def __init__(self, root: Path | str = ".") -> None:
        self.root = Path(root)
        self._settled = False  # rounds(): what a killed run left was put right

    # ------------------------------------------------------------------ paths

    def display(self, path: Path) -> str:
        """A path as the user should see it: relative to the study folder when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def rounds_dir(self) -> Path:
        """``rounds``: one folder per round, and the backups of replaced rounds."""
        return self.root / "rounds"

    @property
    def backups_dir(self) -> Path:
        """``rounds/.backups``: rounds (or their PDFs) replaced by ``new-round --force``."""
        return self.rounds_dir / ".backups"

    @property
    def report_dir(self) -> Path:
        """``report``: where ``delphi report`` writes unless told otherwise."""
        return self.root / "report"

    def round_dir(self, round_no: int) -> Path:
        """``rounds/round-N``."""
        return self.rounds_dir / f"round-{round_no}"

    def staging_dir(self, round_no: int) -> Path:
        """``rounds/.round-N.staging-PID``: a round being built, moved into place when whole."""
        return self.rounds_dir / f".round-{round_no}.staging-{os.getpid()}"

    def manifest_path(self, round_no: int) -> Path:
        """``rounds/round-N/questionnaire.yaml``."""
        return self.round_dir(round_no) / MANIFEST_FILE

    def results_path(self, round_no: int) -> Path:
        """``rounds/round-N/results.json``."""
        return self.round_dir(round_no) / "results.json"

    def results_csv_path(self, round_no: int) -> Path:
        """``rounds/round-N/results.csv``."""
        return self.round_dir(round_no) / "results.csv"

    def returns_dir(self, round_no: int) -> Path:
        """``rounds/round-N/returns``."""
        return self.round_dir(round_no) / "returns"

    def canonical_returns_path(self, round_no: int) -> Path:
        """``rounds/round-N/returns/returns.csv``: the returns the tool owns and rewrites."""
        return self.returns_dir(round_no) / CANONICAL_RETURNS

    def import_log_path(self, round_no: int) -> Path:
        """``rounds/round-N/returns/import-log.jsonl``: every file or entry taken in."""
        return self.returns_dir(round_no) / "import-log.jsonl"

    def sources_dir(self, round_no: int) -> Path:
        """``rounds/round-N/returns/sources``: a copy of every imported file."""
        return self.returns_dir(round_no) / "sources"

    def history_dir(self, round_no: int) -> Path:
        """``rounds/round-N/returns/history``: returns replaced with ``--replace``."""
        return self.returns_dir(round_no) / "history"

    def questionnaires_dir(self, round_no: int) -> Path:
        """``rounds/round-N/questionnaires``: one PDF per invited panellist."""
        return self.round_dir(round_no) / QUESTIONNAIRES

    def questionnaire_pdf(self, round_no: int, code: str) -> Path:
        """``rounds/round-N/questionnaires/CODE.pdf``."""
        return self.questionnaires_dir(round_no) / f"{code}.pdf"

    def preview_dir(self, round_no: int) -> Path:
        """``rounds/round-N/preview``: ``delphi preview``'s HTML and PDF."""
        return self.round_dir(round_no) / "preview"

    def suggestions_paths(self, round_no: int) -> tuple[Path, Path]:
        """``rounds/round-N/suggestions.md`` and ``suggestions.csv``: the review files."""
        base = self.round_dir(round_no)
        return base / "suggestions.md", base / "suggestions.csv"

    def mail_log_path(self, round_no: int) -> Path:
        """``rounds/round-N/mail-log.jsonl``: every message sent, pending or failed."""
        return self.round_dir(round_no) / "mail-log.jsonl"

    def outbox_dir(self, round_no: int) -> Path:
        """``rounds/round-N/outbox``: the messages of ``send --dry-run`` as ``.eml`` files."""
        return self.round_dir(round_no) / "outbox"

    def postal_bundle_path(self, round_no: int) -> Path:
        """``rounds/round-N/post/round-N-postal-bundle.pdf``: the print bundle."""
        return self.round_dir(round_no) / "post" / f"round-{round_no}-postal-bundle.pdf"

    def postal_bundle_record_path(self, round_no: int) -> Path:
        """``rounds/round-N/post/round-N-postal-bundle.json``: what the bundle was built from."""
        return self.postal_bundle_path(round_no).with_suffix(".json")

    def web_dir(self, round_no: int) -> Path:
        """``rounds/round-N/web``: what ``delphi serve`` keeps (see ``store/web.py``)."""
        return self.round_dir(round_no) / "web"

    def link_log_path(self, round_no: int) -> Path:
        """``rounds/round-N/web/links.jsonl``: each private link issued (hashed) or revoked."""
        return self.web_dir(round_no) / "links.jsonl"

    def drafts_dir(self, round_no: int) -> Path:
        """``rounds/round-N/web/drafts``: answers saved on the web, not yet sent."""
        return self.web_dir(round_no) / "drafts"

    def form_key_path(self, round_no: int) -> Path:
        """``rounds/round-N/web/form-key``: the key signing the web forms' tokens."""
        return self.web_dir(round_no) / "form-key"

    def roster_paths(self) -> list[tuple[str, Path]]:
        """The roster files, each as (its name in study.yaml, its path)."""
        return [(r, self._inside(r, "roster")) for r in self.settings.roster_files]

    def item_bank_paths(self) -> list[tuple[str, Path]]:
        """The item bank files, each as (its name in study.yaml, its path)."""
        return [(r, self._inside(r, "item_bank")) for r in self.settings.item_bank_files]

    def _inside(self, relative: str, what: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StudyInvalid(Problem(f"{what} {relative!r} lies outside the study folder",
                                       file=SETTINGS_FILE, line=line_of(self.root / SETTINGS_FILE,
                                                                        (what,))))
        return self.root / relative

    # ------------------------------------------------------------------ loading

    @cached_property
    def settings(self) -> Settings:
        """``study.yaml``, validated."""
        path = self.root / SETTINGS_FILE
        if not path.exists():
            raise MissingFile(str(path),
                              "is this a study folder? Pass --study DIR to point at one")
        settings, _ = load_model(path, SETTINGS_FILE, Settings)
        problems = [p.at(SETTINGS_FILE, line_of(path, p.loc)) for p in check_settings(settings)]
        if problems:
            raise StudyInvalid(problems)
        return settings

    @cached_property
    def language(self) -> Language:
        """The panel's language (``language:``), with the study's ``locale/<tag>.po`` merged."""
        from delphi.i18n import load_language

        return load_language(self.settings.language, self.root)

    @cached_property
    def bank(self) -> ItemBank:
        """The item bank (all files named by ``item_bank``, sections in order), validated."""
        return self._load_parts(
            self.settings.item_bank_files, "item_bank", ItemBank, check_bank,
            lambda banks: ItemBank(sections=[s for bank in banks for s in bank.sections]))

    @cached_property
    def roster(self) -> Roster:
        """The roster (all files named by ``roster``), validated against the settings."""
        return self._load_parts(
            self.settings.roster_files, "roster", Roster, check_roster,
            lambda rosters: Roster(panellists=[p for r in rosters for p in r.panellists]))

    def _load_parts(self, files: list[str], key: str, model: type[M],
                    check: Callable[[M, Settings], list[Problem]],
                    merge: Callable[[list[M]], M]) -> M:
        """Load, check and merge the files a ``study.yaml`` key names; every problem at once.

        Each file is checked on its own (so problems get their line), then the merged whole
        (so an id used in two files is caught too).
        """
        parts: list[tuple[str, Path, M]] = []
        problems: list[Problem] = []
        for relative in files:
            path = self._inside(relative, key)
            part, _ = load_model(path, relative, model)
            problems += [placed(p, [(relative, path, part)]) for p in check(part, self.settings)]
            parts.append((relative, path, part))
        merged = merge([part for _, _, part in parts])
        if not problems and len(files) > 1:
            problems += [placed(p, parts) for p in check(merged, self.settings)]
        if problems:
            raise StudyInvalid(problems)
        return merged

    def rounds(self) -> list[int]:
        """Numbers of the rounds that have a manifest, ascending.

        What a killed run left is put right first, once for this ``Study``.
        """
        if self.rounds_dir.is_dir() and not self._settled:
            settle_replacements(self)
            self._settled = True
        return self.round_numbers()

    def round_numbers(self) -> list[int]:
        """Numbers of the rounds that have a manifest, ascending, as the folder is now.

        Settles nothing: for a reader that asks again and again (the web server, whether a
        later round was built while it serves one), not for a command's first look.
        """
        base = self.rounds_dir
        if not base.is_dir():
            return []
        found = []
        for entry in base.iterdir():
            match = ROUND_DIR.match(entry.name)
            if match and (entry / MANIFEST_FILE).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def manifest(self, round_no: int) -> Manifest:
        """The manifest of a round, validated against the roster."""
        return self._cached(("manifest", round_no), lambda: self._load_manifest(round_no))

    def _load_manifest(self, round_no: int) -> Manifest:
        path = self.manifest_path(round_no)
        display = self.display(path)
        if not path.exists():
            known = self.rounds()
            hint = (f"rounds with a questionnaire: {', '.join(map(str, known))}" if known
                    else "no round has a questionnaire yet")
            raise RoundStateError(Problem(f"round {round_no} has no questionnaire ({hint})",
                                          file=display))
        manifest, _ = load_model(path, display, Manifest)
        if manifest.round != round_no:
            raise StudyInvalid(Problem(f"says round {manifest.round} but lies in the folder of "
                                       f"round {round_no}", file=display,
                                       line=line_of(path, ("round",)), field="round"))
        problems = [placed(p, [(display, path, manifest)])
                    for p in check_manifest(manifest, self.roster)]
        if problems:
            raise StudyInvalid(problems)
        return manifest

    def return_files(self, round_no: int) -> list[Path]:
        """The CSV files holding a round's returns."""
        folder = self.returns_dir(round_no)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file()
                      and not p.name.startswith("."))

    def returns(self, round_no: int) -> list[PanelReturn]:
        """A round's returns, validated against its manifest and the scale."""
        return self._cached(("returns", round_no), lambda: self._load_returns(round_no))

    def reload_returns(self, round_no: int) -> list[PanelReturn]:
        """A round's returns read afresh from its files (after another process wrote them)."""
        self.__dict__.setdefault("_round_cache", {}).pop(("returns", round_no), None)
        return self.returns(round_no)

    def _load_returns(self, round_no: int) -> list[PanelReturn]:
        reader = ReturnsReader(self.manifest(round_no), self.settings)
        for path in self.return_files(round_no):
            reader.read(path, self.display(path),
                        escaped=path == self.canonical_returns_path(round_no))
        if reader.problems:
            raise StudyInvalid(reader.problems)
        return reader.returns()

    def has_returns(self, round_no: int) -> bool:
        """Whether a round has any returns file."""
        return bool(self.return_files(round_no))

    def _cached(self, key: tuple[str, int], load: Callable[[], T]) -> T:
        cache: dict[tuple[str, int], Any] = self.__dict__.setdefault("_round_cache", {})
        if key not in cache:
            cache[key] = load()
        return cache[key]  # type: ignore[no-any-return]

    def stored_results(self, round_no: int) -> dict[str, Any] | None:
        """The ``results.json`` of a round as written by ``delphi analyse``, if any."""
        path = self.results_path(round_no)
        if not path.exists():
            return None
        display = self.display(path)
        again = f"run 'delphi analyse --round {round_no}' to write it again"
        text = read_text_bounded(path, display, RESULTS_FILE_BYTES, again)
        try:
            data = json.loads(text)
        except RecursionError:
            raise StudyInvalid(Problem(f"not results: nested too deep; {again}",
                                       file=display)) from None
        except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
            line = getattr(exc, "lineno", None)
            raise StudyInvalid(Problem(f"not valid JSON ({str(exc)[:160]}); {again}",
                                       file=display, line=line)) from None
        if not isinstance(data, dict):
            raise StudyInvalid(Problem(f"not results: a JSON object belongs here; {again}",
                                       file=display))
        return data

    def analysed_rounds(self) -> list[int]:
        """Rounds with a manifest and a ``results.json``."""
        return [r for r in self.rounds() if self.results_path(r).is_file()]

    # ------------------------------------------------------------------ choosing rounds

    def latest_round(self, requested: int | None = None) -> int:
        """``--round`` if given, else the latest round that has a questionnaire."""
        if requested is not None:
            if requested < 1:
                raise RoundStateError(f"--round must be 1 or more (got {requested})")
            return requested
        rounds = self.rounds()
        if not rounds:
            raise RoundStateError("no round has a questionnaire yet: build round 1 first with "
                                  "'delphi new-round --round 1'")
        return rounds[-1]

    def round_to_analyse(self, requested: int | None) -> int:
        """``--round`` if given, else the latest round with returns, else the latest round."""
        latest = self.latest_round(requested)
        if requested is not None:
            return latest
        with_returns = [r for r in self.rounds() if self.has_returns(r)]
        return (with_returns or [latest])[-1]

    def validated(self) -> Study:
        """The study with settings, item bank and roster loaded, so their errors come first."""
        _ = (self.settings, self.bank, self.roster)
        return self

    # ------------------------------------------------------------------ validation

    def problems(self) -> list[Problem]:
        """Every problem in the study folder, not only the first (for ``delphi validate``)."""
        problems: list[Problem] = []

        def attempt(load: Callable[[], object]) -> bool:
            try:
                load()
            except DelphiError as exc:
                problems.extend(exc.problems)
                return False
            return True

        if not attempt(lambda: self.settings):
            return problems
        attempt(lambda: self.bank)
        attempt(lambda: self.language)
        if not attempt(lambda: self.roster):
            return problems
        for round_no in self.rounds():
            if attempt(lambda r=round_no: self.manifest(r)):  # type: ignore[misc]
                attempt(lambda r=round_no: self.returns(r))  # type: ignore[misc]
        return problems + self._lost_rounds()

    def _lost_rounds(self) -> list[Problem]:
        """Round folders without a manifest, and rounds missing from the sequence."""
        problems: list[Problem] = []
        base = self.rounds_dir
        if not base.is_dir():
            return problems
        present = set(self.rounds())
        flagged: set[int] = set()
        for entry in sorted(base.iterdir()):
            match = ROUND_DIR.match(entry.name)
            manifest = entry / MANIFEST_FILE
            if not match or not entry.is_dir() or manifest.is_file():
                continue
            flagged.add(int(match.group(1)))
            if manifest.is_dir():
                problems.append(Problem("is a folder, not the round's manifest; the round's "
                                        "returns cannot be checked without it",
                                        file=self.display(manifest)))
            elif any(entry.iterdir()):
                held = ", ".join(sorted(p.name for p in entry.iterdir())[:4])
                problems.append(Problem(f"missing, but the round folder holds {held}; restore "
                                        "it from rounds/.backups or your version control",
                                        file=self.display(manifest)))
        backups = {}
        if self.backups_dir.is_dir():
            for entry in sorted(self.backups_dir.iterdir()):
                match = BACKUP_DIR.match(entry.name)
                if match:
                    backups[int(match.group(1))] = entry
        wanted = set(range(1, max(present | set(backups), default=0) + 1))
        for missing in sorted(wanted - present - flagged):
            left = backups.get(missing)
            hint = (f"; only its backup {self.display(left)} is left: move it back to "
                    f"rounds/round-{missing}" if left else "; rounds are numbered without gaps")
            problems.append(Problem(f"round {missing} is missing{hint}",
                                    file=self.display(self.round_dir(missing))))
        return problems

    # ------------------------------------------------------------------ writing

    def write_manifest(self, manifest: Manifest) -> Path:
        """Write a round's manifest (``questionnaire.yaml``) atomically."""
        path = self.manifest_path(manifest.round)
        atomic_write({path: manifest_text(manifest)})
        return path

    def write_results(self, result: RoundResult, text: str | None = None) -> list[Path]:
        """Write ``results.json`` and the tidy long ``results.csv`` of a round atomically.

        ``text``: the result's :func:`results_json`, if already made.
        """
        json_path, csv_path = self.results_path(result.round), self.results_csv_path(result.round)
        text = results_json(result) if text is None else text
        atomic_write({json_path: text, csv_path: results_csv(result, self.settings)})
        return [json_path, csv_path]


def placed(problem: Problem, parts: list[tuple[str, Path, Any]]) -> Problem:
    """A core problem placed in its file and line; a repeat also says where the first one is.

    ``parts``: (file shown, path, data) of the files whose data was concatenated (list by
    list) into what the check saw; a path such as ``("panellists", 40, "code")`` is mapped
    to the file that holds entry 40 of the whole.
    """
    def locate(loc: tuple[str | int, ...]) -> tuple[str, Path, tuple[str | int, ...]]:
        if len(parts) == 1 or len(loc) < 2 or not isinstance(loc[1], int):
            return parts[0][0], parts[0][1], loc
        index = loc[1]
        for shown, path, data in parts:
            count = len(getattr(data, str(loc[0]), None) or [])
            if index < count:
                return shown, path, (loc[0], index, *loc[2:])
            index -= count
        return parts[-1][0], parts[-1][1], loc

    shown, path, loc = locate(problem.loc)
    message = problem.message
    if problem.first:
        first_shown, first_path, first_loc = locate(problem.first)
        first_line = line_of(first_path, first_loc)
        message += (f" (first on line {first_line})" if first_shown == shown else
                    f" (first in {first_shown}" + (f":{first_line}" if first_line else "") + ")")
    field = dotted(loc) if loc != problem.loc else problem.field
    return Problem(message, shown, line_of(path, loc), field, loc)


def replace_round(study: Study, round_no: int, staging: Path) -> Path | None:
    """Move a fully written ``staging`` folder into place as ``rounds/round-N``.

    An existing round folder is first moved to ``rounds/.backups/round-N-<time>`` and that
    backup's path is returned.
    """
    return replace_folder(study, study.round_dir(round_no), staging, f"round-{round_no}")


def replace_folder(study: Study, target: Path, staging: Path, label: str) -> Path | None:
    """Move ``staging`` into place as ``target``, an existing ``target`` to a dated backup.

    Recoverable at every instant: a journal (``rounds/.replacing-<label>.json``) names the
    three folders before the first rename and goes after the last. A run that dies in between
    (killed, power cut) is settled by the next command (:func:`settle_replacements`): the
    earlier folder is put back, as if the run had never started. An exception here settles
    the same way before it goes on.
    """
    backup = _free_backup(study, label) if target.exists() else None
    journal = study.rounds_dir / f".replacing-{label}.json"
    atomic_write({journal: json.dumps({
        "target": study.display(target), "staging": study.display(staging),
        "backup": study.display(backup) if backup else None, "pid": os.getpid()}) + "\n"})
    try:
        if backup is not None:
            backup.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, backup)
        os.replace(staging, target)
    except BaseException:
        _settle(study, journal)
        raise
    journal.unlink()
    return backup


def _free_backup(study: Study, label: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    backup = study.backups_dir / f"{label}-{stamp}"
    number = 1
    while backup.exists():
        number += 1
        backup = study.backups_dir / f"{label}-{stamp}-{number}"
    return backup


def _alive(pid: object) -> bool:
    """Whether the process that owns a journal, staging folder or temporary file still runs.

    This one does: another thread of a server may be writing.
    """
    if pid == os.getpid():
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _settle(study: Study, journal: Path) -> str | None:
    """Finish a replacement a journal describes; returns what was done, if anything."""
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        target = study.root / data["target"]
        staging = study.root / data["staging"]
        backup = study.root / data["backup"] if data.get("backup") else None
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # half-written: no rename had started
        return None
    done = None
    if not target.exists() and backup is not None and backup.exists():
        os.replace(backup, target)  # killed between the renames: the earlier one goes back
        done = f"{data['target']} was being replaced when a run stopped; the earlier one is back"
    elif staging.exists():
        done = f"a replacement of {data['target']} was interrupted; {data['target']} is as it was"
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
    journal.unlink(missing_ok=True)
    return done


def settle_replacements(study: Study) -> list[str]:
    """Settle replacements that a dead run left half-done; remove its staging folders.

    Returns a sentence per replacement put right. Runs still alive are left alone.
    """
    base = study.rounds_dir
    if not base.is_dir():
        return []
    done = []
    for journal in sorted(base.glob(".replacing-*.json")):
        try:
            pid = json.loads(journal.read_text(encoding="utf-8")).get("pid")
        except (OSError, ValueError, AttributeError):
            pid = None
        if not _alive(pid):
            what = _settle(study, journal)
            if what:
                done.append(what)
    for staging in base.glob(".round-*.staging-*"):
        pid = staging.name.rpartition("-")[2]
        if staging.is_dir() and not _alive(int(pid) if pid.isdigit() else None):
            shutil.rmtree(staging, ignore_errors=True)  # a killed run's, never moved in place
    for tmp in base.rglob(".*.tmp"):  # a killed run's half-written file (see atomic_write)
        match = TEMPORARY.search(tmp.name)
        if match and not _alive(int(match.group(1))):
            tmp.unlink(missing_ok=True)
    return done


def manifest_text(manifest: Manifest) -> str:
    """The YAML text of a manifest, with a header saying not to edit it."""
    header = (f"# Round {manifest.round} manifest written by delphi: what was asked and of "
              "whom.\n# Do not edit: analysis checks the hashes against the content.\n")
    return header + dump_yaml(manifest.model_dump(exclude_none=True))


def results_json(result: RoundResult) -> str:
    """The text of ``results.json``: the contract's object, as ``analyse --json`` prints it."""
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"


def results_csv(result: RoundResult, settings: Settings) -> str:
    """One row per entry and group (``all`` for the whole panel): a tidy long table.

    ``share_<name>`` columns hold band shares (the study's bands first, then any a section or
    dimension defines) and a choice's option shares; ``dimension``, ``unsure`` and
    ``denominator`` follow the original columns.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [b.name for b in settings.bands]
    for item in result.items:
        names += [n for n in [*item.bands, *(item.options or {})] if n not in names]
    writer.writerow(["round", "item", "section", "kind", "group", "n", "median", "q1", "q3",
                     "iqr", "mean", *[f"share_{b}" for b in names], "consensus", "divergent",
                     "rank", "dimension", "unsure", "denominator"])
    for item in result.items:
        rows = [("all", item, item.rank)] + [(g, s, s.rank) for g, s in item.groups.items()]
        for group, s, rank in rows:
            shares = {**s.bands, **(s.options or {})}
            writer.writerow([result.round, item.id, item.section, item.kind, group, s.n,
                             _num(s.median), _num(s.q1), _num(s.q3), _num(s.iqr), _num(s.mean),
                             *[_num(shares.get(b)) for b in names], s.consensus or "",
                             str(item.divergent).lower(), "" if rank is None else rank,
                             item.dimension or "", s.unsure, s.denominator])
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))
