"""A round's mail log: ``rounds/round-N/mail-log.jsonl``, appended and flushed per line."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from delphi.core.mailing import LogEntry, log_line
from delphi.errors import Problem, StudyInvalid
from delphi.store.jsonl import append_lines, read_lines


class MailLog:
    """Reads all entries; appends one at a time, each on disk before the next step."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display

    def entries(self) -> list[LogEntry]:
        """Every entry, oldest first; a line that is not an entry is an error naming it."""
        out: list[LogEntry] = []
        problems: list[Problem] = []
        for number, data in read_lines(self.path, self.display, "the mail log"):
            try:
                out.append(LogEntry.model_validate(data))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in first["loc"]) or "entry"
                problems.append(Problem(f"not a mail-log entry ({where}: {first['msg']}); the "
                                        "mail log is written by delphi and must not be edited",
                                        file=self.display, line=number))
        if problems:
            raise StudyInvalid(problems)
        return out

    def append(self, entry: LogEntry) -> None:
        """Add one entry and make sure it is on disk."""
        append_lines(self.path, [log_line(entry)])
