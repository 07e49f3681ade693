"""Returns intake: CSV, XLSX and filled PDF questionnaires into the round's canonical store.

A batch is read and checked whole before anything is written; any problem in any file means
nothing is imported. The round's returns folder holds:

- ``returns.csv``: the canonical wide CSV, owned by the tool (other ``*.csv`` placed there by
  hand are read as well, but never rewritten);
- ``import-log.jsonl``: one line per file or entry taken in (time, source, SHA-256, codes,
  action), appended and flushed, never rewritten;
- ``sources/``: a copy of every imported file, named by its hash;
- ``history/``: returns replaced with ``--replace``.

Importing a file whose content was imported before is a no-op; a panellist's identical return
again is a no-op; a different second return is refused unless ``--replace``.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delphi.core.models import Manifest, PanelReturn
from delphi.errors import DelphiError, Problem, RoundStateError, StudyInvalid
from delphi.store.jsonl import append_lines, read_lines
from delphi.store.limits import RETURNS_FILE_BYTES, read_bounded
from delphi.store.returns_csv import ReturnsReader, return_cells, returns_csv_text
from delphi.store.study import Study, atomic_write, write_bytes

if TYPE_CHECKING:
    from delphi.store.returns_pdf import FormReturn

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".pdf": "pdf"}
KEYBOARD = "keyboard entry"


@dataclass
class ImportReport:
    """What an import did."""

    round: int
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    already_imported: list[tuple[str, str]] = field(default_factory=list)  # (file, when)


@dataclass(frozen=True)
class _File:
    """A file of a batch, read once."""

    path: Path
    display: str
    format: str
    data: bytes

    @functools.cached_property
    def digest(self) -> str:
        """Hex SHA-256 of its bytes, hashed once (asked for up to four times an import)."""
        return sha256(self.data)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def read_log(study: Study, round_no: int) -> list[dict[str, Any]]:
    """The round's import log, oldest first; a damaged line is an error naming it."""
    path = study.import_log_path(round_no)
    return [entry for _, entry in read_lines(path, study.display(path), "the import log")]


def append_log(study: Study, round_no: int, entries: Sequence[dict[str, Any]]) -> None:
    """Append entries to the round's import log, on disk before this returns."""
    append_lines(study.import_log_path(round_no), entries)


@contextmanager
def intake_lock(study: Study, round_no: int) -> Iterator[None]:
    """Hold a round's intake lock: one import (or entry, or web return) at a time.

    The lock is an exclusive ``flock`` on the round's folder itself (no lock file is left
    behind); the kernel releases it when the process ends, however it ends.
    """
    folder = study.round_dir(round_no)
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        raise RoundStateError(f"round {round_no} has no folder "
                              f"({study.display(folder)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _same(a: PanelReturn, b: PanelReturn) -> bool:
    return (a.answers(), a.comments, a.suggestions or None) == (b.answers(), b.comments,
                                                                b.suggestions or None)


def _round_of_batch(study: Study, requested: int | None, pdf_rounds: dict[str, int],
                    problems: list[Problem]) -> int | None:
    if requested is not None:
        for display, r in pdf_rounds.items():
            if r != requested:
                problems.append(Problem(f"is a questionnaire of round {r}, not round "
                                        f"{requested}", file=display))
        return requested
    rounds = set(pdf_rounds.values())
    if len(rounds) > 1:
        problems.append(Problem("these PDFs belong to different rounds ("
                                + ", ".join(str(r) for r in sorted(rounds))
                                + "); import one round at a time"))
        return None
    if rounds:
        return rounds.pop()
    return study.latest_round()


def _load(files: Sequence[Path], problems: list[Problem]) -> list[_File]:
    """Each file's bytes, read once (every later step works on these bytes)."""
    loaded: list[_File] = []
    for path in files:
        display = str(path)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            problems.append(Problem("cannot import this kind of file; import CSV, XLSX or the "
                                    "PDF questionnaires made by delphi", file=display))
            continue
        try:
            loaded.append(_File(path, display, fmt,
                                read_bounded(path, display, RETURNS_FILE_BYTES)))
        except DelphiError as exc:
            problems += exc.problems
    return loaded


def _forms(loaded: Sequence[_File], problems: list[Problem]) -> dict[str, FormReturn]:
    """The filled questionnaires of a batch, by file."""
    from delphi.store.returns_pdf import read_pdf

    forms: dict[str, FormReturn] = {}
    for f in loaded:
        if f.format == "pdf":
            form, found = read_pdf(f.path, f.display, f.data)
            problems += found
            if form is not None:
                forms[f.display] = form
    return forms


def _read_batch(study: Study, manifest: Manifest, fresh: Sequence[_File],
                forms: dict[str, FormReturn]) -> list[PanelReturn]:
    """Every return the batch's new files hold, checked against the manifest; all or none."""
    from delphi.store.returns_xlsx import read_xlsx

    batch = ReturnsReader(manifest, study.settings)
    for f in fresh:
        if f.format == "csv":
            batch.read(f.path, f.display, data=f.data)
        elif f.format == "xlsx":
            read_xlsx(f.path, f.display, batch, f.data)
        elif f.display in forms:
            form = forms[f.display]
            batch.add_return(f.display, form.code, form.answers, form.comments,
                             form.suggestions)
    if batch.problems:
        raise StudyInvalid(batch.problems)
    return batch.returns()


def import_files(study: Study, files: Sequence[Path], round: int | None = None,
                 replace: bool = False, now: datetime | None = None) -> ImportReport:
    """Import returns files into a round (default: the PDFs' round, else the latest).

    The files are read and checked whole first; then, holding the round's intake lock, the
    batch is compared with what the round already holds and stored, all or nothing.
    """
    problems: list[Problem] = []
    loaded = _load(files, problems)
    forms = _forms(loaded, problems)
    round_no = _round_of_batch(study, round, {d: f.round for d, f in forms.items()}, problems)
    if round_no is None or problems:
        raise StudyInvalid(problems)
    manifest = study.manifest(round_no)
    problems += [Problem(f"belongs to another study or another version of round {round_no}'s "
                         "questionnaire; only questionnaires made for this round can be "
                         "imported", file=display)
                 for display, form in forms.items() if form.study_hash != manifest.hash]
    if problems:
        raise StudyInvalid(problems)
    with intake_lock(study, round_no):
        report = ImportReport(round=round_no)
        seen = {e.get("sha256"): str(e.get("time", "")) for e in read_log(study, round_no)}
        fresh = []
        for f in loaded:
            if f.digest in seen:
                report.already_imported.append((f.display, seen[f.digest]))
            else:
                fresh.append(f)
        incoming = _read_batch(study, manifest, fresh, forms)
        return _store(study, manifest, incoming, fresh, replace, report,
                      now or datetime.now().astimezone())


def import_entered(study: Study, round_no: int, entered: PanelReturn, replace: bool = False,
                   now: datetime | None = None) -> ImportReport:
    """Store a return typed in with ``delphi enter``, through the same checks as a file."""
    return import_form(study, round_no, entered.code,
                       return_cells(entered, study.manifest(round_no), study.settings),
                       entered.comments, entered.suggestions, replace=replace, now=now,
                       source=KEYBOARD)


def check_form(study: Study, round_no: int, code: str, answers: dict[str, str],
               comments: dict[str, str], suggestions: str | None,
               source: str = "web") -> list[Problem]:
    """The problems an import would find in one return given as form values.

    ``answers`` holds each answer as its cell would, by answer key (item id, or
    ``item/dimension``).
    """
    batch = ReturnsReader(study.manifest(round_no), study.settings)
    batch.add_return(source, code, answers, comments, suggestions)
    return batch.problems


def import_form(study: Study, round_no: int, code: str, answers: dict[str, str],
                comments: dict[str, str], suggestions: str | None, replace: bool = False,
                now: datetime | None = None, source: str = "web") -> ImportReport:
    """Store one return given as form values (``delphi enter``, ``delphi serve``).

    The values are what a returns file's cells hold; they go through the same checks, the same
    store and the same log as an imported file, with ``source`` in the log.
    """
    manifest = study.manifest(round_no)
    batch = ReturnsReader(manifest, study.settings)
    batch.add_return(source, code, answers, comments, suggestions)
    if batch.problems:
        raise StudyInvalid(batch.problems)
    with intake_lock(study, round_no):
        return _store(study, manifest, batch.returns(), [], replace,
                      ImportReport(round=round_no), now or datetime.now().astimezone(),
                      source=source)


def _conflicts(study: Study, manifest: Manifest, incoming: Sequence[PanelReturn],
               existing: dict[str, PanelReturn], replace: bool,
               report: ImportReport) -> tuple[list[PanelReturn], dict[str, PanelReturn]]:
    """The returns to add and the earlier ones they replace; refuses what needs --replace."""
    canonical = study.display(study.canonical_returns_path(manifest.round))
    problems: list[Problem] = []
    replaced: dict[str, PanelReturn] = {}
    added: list[PanelReturn] = []
    for new in incoming:
        old = existing.get(new.code)
        where = new.source.file if new.source else None
        if old is None:
            added.append(new)
        elif _same(old, new):
            report.unchanged.append(new.code)
        elif not replace:
            problems.append(Problem(
                f"{new.code} already has a different return for round {manifest.round} (from "
                f"{old.source}); use --replace to replace it (the earlier one is kept in "
                "history)", file=where))
        elif old.source is None or old.source.file != canonical:
            problems.append(Problem(
                f"{new.code}'s earlier return is in {old.source}, a file delphi does not own; "
                "edit or remove it by hand first", file=where))
        else:
            replaced[new.code] = old
            added.append(new)
    if problems:
        raise StudyInvalid(problems)
    return added, replaced


def _store(study: Study, manifest: Manifest, incoming: list[PanelReturn],
           files: Sequence[_File], replace: bool, report: ImportReport,
           now: datetime, source: str | None = None) -> ImportReport:
    """Merge checked returns into the canonical store; refuse conflicts; log and keep sources.

    Called with the round's intake lock held: the round's returns are read afresh here.
    """
    round_no = manifest.round
    canonical_path = study.canonical_returns_path(round_no)
    canonical = study.display(canonical_path)
    _clean_stale_temporaries(study, round_no)
    current = study.reload_returns(round_no)
    added, replaced = _conflicts(study, manifest, incoming, {r.code: r for r in current},
                                 replace, report)
    if not added:
        _log_files(study, round_no, files, incoming, "unchanged", now, source)
        return report
    stamp = now.strftime("%Y%m%dT%H%M%S")
    kept = [r for r in current if r.source is not None and r.source.file == canonical
            and r.code not in replaced]
    order = {c: i for i, c in enumerate(manifest.invited)}
    merged = sorted(kept + added, key=lambda r: order[r.code])
    texts = {canonical_path: returns_csv_text(manifest, merged, study.settings)}
    for code, old in replaced.items():
        texts[study.history_dir(round_no) / f"{stamp}-{code}.csv"] = returns_csv_text(
            manifest, [old], study.settings)
    for f in files:
        _write_source(study.sources_dir(round_no) / f"{f.digest[:12]}-{f.path.name}", f.data)
    atomic_write(texts)
    report.added = [r.code for r in added if r.code not in replaced]
    report.replaced = sorted(replaced, key=lambda c: order[c])
    _log_files(study, round_no, files, incoming, "imported", now, source, report)
    study.reload_returns(round_no)
    return report


def _clean_stale_temporaries(study: Study, round_no: int) -> None:
    """Remove what a killed import left half-written.

    Only intake writes here, under the lock held now, so every temporary file is a dead
    process's.
    """
    for sub in (study.returns_dir(round_no), study.sources_dir(round_no),
                study.history_dir(round_no)):
        if sub.is_dir():
            for tmp in sub.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


def _write_source(path: Path, data: bytes) -> None:
    if not path.exists():  # named by content hash: already kept
        write_bytes(path, data)


def _log_files(study: Study, round_no: int, files: Sequence[_File],
               incoming: Sequence[PanelReturn], action: str, now: datetime,
               source: str | None, report: ImportReport | None = None) -> None:
    entries: list[dict[str, Any]] = []
    by_file: dict[str, list[str]] = {}
    for r in incoming:
        by_file.setdefault(r.source.file if r.source else "", []).append(r.code)
    when = now.isoformat(timespec="seconds")
    for f in files:
        entries.append({"time": when, "source": f.display, "sha256": f.digest,
                        "codes": by_file.get(f.display, []), "action": action})
    if source is not None:
        entries.append({"time": when, "source": source, "sha256": None,
                        "codes": [r.code for r in incoming],
                        "action": "replaced" if report and report.replaced else action})
    if report is not None and report.replaced:
        for entry in entries:
            entry["replaced"] = [c for c in report.replaced if c in entry["codes"]]
    append_log(study, round_no, entries)
