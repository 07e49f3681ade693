"""Who gets which message: the pure rules of ``delphi send`` and ``delphi remind``.

The mail log is the memory: every message is logged ``pending`` before it is handed to the
server and ``sent`` (or ``failed``) after. A run that dies in between leaves a pending entry;
such a panellist is never mailed again automatically, because the server may have accepted the
message; the coordinator checks and uses ``--resend``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
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


class BundlePart(BaseModel):
    """One postal panellist's part of the print bundle: whose, and hashes of what it holds."""

    model_config = ConfigDict(frozen=True)

    code: str
    letter: str  # SHA-256 of the cover letter's HTML (its date and deadline included)
    questionnaire: str  # SHA-256 of the questionnaire PDF's bytes


class BundleRecord(BaseModel):
    """What a round's print bundle was built from, kept beside it so that it is built once.

    ``date`` is the date the cover letters carry: the day the bundle was built. A bundle whose
    parts are all unchanged is used again, with its letters' date; one a dry run made is used by
    a real run of the same day only.
    """

    model_config = ConfigDict(frozen=True)

    built: datetime
    date: date
    deadline: str | None
    parts: list[BundlePart]
    sha256: str  # of the bundle's PDF
    pages: int
    making: int = 1  # how delphi made it (render/bundle.py MAKING): a new way builds it again
    # Files in the study the letters link to (a logo): SHA-256 each, None for one not there.
    used: dict[str, str | None] = {}
    dry_run: bool = False  # made by ``send --dry-run``: a real run on a later day makes it anew


def bundle_changes(before: BundleRecord, deadline: str | None,
                   parts: Sequence[BundlePart], making: int) -> list[str]:
    """Why a bundle made of ``parts`` differs from the one ``before`` describes; [] if not.

    Each reason is a phrase (``the questionnaire of U2 changed``) naming at most a few codes.
    """
    reasons = [] if before.making == making else ["this version of delphi makes it differently"]
    old = {p.code: p for p in before.parts}
    new = {p.code: p for p in parts}
    added = [c for c in new if c not in old]
    gone = [c for c in old if c not in new]
    if added:
        reasons.append(f"{_codes(added)} now by post")
    if gone:
        reasons.append(f"{_codes(gone)} no longer by post")
    both = [c for c in new if c in old]
    if not added and not gone and [p.code for p in parts] != [p.code for p in before.parts]:
        reasons.append("the roster order of the postal panellists changed")
    if deadline != before.deadline:
        reasons.append(f"the deadline changed (was {_quoted(before.deadline)}, "
                       f"now {_quoted(deadline)})")
    else:
        letters = [c for c in both if old[c].letter != new[c].letter]
        if letters:
            reasons.append(f"{_of('cover letter', letters, len(both))} changed")
    changed = [c for c in both if old[c].questionnaire != new[c].questionnaire]
    if changed:
        reasons.append(f"{_of('questionnaire', changed, len(both))} changed")
    return reasons


def _of(what: str, codes: Sequence[str], out_of: int) -> str:
    """``the questionnaire of U2``, ``the questionnaires of U2 and U5``, ``... of all 9``."""
    return f"the {what}{'s' if len(codes) > 1 else ''} of {_codes(codes, out_of)}"


def _codes(codes: Sequence[str], out_of: int = 0) -> str:
    """``U2``, ``U2, U5 and U7``, ``U2, U5, U7 and 12 more``, or ``all 15``."""
    if out_of > 1 and len(codes) == out_of:
        return f"all {out_of}"
    if len(codes) <= 4:
        return codes[0] if len(codes) == 1 else f"{', '.join(codes[:-1])} and {codes[-1]}"
    return f"{', '.join(codes[:3])} and {len(codes) - 3} more"


def _quoted(deadline: str | None) -> str:
    return "none" if deadline is None else repr(deadline)
