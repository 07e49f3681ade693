"""Append-only JSON Lines logs (the import log, the mail log): one writer, one reader.

Each append is one ``write`` on a file opened for appending, flushed and synced to disk before
the caller goes on. Reading checks every line on its own: a line that is not UTF-8, not JSON
or not a JSON object is a problem naming the file, the line and what is wrong there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from delphi.errors import Problem, StudyInvalid
from delphi.store.limits import LOG_FILE_BYTES, read_bounded

MAX_PROBLEMS = 20


def append_lines(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append entries as JSON lines and make sure they are on disk."""
    if not entries:
        return
    text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        if os.fstat(fd).st_size and not _ends_with_newline(path):
            text = "\n" + text  # a torn last line (disk full, say) stays a line of its own
        data = text.encode("utf-8")
        while data:
            written = os.write(fd, data)
            data = data[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_lines(path: Path, display: str, what: str) -> list[tuple[int, dict[str, Any]]]:
    """Every entry of a log with its line number, oldest first ([] if there is no log).

    ``what`` names the log in messages ("the import log").
    """
    if not path.exists():
        return []
    data = read_bounded(path, display, LOG_FILE_BYTES)
    entries: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        entry, why = _entry(raw)
        if entry is None:
            problems.append(Problem(f"{why}; {what} is written by delphi and must not be edited",
                                    file=display, line=number))
            if len(problems) == MAX_PROBLEMS:
                break
        else:
            entries.append((number, entry))
    if problems:
        raise StudyInvalid(problems)
    return entries


def _entry(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start} of the line)"
    try:
        value = json.loads(text)
    except RecursionError:
        return None, "not a log entry: nested too deep"
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        return None, f"not a JSON line ({exc})"
    if not isinstance(value, dict):
        return None, f"not a log entry: a JSON {_kind(value)} where an object belongs"
    return value, ""


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "constant"
    return "number"
