"""send and remind: planning and sending the round's e-mails and the print bundle."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from delphi.actions.web import base_url, issue_link
from delphi.core.mailing import (
    Content,
    Kind,
    LogEntry,
    Mailing,
    content_for,
    plan_questionnaires,
    plan_reminders,
    reminder_number,
)
from delphi.core.web import link_url
from delphi.errors import DelphiError, Problem, RoundStateError
from delphi.i18n import Language
from delphi.store.intake import sha256
from delphi.store.maillog import MailLog
from delphi.store.study import Study, atomic_write, write_bytes


@dataclass(frozen=True)
class MailRun:
    """A planned run of ``send`` or ``remind``: the plan and what it needs to go."""

    study: Study
    round: int
    mailing: Mailing
    missing_pdfs: list[str]
    default_rate: float | None
    contents: dict[str, Content]  # per recipient: the PDF, a private link, or both

    @property
    def with_links(self) -> int:
        """How many messages carry a private link."""
        return sum(1 for c in self.contents.values() if c != "pdf")


@dataclass
class MailOutcome:
    """What a run of ``send`` or ``remind`` did."""

    sent: list[str]
    failed: dict[str, str]
    outbox: Path | None = None
    bundle: Path | None = None
    bundle_pages: int = 0


def _mail_log(folder: Study, round_no: int) -> MailLog:
    path = folder.mail_log_path(round_no)
    return MailLog(path, folder.display(path))


def plan_mail(study: Path | str, kind: Kind, round: int | None = None,
              resend: Collection[str] = (), now: datetime | None = None,
              send_as: Content | None = None) -> MailRun:
    """Who ``send`` (kind ``questionnaire``) or ``remind`` (kind ``reminder``) would mail.

    ``send_as`` chooses what every message carries (the PDF, a private link, both); by
    default ``delivery: web`` panellists get a link and ``delivery: email`` ones the PDF.
    """
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifest = folder.manifest(round_no)
    people = folder.roster.by_code()
    unknown = sorted(set(resend) - set(manifest.invited))
    if unknown:
        raise RoundStateError(f"--resend {unknown[0]}: not invited to round {round_no}")
    for code in resend:
        if (gone := people[code].withdrawn) is not None:
            raise RoundStateError(f"--resend {code}: withdrew from the study on {gone.date}; "
                                  "withdrawn panellists are never mailed again")
    panel = [people[c] for c in manifest.invited]
    entries = _mail_log(folder, round_no).entries()
    if kind == "questionnaire":
        mailing = plan_questionnaires(panel, entries, resend=resend)
    else:
        mail = folder.settings.mail
        returned = {r.code for r in folder.returns(round_no)}
        mailing = plan_reminders(
            panel, entries, returned, now or datetime.now().astimezone(),
            max_reminders=mail.max_reminders if mail else 2,
            gap=timedelta(days=mail.reminder_gap_days if mail else 3))
    contents = {p.code: content_for(p, send_as) for p in mailing.recipients}
    needed = [p for p in mailing.recipients if contents[p.code] != "link"]
    needed += mailing.by_post if kind == "questionnaire" else []
    missing = [p.code for p in needed if not _is_pdf(folder.questionnaire_pdf(round_no, p.code))]
    mail = folder.settings.mail
    return MailRun(folder, round_no, mailing, missing, mail.rate if mail else None, contents)


def run_mail(run: MailRun, dry_run: bool = False, rate: float | None = None,
             deadline: str | None = None, now: Callable[[], datetime] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             on_done: Callable[[str, str | None], None] = lambda code, error: None
             ) -> MailOutcome:
    """Send (or, with ``dry_run``, write as .eml files) the planned messages, one by one.

    Each message is logged ``pending`` before it goes to the server and ``sent`` or ``failed``
    after, so an interrupted run can be run again without mailing anyone twice.
    """
    from delphi.mail.messages import build_message
    from delphi.mail.smtp import Mailer, NotSent, PermanentFailure
    from delphi.render.templates import environment

    folder, round_no, mailing = run.study, run.round, run.mailing
    if run.missing_pdfs:
        raise RoundStateError(f"no questionnaire PDF for {', '.join(run.missing_pdfs[:5])}"
                              f"{' ...' if len(run.missing_pdfs) > 5 else ''} (missing, empty "
                              "or not a PDF) in "
                              f"{folder.display(folder.questionnaires_dir(round_no))}; "
                              "write them with 'delphi new-round' (or 'delphi new-round --round "
                              f"{round_no} --force' to rebuild the round)")
    settings = folder.settings
    if settings.mail is None and not dry_run:
        raise DelphiError(Problem("no mail settings: add a 'mail:' block (host, port, "
                                  "security, sender) to send e-mail, or use --dry-run",
                                  file="study.yaml"))
    clock = now or (lambda: datetime.now().astimezone())
    sender = settings.mail.sender if settings.mail else "Delphi study <delphi@example.invalid>"
    language = folder.language
    env = environment(folder.root, "templates/mail", html=False, language=language)
    deadline = written_date(deadline, language)
    log = _mail_log(folder, round_no)
    entries = log.entries()
    template = "questionnaire.txt.j2" if mailing.kind == "questionnaire" else "reminder.txt.j2"
    outcome = MailOutcome(sent=[], failed={})
    interval = 60.0 / rate if rate else 0.0
    outbox = folder.outbox_dir(round_no)
    if dry_run:
        outcome.outbox = outbox
    letters = {"study": settings.title, "round": round_no, "sender": sender,
               "deadline": deadline, "date": language.date(clock().date())}
    if mailing.kind == "questionnaire" and mailing.by_post:  # printable, before anything goes
        from delphi.render.bundle import cover_letters

        cover_letters(folder.root, mailing.by_post, language, **letters)
    with Mailer(settings.mail) if settings.mail and not dry_run else _NoMailer() as mailer:
        for position, p in enumerate(mailing.recipients):
            if position and interval:
                sleep(interval)
            content = run.contents[p.code]
            pdf = folder.questionnaire_pdf(round_no, p.code) if content != "link" else None
            link = None
            if content != "pdf":  # a new private link; the earlier ones keep working
                link = (link_url(base_url(folder), "<made when the message is sent>")
                        if dry_run else issue_link(folder, round_no, p.code, mailing.kind))
            number = reminder_number(entries, p.code)
            text = env.get_template(template).render(
                panellist=p, sender=sender, link=link, attached=pdf is not None,
                study=settings.title, round=round_no, deadline=deadline, number=number)
            message = build_message(text, template, sender, p, pdf,
                                    f"delphi-round-{round_no}-{p.code}.pdf")
            if dry_run:
                name = f"{p.code}-{mailing.kind}.eml"
                atomic_write({outbox / name: message.as_string()})
                outcome.sent.append(p.code)
                on_done(p.code, None)
                continue
            base = {"kind": mailing.kind, "code": p.code, "to": p.email or "",
                    "file": folder.display(pdf) if pdf else "",
                    "sha256": sha256(pdf.read_bytes()) if pdf else "",
                    "message_id": str(message["Message-ID"]), "link": link is not None}
            log.append(LogEntry(time=clock(), status="pending", **base))
            try:
                mailer.send(message)
            except NotSent as exc:  # never reached the server: not pending, sent next run
                log.append(LogEntry(time=clock(), status="failed", error=str(exc), **base))
                raise
            except PermanentFailure as exc:
                log.append(LogEntry(time=clock(), status="failed", error=str(exc), **base))
                outcome.failed[p.code] = str(exc)
                on_done(p.code, str(exc))
                continue
            log.append(LogEntry(time=clock(), status="sent", **base))
            outcome.sent.append(p.code)
            on_done(p.code, None)
    if mailing.kind == "questionnaire" and mailing.by_post:
        from delphi.render.bundle import postal_bundle

        made = postal_bundle(
            folder.root, [(p, folder.questionnaire_pdf(round_no, p.code)) for p in mailing.by_post],
            language, **letters)
        outcome.bundle = folder.postal_bundle_path(round_no)
        write_bytes(outcome.bundle, made.pdf)
        outcome.bundle_pages = made.pages
    return outcome


def _is_pdf(path: Path) -> bool:
    """Whether ``path`` is a file that starts as a PDF does (not empty, not half-written)."""
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"%PDF-"
    except OSError:
        return False


def written_date(deadline: str | None, language: Language) -> str | None:
    """A ``--deadline`` as the messages print it.

    An ISO date (2027-01-12) is written out in the panel's language (``12 janvier 2027``); any
    other text is printed as it was given.
    """
    if deadline is None:
        return None
    try:
        return language.date(date.fromisoformat(deadline.strip()))
    except ValueError:
        return deadline


class _NoMailer:
    """Stands in for the SMTP connection on a dry run: connects to nothing."""

    def __enter__(self) -> _NoMailer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, message: object) -> None:  # pragma: no cover - never called on dry runs
        raise AssertionError("a dry run sends nothing")


