"""The one family of errors a user can cause, and the exit statuses of the command line.

Every error carries one or more :class:`Problem` lines of the form
``file:line: field: message``. The CLI catches :class:`DelphiError` in one place,
prints the problems to stderr and exits with :attr:`ExitStatus.ERROR`; nothing else is
translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitStatus(IntEnum):
    """What ``delphi`` exits with (as httpie names its exit statuses)."""

    OK = 0  # done, or stopped on purpose (a question answered "no")
    ERROR = 2  # a problem in the input, the options or the study's state: nothing was written
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


def dotted(loc: tuple[str | int, ...]) -> str:
    """A data path as a field name: ``("sections", 2, "id")`` -> ``sections[2].id``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place in a study file.

    ``loc`` is a path into the data (keys and list indexes) that the store adapter
    turns into a line number; core code fills ``loc``, the adapter fills ``file``
    and ``line``.
    """

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    loc: tuple[str | int, ...] = ()
    first: tuple[str | int, ...] = ()  # for a repeat: where the first one is (a data path)

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"

    def at(self, file: str, line: int | None = None) -> Problem:
        """The same problem, placed in ``file`` (at ``line`` if known)."""
        return Problem(self.message, file, line if line is not None else self.line,
                       self.field, self.loc, self.first)


class DelphiError(Exception):
    """Base of every error caused by input, options or the state of a study folder."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StudyInvalid(DelphiError):
    """One or more study files failed validation."""


class MissingFile(DelphiError):
    """A file the study needs does not exist."""

    def __init__(self, path: str, hint: str = "") -> None:
        super().__init__(Problem(f"file not found{'; ' + hint if hint else ''}", file=path))


class RoundStateError(DelphiError):
    """The requested round does not exist or is not in a state that allows the command."""
