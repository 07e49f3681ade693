"""Answering on the web, what is kept in the study folder: ``rounds/round-N/web/``.

- ``links.jsonl``: the round's link log (each link issued, by its SHA-256 only, and each
  revocation), appended and synced, never rewritten;
- ``drafts/CODE.json``: a panellist's answers saved on the web and not yet sent;
- ``form-key``: the random key that signs the forms' anti-forgery tokens (readable by the
  study's owner only).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from delphi.core.web import Answers, LinkEvent
from delphi.errors import Problem, StudyInvalid
from delphi.store.jsonl import append_lines, read_lines
from delphi.store.limits import read_bounded
from delphi.store.study import Study, atomic_write

DRAFT_BYTES = 4 * 1024 * 1024


class WebStore:
    """The web files of one round."""

    def __init__(self, study: Study, round_no: int) -> None:
        self.study = study
        self.round = round_no
        self.link_log = study.link_log_path(round_no)

    # ------------------------------------------------------------------ links

    def link_log_stamp(self) -> tuple[int, int] | None:
        """Size and modification time of the link log, to notice a change cheaply."""
        try:
            stat = self.link_log.stat()
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def link_events(self) -> list[LinkEvent]:
        """Every entry of the link log, oldest first; a damaged line is an error naming it."""
        display = self.study.display(self.link_log)
        events: list[LinkEvent] = []
        problems: list[Problem] = []
        for number, data in read_lines(self.link_log, display, "the link log"):
            try:
                events.append(LinkEvent.model_validate(data))
            except ValidationError:
                problems.append(Problem("not a link-log entry; the link log is written by "
                                        "delphi and must not be edited", file=display,
                                        line=number))
        if problems:
            raise StudyInvalid(problems)
        return events

    def append_links(self, events: Sequence[LinkEvent]) -> None:
        """Add entries to the link log, on disk before this returns."""
        append_lines(self.link_log, [e.model_dump(mode="json", exclude_none=True)
                                     for e in events])

    # ------------------------------------------------------------------ drafts

    def _draft_path(self, code: str) -> Path:
        return self.study.drafts_dir(self.round) / f"{code}.json"

    def draft(self, code: str) -> Answers | None:
        """A panellist's saved draft, if any."""
        path = self._draft_path(code)
        if not path.is_file():
            return None
        display = self.study.display(path)
        try:
            return Answers.model_validate_json(read_bounded(path, display, DRAFT_BYTES))
        except ValidationError:
            raise StudyInvalid(Problem("not a draft written by delphi serve; delete it to let "
                                       "the panellist start again", file=display)) from None

    def save_draft(self, code: str, answers: Answers) -> None:
        """Keep a panellist's draft (replacing the earlier one), whole or not at all."""
        atomic_write({self._draft_path(code): answers.model_dump_json(indent=1) + "\n"})

    def drop_draft(self, code: str) -> None:
        """Forget a panellist's draft (once its answers are sent)."""
        self._draft_path(code).unlink(missing_ok=True)

    # ------------------------------------------------------------------ form key

    def form_key(self) -> bytes:
        """The key signing the round's forms; made on first use, kept across restarts."""
        path = self.study.form_key_path(self.round)
        if path.exists():
            try:
                key = bytes.fromhex(path.read_text(encoding="ascii").strip())
            except (OSError, UnicodeDecodeError, ValueError):
                key = b""
            if len(key) < 16:
                raise StudyInvalid(Problem("not a key written by delphi serve; delete it (open "
                                           "forms then need reloading)",
                                           file=self.study.display(path)))
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(os.urandom(32).hex() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # whole, and never over a key another process made first
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        return self.form_key()
