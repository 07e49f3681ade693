"""What each command does, as plain functions: load from the study folder, call the core, save.

The CLI is a thin layer over these; they are also the library's entry points for scripts.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from delphi.core.analysis import RoundResult, analyse_round
from delphi.core.feedback import (
    earlier_consensus,
    feedback_for_round,
    own_ratings,
    ranking_feedback,
)
from delphi.core.mailing import (
    Kind,
    LogEntry,
    Mailing,
    plan_questionnaires,
    plan_reminders,
    reminder_number,
)
from delphi.core.models import Manifest, PanelReturn, RuleName
from delphi.core.report import ReportData, build_report
from delphi.core.rounds import RoundPlan, plan_round
from delphi.core.rules import RULES
from delphi.core.status import RoundStatus, round_status
from delphi.errors import DelphiError, Problem, RoundStateError
from delphi.render.context import Personal, QuestionnaireContext, build_context
from delphi.store.intake import ImportReport, import_entered, import_files, sha256
from delphi.store.maillog import MailLog
from delphi.store.study import (
    Study,
    atomic_write,
    manifest_text,
    replace_folder,
    replace_round,
    write_bytes,
)


@dataclass(frozen=True)
class Analysis:
    """The outcome of :func:`analyse`: the result, its manifest and the files written."""

    study: Study
    result: RoundResult
    manifest: Manifest
    written: list[Path]


def compute_round(folder: Study, round_no: int, rules: Sequence[RuleName] = ()) -> RoundResult:
    """A round's results exactly as ``delphi analyse`` writes them.

    They come from the round's manifest and returns, and the previous round's returns for
    the items' stability.
    """
    previous = None
    if round_no > 1 and (round_no - 1) in folder.rounds():
        previous = (round_no - 1, folder.returns(round_no - 1))
    return analyse_round(folder.settings, folder.manifest(round_no), folder.roster,
                         folder.returns(round_no), previous=previous, rules=rules)


def analyse(study: Path | str = ".", round: int | None = None, write: bool = True,
            rules: Sequence[RuleName] = ()) -> Analysis:
    """Analyse a round (default: the latest with returns) and write its results files.

    ``rules`` adds each item's verdict under those consensus rules to the output; the files
    written are always the study's own rule alone, so they do not depend on the options.
    """
    folder = Study(study).validated()  # every file is validated on load
    round_no = folder.round_to_analyse(round)
    manifest = folder.manifest(round_no)
    shown = compute_round(folder, round_no, rules)
    result = shown.model_copy(update={"items": [i.model_copy(update={"rules": None})
                                                for i in shown.items]}) if rules else shown
    written = folder.write_results(result) if write else []
    return Analysis(folder, shown, manifest, written)


def validate(study: Path | str = ".") -> list[Problem]:
    """Every problem in a study folder (empty when the study is valid)."""
    return Study(study).problems()


# ----------------------------------------------------------------------------- new rounds


@dataclass(frozen=True)
class NewRound:
    """The outcome of :func:`new_round`."""

    study: Study
    plan: RoundPlan
    folder: Path
    pdfs: int
    backup: Path | None
    completed: bool = False
    laid_out_each: str | None = None  # why the round could not be laid out once, if it could not


def _earlier_results(folder: Study, round_no: int) -> list[RoundResult]:
    """Fresh analyses of every round before ``round_no``; they must all exist."""
    existing = set(folder.rounds())
    results = []
    for r in range(1, round_no):
        if r not in existing:
            raise RoundStateError(f"round {r} has no questionnaire, so round {round_no} cannot "
                                  "follow it; rounds are numbered without gaps")
        results.append(compute_round(folder, r))
    return results


def _context(folder: Study, manifest: Manifest, earlier: list[RoundResult],
             added: Collection[str]) -> tuple[QuestionnaireContext, list[Personal]]:
    """The shared questionnaire context of a round and each invited panellist's part."""
    settings = folder.settings
    previous = earlier[-1] if earlier else None
    feedback = feedback_for_round(manifest, previous, settings)
    own = own_ratings(manifest, folder.returns(previous.round)) if previous else {}
    asked = set(manifest.item_ids())
    reached = [e for e in earlier_consensus(earlier) if e.id not in asked]
    show = manifest.round >= settings.feedback.earlier_results_from
    titles = {s.id: s.title for r in range(1, manifest.round) for s in folder.manifest(r).sections}
    context = build_context(settings, manifest, feedback, new_items=list(added),
                            dropped_count=len(reached),
                            earlier=reached if show else [],
                            rankings=ranking_feedback(earlier, titles) if show else [])
    personals = [Personal(code=c, ratings=own.get(c, {})) for c in manifest.invited]
    return context, personals


def choose_new_round(folder: Study, requested: int | None) -> int:
    """``--round`` if given, else the round after the latest analysed one (1 if none)."""
    if requested is not None:
        return requested
    existing = folder.rounds()
    if not existing:
        return 1
    analysed = folder.analysed_rounds()
    latest = existing[-1]
    if not analysed or analysed[-1] != latest:
        if latest > 1 and not folder.has_returns(latest) and missing_pdfs(folder, latest):
            return latest  # its manifest is there (a fresh clone, say) but not its PDFs
        raise RoundStateError(f"round {latest} has no results yet: run 'delphi analyse --round "
                              f"{latest}' once its returns are in")
    return analysed[-1] + 1


def missing_pdfs(folder: Study, round_no: int) -> list[str]:
    """Invited codes of a round whose questionnaire PDF is not there."""
    pdfs = folder.round_dir(round_no) / "questionnaires"
    return [c for c in folder.manifest(round_no).invited if not (pdfs / f"{c}.pdf").is_file()]


def new_round(study: Path | str = ".", round: int | None = None, keep: Collection[str] = (),
              drop: Collection[str] = (), force: bool = False, workers: int | None = None,
              on_start: Callable[[int], None] = lambda total: None,
              on_done: Callable[[str], None] = lambda code: None) -> NewRound:
    """Build a round: decide what it asks, write its manifest and one PDF per panellist.

    Round N+1 needs round N's ``results.json``, up to date with its returns. An existing round
    is replaced only with ``force``, after moving it to a dated backup. Everything is written
    to a staging folder first, so a failed or interrupted run leaves the study as it was.
    """
    folder = Study(study)
    settings, bank, roster = folder.settings, folder.bank, folder.roster
    round_no = choose_new_round(folder, round)
    target = folder.round_dir(round_no)
    completing = False
    if target.exists() and any(target.iterdir()) and not force:
        completing = (folder.manifest_path(round_no).is_file()
                      and not folder.has_returns(round_no)
                      and bool(missing_pdfs(folder, round_no)))
        if not completing:
            raise RoundStateError(f"round {round_no} already exists "
                                  f"({folder.display(target)}); use --force to replace it (a "
                                  "dated backup is kept)")
    earlier = _earlier_results(folder, round_no)
    if earlier:
        previous = earlier[-1]
        stored = folder.stored_results(previous.round)
        if stored is None:
            raise RoundStateError(f"round {previous.round} has no results: run 'delphi analyse "
                                  f"--round {previous.round}' first")
        if stored != previous.to_json():
            raise RoundStateError(f"the results of round {previous.round} are out of date "
                                  "(its returns or settings changed since): run 'delphi "
                                  f"analyse --round {previous.round}' again first")
    plan = plan_round(settings, bank, roster, round_no, earlier, keep=keep, drop=drop)
    if completing and folder.manifest(round_no) != plan.manifest:
        raise RoundStateError(
            f"round {round_no}'s questionnaire.yaml is not what the item bank and round "
            f"{round_no - 1}'s results give now (or --keep/--drop differ); use --force to "
            "rebuild the round (a dated backup is kept)")
    context, personals = _context(folder, plan.manifest, earlier, plan.added)

    staging = folder.root / "rounds" / f".round-{round_no}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        on_start(len(personals))
        from delphi.render.pdf import render_all

        laid_out_each = render_all(folder.root, context, personals, staging / "questionnaires",
                                   workers, on_done)
        if completing:
            backup = replace_folder(folder, target / "questionnaires",
                                    staging / "questionnaires", f"round-{round_no}-pdfs")
            shutil.rmtree(staging, ignore_errors=True)
        else:
            atomic_write({staging / "questionnaire.yaml": manifest_text(plan.manifest)})
            backup = replace_round(folder, round_no, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return NewRound(folder, plan, target, len(personals), backup, completing, laid_out_each)


@dataclass(frozen=True)
class Preview:
    """The outcome of :func:`preview`: the files written."""

    html: Path
    pdf: Path


def preview(study: Path | str = ".", code: str = "", round: int | None = None,
            output: Path | None = None) -> Preview:
    """Render one panellist's questionnaire of an existing round as HTML and PDF."""
    folder = Study(study).validated()
    round = folder.latest_round(round)
    manifest = folder.manifest(round)
    matches = [c for c in manifest.invited if c.upper() == code.upper()]
    if not matches:
        raise RoundStateError(f"panellist code {code!r} was not invited to round {round}")
    earlier = _earlier_results(folder, round)
    introduced = {item.id: item.introduced for _, item in folder.bank.items()}
    added = [i for i in manifest.item_ids() if introduced.get(i) == round > 1]
    context, personals = _context(folder, manifest, earlier, added)
    me = next(p for p in personals if p.code == matches[0])
    from delphi.render.pdf import Renderer, questionnaire

    renderer = Renderer(folder.root)
    out = output or folder.round_dir(round) / "preview"
    out.mkdir(parents=True, exist_ok=True)
    html, pdf = out / f"{me.code}.html", out / f"{me.code}.pdf"
    atomic_write({html: renderer.html(context, me)})
    write_bytes(pdf, questionnaire(renderer, context, me))
    return Preview(html, pdf)


# ----------------------------------------------------------------------------- suggestions


@dataclass(frozen=True)
class Suggestions:
    """The outcome of :func:`suggestions`: counts and the review files written."""

    round: int
    suggestions: int
    comments: int
    written: list[Path]


def suggestions(study: Path | str = ".", round: int | None = None) -> Suggestions:
    """Collect a round's suggestions and comments into a review file (Markdown and CSV)."""
    from delphi.store.review import review_csv, review_markdown

    folder = Study(study).validated()
    round_no = folder.round_to_analyse(round)
    manifest = folder.manifest(round_no)
    returns = folder.returns(round_no)
    group_of = {p.code: p.group for p in folder.roster.panellists}
    md = review_markdown(folder.settings, manifest, returns, group_of)
    csv_text = review_csv(manifest, returns, group_of)
    base = folder.round_dir(round_no)
    paths = [base / "suggestions.md", base / "suggestions.csv"]
    atomic_write(dict(zip(paths, [md, csv_text], strict=True)))
    return Suggestions(round_no, sum(1 for r in returns if r.suggestions),
                       sum(len(r.comments) for r in returns), paths)


# ----------------------------------------------------------------------------- intake


def import_returns(study: Path | str = ".", files: Sequence[Path] = (), round: int | None = None,
                   replace: bool = False) -> ImportReport:
    """Import returns files (CSV, XLSX, filled PDF questionnaires); all or nothing."""
    folder = Study(study).validated()
    return import_files(folder, list(files), round=round, replace=replace)


def enter_return(study: Path | str, round_no: int, entered: PanelReturn,
                 replace: bool = False) -> ImportReport:
    """Store a paper return typed in at the keyboard (see ``delphi enter``)."""
    return import_entered(Study(study), round_no, entered, replace=replace)


def status(study: Path | str = ".", round: int | None = None) -> RoundStatus:
    """Invited, returned and outstanding per group, and attrition across rounds."""
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifests = {r: folder.manifest(r) for r in folder.rounds()}
    if round_no not in manifests:
        folder.manifest(round_no)  # raises the round's own error
    returns = {r: folder.returns(r) for r in manifests}
    return round_status(folder.settings, folder.roster, manifests, returns, round_no)


# ----------------------------------------------------------------------------- mail


@dataclass(frozen=True)
class MailRun:
    """A planned run of ``send`` or ``remind``: the plan and what it needs to go."""

    study: Study
    round: int
    mailing: Mailing
    missing_pdfs: list[str]
    default_rate: float | None


@dataclass
class MailOutcome:
    """What a run of ``send`` or ``remind`` did."""

    sent: list[str]
    failed: dict[str, str]
    outbox: Path | None = None
    bundle: Path | None = None
    bundle_pages: int = 0


def _mail_log(folder: Study, round_no: int) -> MailLog:
    path = folder.round_dir(round_no) / "mail-log.jsonl"
    return MailLog(path, folder.display(path))


def plan_mail(study: Path | str, kind: Kind, round: int | None = None,
              resend: Collection[str] = (), now: datetime | None = None) -> MailRun:
    """Who ``send`` (kind ``questionnaire``) or ``remind`` (kind ``reminder``) would mail."""
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifest = folder.manifest(round_no)
    people = folder.roster.by_code()
    unknown = sorted(set(resend) - set(manifest.invited))
    if unknown:
        raise RoundStateError(f"--resend {unknown[0]}: not invited to round {round_no}")
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
    pdfs = folder.round_dir(round_no) / "questionnaires"
    needed = mailing.recipients + (mailing.by_post if kind == "questionnaire" else [])
    missing = [p.code for p in needed if not (pdfs / f"{p.code}.pdf").is_file()]
    mail = folder.settings.mail
    return MailRun(folder, round_no, mailing, missing, mail.rate if mail else None)


def run_mail(run: MailRun, dry_run: bool = False, rate: float | None = None,
             deadline: str | None = None, now: Callable[[], datetime] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             on_done: Callable[[str, str | None], None] = lambda code, error: None
             ) -> MailOutcome:
    """Send (or, with ``dry_run``, write as .eml files) the planned messages, one by one.

    Each message is logged ``pending`` before it goes to the server and ``sent`` or ``failed``
    after, so an interrupted run can be run again without mailing anyone twice.
    """
    from delphi.mail.messages import build_message, mail_environment
    from delphi.mail.smtp import Mailer, PermanentFailure

    folder, round_no, mailing = run.study, run.round, run.mailing
    if run.missing_pdfs:
        raise RoundStateError(f"no questionnaire PDF for {', '.join(run.missing_pdfs[:5])}"
                              f"{' ...' if len(run.missing_pdfs) > 5 else ''} in "
                              f"{folder.display(folder.round_dir(round_no) / 'questionnaires')}; "
                              "write them with 'delphi new-round' (or 'delphi new-round --round "
                              f"{round_no} --force' to rebuild the round)")
    settings = folder.settings
    if settings.mail is None and not dry_run:
        raise DelphiError(Problem("no mail settings: add a 'mail:' block (host, port, "
                                  "security, sender) to send e-mail, or use --dry-run",
                                  file="study.yaml"))
    clock = now or (lambda: datetime.now().astimezone())
    sender = settings.mail.sender if settings.mail else "Delphi study <delphi@example.invalid>"
    pdfs = folder.round_dir(round_no) / "questionnaires"
    env = mail_environment(folder.root)
    log = _mail_log(folder, round_no)
    entries = log.entries()
    template = "questionnaire.txt.j2" if mailing.kind == "questionnaire" else "reminder.txt.j2"
    outcome = MailOutcome(sent=[], failed={})
    interval = 60.0 / rate if rate else 0.0
    outbox = folder.round_dir(round_no) / "outbox"
    if dry_run:
        outcome.outbox = outbox
    with Mailer(settings.mail) if settings.mail and not dry_run else _NoMailer() as mailer:
        for position, p in enumerate(mailing.recipients):
            if position and interval:
                sleep(interval)
            pdf = pdfs / f"{p.code}.pdf"
            number = reminder_number(entries, p.code)
            message = build_message(
                env, template, sender, p, pdf,
                f"delphi-round-{round_no}-{p.code}.pdf", study=settings.title, round=round_no,
                deadline=deadline, number=number)
            if dry_run:
                name = f"{p.code}-{mailing.kind}.eml"
                atomic_write({outbox / name: message.as_string()})
                outcome.sent.append(p.code)
                on_done(p.code, None)
                continue
            digest = sha256(pdf.read_bytes())
            base = {"kind": mailing.kind, "code": p.code, "to": p.email or "",
                    "file": folder.display(pdf), "sha256": digest,
                    "message_id": str(message["Message-ID"])}
            log.append(LogEntry(time=clock(), status="pending", **base))
            try:
                mailer.send(message)
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

        bundle = folder.round_dir(round_no) / "post" / f"round-{round_no}-postal-bundle.pdf"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        outcome.bundle = bundle
        outcome.bundle_pages = postal_bundle(
            folder.root, mailing.by_post, pdfs, bundle, study=settings.title, round=round_no,
            sender=sender, deadline=deadline, date=clock().strftime("%d %B %Y"))
    return outcome


class _NoMailer:
    """Stands in for the SMTP connection on a dry run: connects to nothing."""

    def __enter__(self) -> _NoMailer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, message: object) -> None:  # pragma: no cover - never called on dry runs
        raise AssertionError("a dry run sends nothing")


# ----------------------------------------------------------------------------- report

REPORT_FORMATS = ("pdf", "html", "md", "xlsx", "csv", "json", "sav")
DEFAULT_REPORT_FORMATS = ("pdf", "html", "md", "xlsx", "csv", "json")


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`report`: its data and the files written."""

    data: ReportData
    written: list[Path]


def report(study: Path | str = ".", formats: Sequence[str] = DEFAULT_REPORT_FORMATS,
           output: Path | None = None, by: Sequence[str] = (),
           min_subgroup: int = 5) -> Report:
    """The study's report over all rounds, in the formats asked for."""
    from delphi.render import report as render_report
    from delphi.store.exports import ratings_csv, report_json, spss, workbook

    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise DelphiError(f"--format {unknown[0]}: choose from {', '.join(REPORT_FORMATS)}")
    folder = Study(study).validated()
    rounds = folder.rounds()
    if not rounds:
        raise RoundStateError("no round has a questionnaire yet: there is nothing to report")
    known = {k for p in folder.roster.panellists for k in p.attributes}
    missing = [a for a in by if a not in known]
    if missing:
        raise DelphiError(f"--by {missing[0]}: no panellist has this attribute; the roster "
                          f"has {', '.join(sorted(known)) or 'none'}")
    manifests = {r: folder.manifest(r) for r in rounds}
    returns = {r: folder.returns(r) for r in rounds}
    results = {r: compute_round(folder, r, RULES) for r in rounds}
    data = build_report(folder.settings, folder.roster, manifests, returns, results,
                        attributes=by, min_subgroup=min_subgroup)
    out = output or folder.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    texts: dict[Path, str] = {}
    html_text = render_report.html(folder.root, data, results)
    if "md" in formats:
        texts[out / "report.md"] = render_report.markdown(data)
    if "html" in formats:
        texts[out / "report.html"] = html_text
    if "csv" in formats:
        texts[out / "ratings.csv"] = ratings_csv(returns, folder.roster)
    if "json" in formats:
        texts[out / "report.json"] = report_json(data)
    written = list(texts)
    atomic_write(texts)
    if "xlsx" in formats:
        workbook(out / "report.xlsx", data, results, returns, folder.roster)
        written.append(out / "report.xlsx")
    if "sav" in formats:
        spss(out / "report.sav", manifests, returns, folder.roster,
             {g.id: g.label for g in folder.settings.groups})
        written.append(out / "report.sav")
    if "pdf" in formats:
        write_bytes(out / "report.pdf", render_report.pdf(folder.root, html_text))
        written.append(out / "report.pdf")
    return Report(data, written)
