"""send and remind: planning and sending the round's e-mails and the print bundle."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from delphi.actions.web import base_url, issue_link
from delphi.core.mailing import (
    BundlePart,
    BundleRecord,
    Content,
    Kind,
    LogEntry,
    Mailing,
    bundle_changes,
    content_for,
    plan_questionnaires,
    plan_reminders,
    reminders_sent,
)
from delphi.core.models import Panellist
from delphi.core.web import link_url
from delphi.errors import DelphiError, Problem, RoundStateError
from delphi.i18n import Language
from delphi.store.intake import sha256
from delphi.store.maillog import MailLog
from delphi.store.study import Study, atomic_write


@dataclass(frozen=True)
class MailRun:
    """A planned run of ``send`` or ``remind``: the plan and what it needs to go."""

    study: Study
    round: int
    mailing: Mailing
    missing_pdfs: list[str]
    default_rate: float | None
    contents: dict[str, Content]  # per recipient: the PDF, a private link, or both
    reminders: dict[str, int]  # per panellist: reminders the mail log says were sent

    @property
    def with_links(self) -> int:
        """How many messages carry a private link."""
        return sum(1 for c in self.contents.values() if c != "pdf")


@dataclass
class MailOutcome:
    """What a run of ``send`` or ``remind`` did."""

    sent: list[str]
    failed: dict[str, str]
    uncertain: list[str] = field(default_factory=list)  # the connection dropped mid-message
    outbox: Path | None = None
    bundle: Path | None = None  # the print bundle for the postal panellists, if any
    bundle_pages: int = 0
    bundle_built: datetime | None = None  # when: this run, or an earlier one if it was reused
    bundle_reused: bool = False  # an earlier run's bundle was still right
    bundle_rebuilt: list[str] = field(default_factory=list)  # why an earlier one was replaced


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
        if people[code].delivery == "post":
            pdf = folder.display(folder.questionnaire_pdf(round_no, code))
            raise RoundStateError(f"--resend {code}: {code} is sent the questionnaire by post "
                                  f"(delivery: post), not by e-mail; print {pdf} for them")
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
    return MailRun(folder, round_no, mailing, missing, mail.rate if mail else None, contents,
                   reminders_sent(entries))


def run_mail(run: MailRun, dry_run: bool = False, rate: float | None = None,
             deadline: str | None = None, now: Callable[[], datetime] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             on_done: Callable[[str, str | None], None] = lambda code, error: None,
             on_bundle_start: Callable[[int], None] = lambda total: None,
             on_bundle_done: Callable[[str], None] = lambda code: None) -> MailOutcome:
    """Send (or, with ``dry_run``, write as .eml files) the planned messages, one by one.

    First, for ``send``, the print bundle of the postal panellists, so that a questionnaire
    that cannot be printed stops the run before anything goes: built once per round and used
    again while nothing it is made of has changed (see :class:`_PrintBundle`); when it is
    built, ``on_bundle_start`` gets the number of panellists in it and ``on_bundle_done`` each
    one's code as their letter and questionnaire are in.

    Each message is logged ``pending`` before it goes to the server and ``sent`` or ``failed``
    after, so an interrupted run can be run again without mailing anyone twice. All messages
    go over one SMTP connection, opened again when the server drops it; a message whose data
    was on the way when it dropped stays ``pending`` (``outcome.uncertain``) and the run goes on.
    """
    from delphi.mail.smtp import Mailer, MaybeSent

    _check_ready(run, dry_run)
    folder, mailing = run.study, run.mailing
    settings = folder.settings
    clock = now or (lambda: datetime.now().astimezone())
    posting = _Posting(run, dry_run, clock, written_date(deadline, folder.language))
    outcome = MailOutcome(sent=[], failed={},
                          outbox=folder.outbox_dir(run.round) if dry_run else None)
    if mailing.kind == "questionnaire" and mailing.by_post:  # printable, before anything goes
        _PrintBundle(run, posting.letters, clock, dry_run).make(outcome, on_bundle_start,
                                                                 on_bundle_done)
    interval = 60.0 / rate if rate else 0.0
    with Mailer(settings.mail) if settings.mail and not dry_run else _NoMailer() as mailer:
        for position, p in enumerate(mailing.recipients):
            if position and interval:
                sleep(interval)
            try:
                error = posting.post(p, mailer)
            except MaybeSent as exc:  # stays pending: the next run asks the coordinator
                outcome.uncertain.append(p.code)
                on_done(p.code, str(exc))
                continue
            if error is None:
                outcome.sent.append(p.code)
            else:
                outcome.failed[p.code] = error
            on_done(p.code, error)
    return outcome


def _check_ready(run: MailRun, dry_run: bool) -> None:
    """Refuse a run whose questionnaires are missing, or a real one without mail settings."""
    folder, round_no = run.study, run.round
    if run.missing_pdfs:
        raise RoundStateError(f"no questionnaire PDF for {', '.join(run.missing_pdfs[:5])}"
                              f"{' ...' if len(run.missing_pdfs) > 5 else ''} (missing, empty "
                              "or not a PDF) in "
                              f"{folder.display(folder.questionnaires_dir(round_no))}; "
                              "write them with 'delphi new-round' (or 'delphi new-round --round "
                              f"{round_no} --force' to rebuild the round)")
    if folder.settings.mail is None and not dry_run:
        raise DelphiError(Problem("no mail settings: add a 'mail:' block (host, port, "
                                  "security, sender) to send e-mail, or use --dry-run",
                                  file="study.yaml"))


class _Posting:
    """One run's messages, each written from its template and then sent and logged.

    On a dry run each is written to the outbox instead.
    """

    def __init__(self, run: MailRun, dry_run: bool, clock: Callable[[], datetime],
                 deadline: str | None) -> None:
        from delphi.render.templates import environment

        folder = run.study
        settings = folder.settings
        self.run, self.dry_run, self.clock, self.deadline = run, dry_run, clock, deadline
        self.sender = (settings.mail.sender if settings.mail
                       else "Delphi study <delphi@example.invalid>")
        self.env = environment(folder.root, "templates/mail", html=False,
                               language=folder.language)
        self.log = _mail_log(folder, run.round)
        self.template = ("questionnaire.txt.j2" if run.mailing.kind == "questionnaire"
                         else "reminder.txt.j2")
        self.compiled = self.env.get_template(self.template)  # its errors before anything
        self.letters = {"study": settings.title, "round": run.round, "sender": self.sender,
                        "deadline": deadline}

    def post(self, p: Panellist, mailer: Any) -> str | None:
        """Mail one panellist; the server's permanent refusal, if it refused."""
        from delphi.mail.smtp import NotSent, PermanentFailure

        message, pdf, link = self._message(p)
        folder, kind = self.run.study, self.run.mailing.kind
        if self.dry_run:
            atomic_write({folder.outbox_dir(self.run.round) / f"{p.code}-{kind}.eml":
                          message.as_string()})
            return None
        base = {"kind": kind, "code": p.code, "to": p.email or "",
                "file": folder.display(pdf) if pdf else "",
                "sha256": sha256(pdf.read_bytes()) if pdf else "",
                "message_id": str(message["Message-ID"]), "link": link is not None}
        self.log.append(LogEntry(time=self.clock(), status="pending", **base))
        try:
            mailer.send(message)
        except NotSent as exc:  # never reached the server: not pending, sent next run
            self.log.append(LogEntry(time=self.clock(), status="failed", error=str(exc), **base))
            raise
        except PermanentFailure as exc:
            self.log.append(LogEntry(time=self.clock(), status="failed", error=str(exc), **base))
            return str(exc)
        self.log.append(LogEntry(time=self.clock(), status="sent", **base))
        return None

    def _message(self, p: Panellist) -> tuple[EmailMessage, Path | None, str | None]:
        """The message to ``p``, the questionnaire it attaches and the link it carries."""
        from delphi.mail.messages import build_message

        folder, round_no, kind = self.run.study, self.run.round, self.run.mailing.kind
        content = self.run.contents[p.code]
        pdf = folder.questionnaire_pdf(round_no, p.code) if content != "link" else None
        link = None
        if content != "pdf":  # a new private link; the earlier ones keep working
            link = (link_url(base_url(folder), "<made when the message is sent>")
                    if self.dry_run else issue_link(folder, round_no, p.code, kind))
        text = self.compiled.render(
            panellist=p, sender=self.sender, link=link, attached=pdf is not None,
            study=folder.settings.title, round=round_no, deadline=self.deadline,
            number=self.run.reminders.get(p.code, 0) + 1)
        message = build_message(text, self.template, self.sender, p, pdf,
                                f"delphi-round-{round_no}-{p.code}.pdf")
        return message, pdf, link


class _PrintBundle:
    """The round's print bundle: built once, used again while it is still right.

    Its record (``store/postal.py``) holds per postal panellist the hashes of the cover
    letter and the questionnaire that went in. The letters carry the date the bundle was
    built: they are rendered with the record's date, and if every part, the deadline and the
    bundle file itself are as recorded, the bundle is used again. Otherwise it is built again,
    with today's date on its letters, and the outcome says why. A dry run's bundle is a
    preview: a real run uses it on the same day only (and then owns it).
    """

    def __init__(self, run: MailRun, context: dict[str, Any],
                 clock: Callable[[], datetime], dry_run: bool) -> None:
        from delphi.store.postal import read_record

        self.run, self.context, self.clock, self.dry_run = run, context, clock, dry_run
        self.record, self.unreadable = read_record(run.study, run.round)
        self.today = clock().date()
        self.preview = (self.record is not None and self.record.dry_run and not dry_run
                        and self.record.date != self.today)  # an earlier day's dry run's
        self.letters = self._letters(self.record.date if self.record and not self.preview
                                     else self.today)

    def _letters(self, day: date) -> list[str]:
        """The cover letters dated ``day``, checked to be printable."""
        from delphi.render.bundle import cover_letters

        folder = self.run.study
        self.dated = day
        return cover_letters(folder.root, self.run.mailing.by_post, folder.language,
                             date=folder.language.date(day), **self.context)

    def _parts(self) -> list[BundlePart]:
        folder, round_no = self.run.study, self.run.round
        return [BundlePart(code=p.code, letter=sha256(html.encode("utf-8")),
                           questionnaire=sha256(folder.questionnaire_pdf(round_no,
                                                                         p.code).read_bytes()))
                for p, html in zip(self.run.mailing.by_post, self.letters, strict=True)]

    def _changes(self) -> list[str] | None:
        """None if the bundle on disk is the one to print; else why not ([] if there is none)."""
        from delphi.render.bundle import MAKING
        from delphi.store.postal import file_sha256

        folder = self.run.study
        path = folder.postal_bundle_path(self.run.round)
        if self.record is None:
            if self.unreadable:
                return [self.unreadable]
            return ["nothing recorded what the earlier one was built from"] if path.exists() else []
        if self.preview:
            return [f"the earlier one was a dry run's of {self.record.date.isoformat()}"]
        reasons = bundle_changes(self.record, self.context["deadline"], self._parts(), MAKING)
        root = folder.root.resolve()
        for used, recorded in self.record.used.items() if not reasons else ():
            shown = folder.root / used  # only a file in the study is read: the record may lie
            inside = shown.resolve().is_relative_to(root)
            if recorded is None:  # the letters linked to it, and it was not there
                if inside and shown.is_file():
                    reasons.append(f"{used}, which the cover letters show, is there now")
            elif not (inside and shown.is_file() and file_sha256(shown) == recorded):
                reasons.append(f"{used}, which the cover letters show, changed")
        if not reasons:
            now = file_sha256(path)
            if now is None:
                reasons.append("the earlier one was removed")
            elif now != self.record.sha256:
                reasons.append("the earlier one was changed after it was built")
        return reasons or None

    def make(self, outcome: MailOutcome, on_start: Callable[[int], None],
             on_done: Callable[[str], None]) -> None:
        """Use the bundle again or build it; what was done goes into ``outcome``."""
        folder, round_no = self.run.study, self.run.round
        changes = self._changes()
        outcome.bundle = folder.postal_bundle_path(round_no)
        if changes is None and self.record is not None:
            outcome.bundle_pages, outcome.bundle_built = self.record.pages, self.record.built
            outcome.bundle_reused = True
            if self.record.dry_run and not self.dry_run:  # the real run's own from now on
                from delphi.store.postal import write_record

                write_record(folder, round_no, self.record.model_copy(update={"dry_run": False}))
            return
        outcome.bundle_rebuilt = changes or []
        outcome.bundle_pages, outcome.bundle_built = self._build(on_start, on_done)

    def _build(self, on_start: Callable[[int], None],
               on_done: Callable[[str], None]) -> tuple[int, datetime]:
        """Build and write the bundle and its record; its page count and time."""
        from delphi.render.bundle import MAKING, postal_bundle
        from delphi.store.postal import file_sha256, write_bundle

        folder, round_no, people = self.run.study, self.run.round, self.run.mailing.by_post
        if self.dated != self.today:
            self.letters = self._letters(self.today)
        parts: list[BundlePart] = []

        def contents() -> Iterator[tuple[str, bytes, str]]:  # read once: hashed as it goes in
            for p, html in zip(people, self.letters, strict=True):
                path = folder.questionnaire_pdf(round_no, p.code)
                data = path.read_bytes()
                parts.append(BundlePart(code=p.code, letter=sha256(html.encode("utf-8")),
                                        questionnaire=sha256(data)))
                yield html, data, folder.display(path)

        on_start(len(people))
        made = postal_bundle(folder.root, contents(), folder.language,
                             on_done=lambda: on_done(parts[-1].code))
        built = self.clock()
        root = folder.root.resolve()
        used = {path.relative_to(root).as_posix(): file_sha256(path)
                for path in sorted(made.used) if path.is_relative_to(root)}
        write_bundle(folder, round_no, made.pdf, BundleRecord(
            built=built, date=self.today, deadline=self.context["deadline"], parts=parts,
            sha256=sha256(made.pdf), pages=made.pages, making=MAKING, dry_run=self.dry_run,
            used=used))
        return made.pages, built


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


