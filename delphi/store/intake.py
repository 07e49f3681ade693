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

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from delphi.core.models import Manifest, PanelReturn
from delphi.errors import Problem, StudyInvalid
from delphi.store.returns_csv import ReturnsReader, returns_csv_text
from delphi.store.study import Study, atomic_write, write_bytes

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".pdf": "pdf"}


@dataclass
class ImportReport:
    """What an import did."""

    round: int
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    already_imported: list[tuple[str, str]] = field(default_factory=list)  # (file, when)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def read_log(study: Study, round_no: int) -> list[dict[str, Any]]:
    """The round's import log, oldest first."""
    path = study.import_log_path(round_no)
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            raise StudyInvalid(Problem("not a JSON line; the import log must not be edited",
                                       file=study.display(path), line=number)) from None
    return entries


def append_log(study: Study, round_no: int, entries: Sequence[dict[str, Any]]) -> None:
    """Append entries to the round's import log, flushed to disk."""
    path = study.import_log_path(round_no)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _same(a: PanelReturn, b: PanelReturn) -> bool:
    rated = {k: v for k, v in a.ratings.items() if v is not None}
    other = {k: v for k, v in b.ratings.items() if v is not None}
    return (rated, a.comments, a.suggestions or None) == (other, b.comments,
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


def import_files(study: Study, files: Sequence[Path], round: int | None = None,
                 replace: bool = False, now: datetime | None = None) -> ImportReport:
    """Import returns files into a round (default: the PDFs' round, else the latest)."""
    from delphi.store.returns_pdf import FormReturn, read_pdf
    from delphi.store.returns_xlsx import read_xlsx

    problems: list[Problem] = []
    loaded: list[tuple[Path, str, str, bytes]] = []  # path, display, format, bytes
    for path in files:
        display = str(path)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            problems.append(Problem("cannot import this kind of file; import CSV, XLSX or the "
                                    "PDF questionnaires made by delphi", file=display))
            continue
        try:
            loaded.append((path, display, fmt, path.read_bytes()))
        except FileNotFoundError:
            problems.append(Problem("file not found", file=display))
        except IsADirectoryError:
            problems.append(Problem("is a folder, not a file", file=display))
    forms: dict[str, FormReturn] = {}
    for path, display, fmt, _ in loaded:
        if fmt == "pdf":
            form, found = read_pdf(path, display)
            problems += found
            if form is not None:
                forms[display] = form
    round_no = _round_of_batch(study, round, {d: f.round for d, f in forms.items()}, problems)
    if round_no is None or problems:
        raise StudyInvalid(problems)
    manifest = study.manifest(round_no)
    for display, form in forms.items():
        if form.study_hash != manifest.hash:
            problems.append(Problem(f"belongs to another study or another version of round "
                                    f"{round_no}'s questionnaire; only questionnaires made for "
                                    "this round can be imported", file=display))

    report = ImportReport(round=round_no)
    seen = {e.get("sha256"): e.get("time", "") for e in read_log(study, round_no)}
    batch = ReturnsReader(manifest, study.settings.scale)
    fresh: list[tuple[str, str, bytes]] = []
    for path, display, fmt, data in loaded:
        digest = sha256(data)
        if digest in seen:
            report.already_imported.append((display, seen[digest]))
            continue
        fresh.append((display, digest, data))
        if fmt == "csv":
            batch.read(path, display)
        elif fmt == "xlsx":
            read_xlsx(path, display, batch)
        elif display in forms:
            form = forms[display]
            batch.add_return(display, form.code, form.ratings, form.comments, form.suggestions)
    problems += batch.problems
    if problems:
        raise StudyInvalid(problems)
    return _store(study, manifest, batch.returns(), fresh, replace, report,
                  now or datetime.now().astimezone())


def import_entered(study: Study, round_no: int, entered: PanelReturn, replace: bool = False,
                   now: datetime | None = None) -> ImportReport:
    """Store a return typed in with ``delphi enter``, through the same checks as a file."""
    manifest = study.manifest(round_no)
    batch = ReturnsReader(manifest, study.settings.scale)
    batch.add_return("keyboard entry", entered.code,
                     {k: "" if v is None else str(v) for k, v in entered.ratings.items()},
                     entered.comments, entered.suggestions)
    if batch.problems:
        raise StudyInvalid(batch.problems)
    return _store(study, manifest, batch.returns(), [], replace, ImportReport(round=round_no),
                  now or datetime.now().astimezone(), source="keyboard entry")


def _store(study: Study, manifest: Manifest, incoming: list[PanelReturn],
           files: list[tuple[str, str, bytes]], replace: bool, report: ImportReport,
           now: datetime, source: str | None = None) -> ImportReport:
    """Merge checked returns into the canonical store; refuse conflicts; log and keep sources."""
    round_no = manifest.round
    canonical = study.canonical_returns_path(round_no)
    canonical_display = study.display(canonical)
    existing = {r.code: r for r in study.returns(round_no)}
    problems: list[Problem] = []
    replaced: dict[str, PanelReturn] = {}
    added: list[PanelReturn] = []
    for new in incoming:
        old = existing.get(new.code)
        if old is None:
            added.append(new)
        elif _same(old, new):
            report.unchanged.append(new.code)
        elif not replace:
            problems.append(Problem(
                f"{new.code} already has a different return for round {round_no} (from "
                f"{old.source}); use --replace to replace it (the earlier one is kept in "
                f"history)", file=(new.source or "").split(":")[0] or None))
        elif not (old.source or "").startswith(canonical_display + ":"):
            problems.append(Problem(
                f"{new.code}'s earlier return is in {old.source}, a file delphi does not own; "
                "edit or remove it by hand first", file=(new.source or "").split(":")[0]))
        else:
            replaced[new.code] = old
            added.append(new)
    if problems:
        raise StudyInvalid(problems)
    if not added:
        _log_files(study, round_no, files, incoming, "unchanged", now, source)
        return report

    stamp = now.strftime("%Y%m%dT%H%M%S")
    kept = [r for r in study.returns(round_no)
            if (r.source or "").startswith(canonical_display + ":") and r.code not in replaced]
    order = {c: i for i, c in enumerate(manifest.invited)}
    merged = sorted(kept + added, key=lambda r: order[r.code])
    texts = {canonical: returns_csv_text(manifest, merged)}
    for code, old in replaced.items():
        texts[study.history_dir(round_no) / f"{stamp}-{code}.csv"] = returns_csv_text(manifest,
                                                                                      [old])
    for display, digest, data in files:
        _write_source(study.sources_dir(round_no) / f"{digest[:12]}-{Path(display).name}", data)
    atomic_write(texts)
    report.added = [r.code for r in added if r.code not in replaced]
    report.replaced = sorted(replaced, key=lambda c: order[c])
    _log_files(study, round_no, files, incoming, "imported", now, source, report)
    return report


def _write_source(path: Path, data: bytes) -> None:
    if not path.exists():  # named by content hash: already kept
        write_bytes(path, data)


def _log_files(study: Study, round_no: int, files: list[tuple[str, str, bytes]],
               incoming: list[PanelReturn], action: str, now: datetime, source: str | None,
               report: ImportReport | None = None) -> None:
    entries: list[dict[str, Any]] = []
    by_file: dict[str, list[str]] = {}
    for r in incoming:
        by_file.setdefault((r.source or "").split(":")[0], []).append(r.code)
    for display, digest, _ in files:
        entries.append({"time": now.isoformat(timespec="seconds"), "source": display,
                        "sha256": digest, "codes": by_file.get(display, []), "action": action})
    if source is not None:
        entries.append({"time": now.isoformat(timespec="seconds"), "source": source,
                        "sha256": None, "codes": [r.code for r in incoming], "action":
                        "replaced" if report and report.replaced else action})
    if report is not None and report.replaced:
        for entry in entries:
            entry["replaced"] = [c for c in report.replaced if c in entry["codes"]]
    if entries:
        append_log(study, round_no, entries)
