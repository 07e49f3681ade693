"""Who gets which message: the pure rules of ``delphi send`` and ``delphi remind``.

The mail log is the memory: every message is logged ``pending`` before it is handed to the
server and ``sent`` (or ``failed``) after. A run that dies in between leaves a pending entry;
such a panellist is never mailed again automatically, because the server may have accepted the
message; the coordinator checks and uses ``--resend``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Panellist

Kind = Literal["questionnaire", "reminder"]
# What a message carries: the PDF questionnaire, a private link to answer on the web, or both.
Content = Literal["pdf", "link", "both"]
EMAILED = ("email", "web")  # deliveries that go by e-mail (web: with a private link)


def content_for(panellist: Panellist, chosen: Content | None = None) -> Content:
    """What a message to this panellist carries: ``chosen``, else by the roster's delivery."""
    if chosen is not None:
        return chosen
    return "link" if panellist.delivery == "web" else "pdf"


class LogEntry(BaseModel):
    """One line of a round's mail log."""

    model_config = ConfigDict(frozen=True, extra="allow")

    time: datetime
    kind: Kind
    code: str
    status: Literal["pending", "sent", "failed"]
    message_id: str
    to: str = ""
    file: str = ""
    sha256: str = ""
    error: str | None = None


class Mailing(BaseModel):
    """The plan of one run: who is mailed, and who is not and why."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    recipients: list[Panellist]
    by_post: list[Panellist]
    skipped: dict[str, str]
    uncertain: list[str]


def _latest(entries: Iterable[LogEntry]) -> dict[str, LogEntry]:
    """The last entry per message id."""
    latest: dict[str, LogEntry] = {}
    for entry in entries:
        latest[entry.message_id] = entry
    return latest


def delivered(entries: Sequence[LogEntry], kind: Kind) -> dict[str, list[LogEntry]]:
    """Messages of ``kind`` the server accepted, per panellist code, oldest first."""
    out: dict[str, list[LogEntry]] = {}
    for entry in _latest(entries).values():
        if entry.kind == kind and entry.status == "sent":
            out.setdefault(entry.code, []).append(entry)
    for sent in out.values():
        sent.sort(key=lambda e: e.time)
    return out


def interrupted(entries: Sequence[LogEntry], kind: Kind) -> set[str]:
    """Codes with a message of ``kind`` handed over but never confirmed (a run died)."""
    return {e.code for e in _latest(entries).values() if e.kind == kind and e.status == "pending"}


def withdrawal_note(p: Panellist) -> str:
    """Why a withdrawn panellist is not mailed: ``withdrew on 2026-11-23``."""
    assert p.withdrawn is not None
    return f"withdrew on {p.withdrawn.date.isoformat()}"


def plan_questionnaires(panel: Sequence[Panellist], entries: Sequence[LogEntry],
                        resend: Collection[str] = ()) -> Mailing:
    """Every invited e-mail panellist not yet sent the questionnaire; postal ones apart.

    Withdrawn panellists are never mailed, not even with ``resend``.
    """
    sent = delivered(entries, "questionnaire")
    unsure = interrupted(entries, "questionnaire")
    recipients, skipped, uncertain = [], {}, []
    for p in panel:
        if p.is_withdrawn:
            skipped[p.code] = withdrawal_note(p)
            continue
        if p.delivery not in EMAILED:
            continue
        if p.code in resend:
            recipients.append(p)
        elif p.code in sent:
            skipped[p.code] = f"already sent {sent[p.code][-1].time:%Y-%m-%d %H:%M}"
        elif p.code in unsure:
            uncertain.append(p.code)
        else:
            recipients.append(p)
    return Mailing(kind="questionnaire", recipients=recipients,
                   by_post=[p for p in panel if p.delivery == "post" and not p.is_withdrawn],
                   skipped=skipped, uncertain=uncertain)


def plan_reminders(panel: Sequence[Panellist], entries: Sequence[LogEntry],
                   returned: Collection[str], now: datetime, max_reminders: int = 2,
                   gap: timedelta = timedelta(days=3)) -> Mailing:
    """Panellists without a return who were sent the questionnaire, up to ``max_reminders``.

    Nobody is reminded twice within ``gap`` (so running ``remind`` again after an interruption
    reaches only those the first run did not), nor more than ``max_reminders`` times, nor at
    all once they have withdrawn.
    """
    sent = delivered(entries, "questionnaire")
    reminded = delivered(entries, "reminder")
    unsure = interrupted(entries, "reminder")
    recipients, skipped, uncertain = [], {}, []
    for p in panel:
        if p.code in returned:
            continue
        if p.is_withdrawn:
            skipped[p.code] = withdrawal_note(p)
            continue
        if p.delivery not in EMAILED:
            continue
        earlier = reminded.get(p.code, [])
        if p.code not in sent:
            skipped[p.code] = "never sent the questionnaire: run 'delphi send' first"
        elif p.code in unsure:
            uncertain.append(p.code)
        elif len(earlier) >= max_reminders:
            skipped[p.code] = f"already reminded {len(earlier)} times"
        elif earlier and now - earlier[-1].time < gap:
            skipped[p.code] = f"reminded {earlier[-1].time:%Y-%m-%d %H:%M}, less than " \
                              f"{gap.days} days ago"
        else:
            recipients.append(p)
    by_post = [p for p in panel
               if p.delivery == "post" and p.code not in returned and not p.is_withdrawn]
    return Mailing(kind="reminder", recipients=recipients, by_post=by_post, skipped=skipped,
                   uncertain=uncertain)


def reminders_sent(entries: Sequence[LogEntry]) -> dict[str, int]:
    """How many reminders each panellist was sent; the next one to them is that number + 1.

    One pass over the log for the whole run, not one per panellist (thousands of them).
    """
    return {code: len(sent) for code, sent in delivered(entries, "reminder").items()}


def log_line(entry: LogEntry) -> dict[str, Any]:
    """A log entry as JSON-ready data."""
    return entry.model_dump(mode="json", exclude_none=True)
