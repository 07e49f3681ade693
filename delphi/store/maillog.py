"""A round's mail log: ``rounds/round-N/mail-log.jsonl``, appended and flushed per line."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from delphi.core.mailing import LogEntry, log_line
from delphi.errors import Problem, StudyInvalid


class MailLog:
    """Reads all entries; appends one at a time, each on disk before the next step."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display

    def entries(self) -> list[LogEntry]:
        """Every entry, oldest first."""
        if not self.path.is_file():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(LogEntry.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError):
                raise StudyInvalid(Problem("not a mail-log entry; the mail log must not be "
                                           "edited", file=self.display, line=number)) from None
        return out

    def append(self, entry: LogEntry) -> None:
        """Add one entry and make sure it is on disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(log_line(entry), ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
