"""Typer application. Each command: options, a docstring with an example, one library call."""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator, MutableMapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from delphi.errors import DelphiError, ExitStatus

if TYPE_CHECKING:
    from rich.console import Console

    from delphi.actions.mail import MailOutcome, MailRun
    from delphi.actions.rounds import NewRound
    from delphi.core.mailing import Content, Kind
    from delphi.core.models import RuleName

# The commands import delphi.actions (pydantic models, the store, rendering) when they run,
# not when the CLI starts, so that `delphi --help` starts quickly.

# typer vendors its own click: its usage errors are found through the public BadParameter.
UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__
                                   if c.__name__ == "UsageError")


def _usage_message(exc: Exception) -> str:
    """A usage error as one line naming the option (and, through the message, the value)."""
    param = getattr(exc, "param", None)
    message = str(getattr(exc, "message", "") or "").rstrip(".")
    opts = getattr(param, "opts", None)
    if type(exc).__name__ == "MissingParameter" or not message or not opts:
        return str(getattr(exc, "format_message", lambda: str(exc))()).rstrip(".")
    option = max(opts, key=len)
    return message if message.startswith(option) else f"{option}: {message}"


def _usage_error(exc: Exception) -> typer.Exit:
    console(stderr=True).print(f"error: {_usage_message(exc)} (see --help)", markup=False,
                               soft_wrap=True)
    return typer.Exit(ExitStatus.ERROR)


# Every command of `delphi`. typer makes a click command of each command of an app, with its
# options' types, every time the app starts; the root group below (`app`) makes only the one
# that runs, from here (benchmarks/README.md, start-up).
commands = typer.Typer()


class _Lazy(MutableMapping[str, Any]):
    """The commands in ``commands`` by name, each made into a click command when looked up.

    They are made the way typer makes a group's commands (``typer.main.get_command_from_info``).
    """

    def __init__(self, markup: Any) -> None:
        build = {"pretty_exceptions_short": commands.pretty_exceptions_short,
                 "rich_markup_mode": markup}
        self.infos = {info.name or typer.main.get_command_name(info.callback.__name__): info
                      for info in commands.registered_commands if info.callback}
        self.makers: dict[str, Callable[[], Any]] = {
            name: partial(typer.main.get_command_from_info, info, **build)
            for name, info in self.infos.items()}
        self.makers.update({
            str(group.name): partial(typer.main.get_group_from_info, group, **build,
                                     suggest_commands=commands.suggest_commands)
            for group in commands.registered_groups})
        self.made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.made:
            self.made[name] = self.makers[name]()
        return self.made[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.made[name] = command
        self.makers.setdefault(name, lambda: command)

    def __delitem__(self, name: str) -> None:
        del self.makers[name]
        self.made.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.makers)

    def __len__(self) -> int:
        return len(self.makers)

    def hidden(self, name: str) -> bool:
        """Whether a command is left out of ``delphi --help``, without making it."""
        info = self.infos.get(name)
        return bool(self[name].hidden if info is None or name in self.made else info.hidden)

    def short_help(self, name: str, limit: int) -> str:
        """A command's line in ``delphi --help``, without making it.

        The line is the docstring's first sentence, as click cuts it.
        """
        info = self.infos.get(name)
        if info is None or name in self.made:
            return str(self[name].get_short_help_str(limit))
        text = inspect.cleandoc(info.help) if info.help else inspect.getdoc(info.callback)
        summary = TyperCommand(name, help=text, short_help=info.short_help,
                               deprecated=info.deprecated)
        return summary.get_short_help_str(limit)


class _Commands(TyperGroup):
    """The root group: the one place where user errors become a message and an exit status.

    It makes a click command of the command that runs only (``_Lazy``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _Lazy(self.rich_markup_mode)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of commands in --help, as typer writes it, without making them."""
        lazy = self.commands
        assert isinstance(lazy, _Lazy)
        names = [name for name in self.list_commands(ctx) if not lazy.hidden(name)]
        if names:
            limit = formatter.width - 6 - max(map(len, names))
            rows = [(name, lazy.short_help(name, limit)) for name in names]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise  # plain `delphi`: the help, as asked
            raise _usage_error(exc) from None

    def invoke(self, ctx: Any) -> Any:  # click.Context; typer may vendor its own click
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise
            raise _usage_error(exc) from None
        except DelphiError as exc:
            if isinstance(ctx.obj, dict) and ctx.obj.get("traceback"):
                raise
            err = console(stderr=True)
            for problem in exc.problems:
                err.print(f"error: {problem}", markup=False, soft_wrap=True)
            raise typer.Exit(ExitStatus.ERROR) from None
        except KeyboardInterrupt:
            console(stderr=True).print("interrupted; nothing was half-written", markup=False)
            raise typer.Exit(ExitStatus.INTERRUPTED) from None


app = typer.Typer(
    cls=_Commands,
    name="delphi",
    help="Run Delphi consensus studies: validate the study folder, analyse rounds, build the "
    "next round's questionnaires, mail them, take returns in.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a crash must never print panel data
    # Plain click help: typer's rich help imports rich and markdown-it, which doubled the
    # start-up of `delphi --help` (benchmarks/README.md). Tables and progress stay rich.
    rich_markup_mode=None,
    context_settings={"max_content_width": 110},
    add_completion=False,
)

def _study_folder(value: Path) -> Path:
    """--study must name an existing folder."""
    if not value.exists():
        raise typer.BadParameter(f"--study {value}: no such folder")
    if not value.is_dir():
        raise typer.BadParameter(f"--study {value}: is a file; give the study's folder")
    return value


def _whole(option: str, why: str) -> Callable[[str], int]:
    """A parser of a whole number of 1 or more; errors name the option and the value."""

    def parse(text: str) -> int:
        text = str(text)  # a default comes in as the number itself
        if not re.fullmatch(r"[0-9]+", text.strip()):
            raise typer.BadParameter(f"{option} {text!r}: not a whole number; {why}")
        if len(text.strip()) > 9:
            raise typer.BadParameter(f"{option} {text.strip()}: too large")
        if int(text) < 1:
            raise typer.BadParameter(f"{option} {int(text)}: {why}")
        return int(text)

    return parse


def _rate(text: str) -> float:
    text = str(text)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 100_000:  # nan fails too
        raise typer.BadParameter(f"--rate {text!r}: give messages per minute, from 0.1 to "
                                 "100000")
    return value


_round_number = _whole("--round", "rounds are numbered from 1")


StudyOption = Annotated[
    Path,
    typer.Option("--study", "-s", help="The study folder.", show_default=True,
                 metavar="DIR", callback=_study_folder),
]
LatestRoundOption = Annotated[int | None, typer.Option(
    "--round", "-r", parser=_round_number, metavar="N", show_default=False,
    help="Round (default: the latest with a questionnaire).")]
RoundOption = Annotated[
    int | None,
    typer.Option("--round", "-r", help="Round number (default: the latest with returns).",
                 parser=_round_number, show_default=False, metavar="N"),
]


def console(stderr: bool = False) -> Console:
    """A console at most 100 columns wide, so tables lay out the same everywhere.

    No emoji codes: a name or comment holding ``:x:`` is printed as written.
    """
    from rich.console import Console  # not at start-up: `delphi --help` does not need rich

    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=min(probe.width, 100), highlight=False, emoji=False)


@app.callback()
def _root(
    ctx: typer.Context,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show Python tracebacks "
                                            "instead of one-line errors (for developers).")]
    = False,
) -> None:
    """Run Delphi consensus studies: validate the study folder, analyse rounds.

    Every command acts on the study folder given by --study (default: here).
    """
    ctx.obj = {"traceback": traceback}


@commands.command()
def analyse(
    study: StudyOption = Path("."),
    round: RoundOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as one JSON "
                                          "object (the contract's format).")] = False,
    rules: Annotated[str | None, typer.Option(
        "--rules", help="Compare consensus rules side by side, e.g. "
        "banded,comet,rand-ucla,iqr (the study's own rule decides).",
        show_default=False)] = None,
) -> None:
    """Statistics of a round: median, IQR, band shares and consensus per item and group.

    Writes rounds/round-N/results.json and results.csv (one row per item and group). From
    round 2 on, each item asked before also gets its stability since the previous round.

    Example: delphi analyse --round 2 --rules banded,comet,rand-ucla,iqr
    """
    from delphi import actions

    chosen = _rule_names(rules) if rules else []
    outcome = actions.analyse(study=study, round=round, rules=chosen)
    if as_json:
        sys.stdout.write(outcome.json)
        return
    from delphi.cli.views import analysis_view

    out = console()
    out.print(analysis_view(outcome.result, outcome.manifest, outcome.study.settings))
    written = ", ".join(outcome.study.display(p) for p in outcome.written)
    out.print(f"[dim]Wrote {written}[/dim]")


def _rule_names(text: str) -> list[RuleName]:
    """Parse --rules; an unknown name is an error that lists the known ones."""
    from delphi.core.rules import RULES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in RULES]
    if unknown or not names:
        raise DelphiError(f"--rules: unknown rule {unknown[0] if unknown else text!r}; "
                          f"choose from {', '.join(RULES)}")
    return [n for n in RULES if n in names]


@commands.command("new-round")
def new_round(
    study: StudyOption = Path("."),
    round: Annotated[int | None, typer.Option(
        "--round", "-r", parser=_round_number, metavar="N", show_default=False,
        help="Round to build (default: the one after the latest analysed round; 1 if none).",
    )] = None,
    keep: Annotated[list[str] | None, typer.Option(
        "--keep", metavar="ID",
        help="Ask this item again although it reached consensus (repeatable).",
    )] = None,
    drop: Annotated[list[str] | None, typer.Option(
        "--drop", metavar="ID",
        help="Leave this item out although it did not reach consensus (repeatable).",
    )] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing round, keeping a dated backup of it.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", parser=_whole("--workers", "at least 1 process lays out PDFs"),
        metavar="N",
        help="Processes laying out PDFs when a study's own template cannot be laid out once "
        "for everyone (default: one per core).",
    )] = None,
) -> None:
    """Build the next round: its manifest and one personalised PDF questionnaire per panellist.

    Items that reached consensus drop out; each panellist sees their own previous rating,
    the group median and IQR, and a statement where the stakeholder groups diverge.

    Example: delphi new-round --drop 2.6 --keep 3.6
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from delphi import actions

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console(stderr=True),
                  transient=True) as progress:
        task = progress.add_task("Laying out the questionnaire", total=None)
        outcome = actions.new_round(
            study=study, round=round, keep=keep or [], drop=drop or [], force=force,
            workers=workers,
            on_start=lambda total: progress.update(task, total=total,
                                                   description="Writing questionnaires"),
            on_done=lambda code: progress.advance(task))
    _print_new_round(outcome, console())


def _print_new_round(outcome: NewRound, out: Console) -> None:
    """What ``new-round`` did: the round's items, what changed and why, the files written."""
    plan, folder = outcome.plan, outcome.study
    manifest = plan.manifest
    items = len(manifest.items)
    out.print(f"[bold]Round {manifest.round}[/bold]: {items} item{'s' if items != 1 else ''}, "
              f"{len(manifest.invited)} panellists invited.")
    for item_id, why in plan.dropped.items():
        out.print(f"  dropped {item_id}: {why}", markup=False)
    for label, ids in (("new", plan.added), ("reworded", plan.reworded),
                       ("kept despite consensus", plan.kept)):
        if ids:
            out.print(f"  {label}: {', '.join(ids)}", markup=False)
    if outcome.completed:
        out.print(f"Round {manifest.round}'s questionnaire.yaml was already there and is what "
                  "the rules give; its PDFs were missing and are now written.", markup=False,
                  soft_wrap=True)
    elif outcome.backup:
        out.print(f"Replaced the earlier round {manifest.round}; backup in "
                  f"{folder.display(outcome.backup)}", markup=False)
    if outcome.laid_out_each:
        out.print(f"Note: each questionnaire was laid out on its own, which is slow, because "
                  f"{outcome.laid_out_each}.", markup=False, soft_wrap=True)
    manifest_file = folder.display(folder.manifest_path(manifest.round))
    wrote = "" if outcome.completed else f"{manifest_file} and "
    out.print(f"Wrote {wrote}{outcome.pdfs} PDFs in "
              f"{folder.display(folder.questionnaires_dir(manifest.round))}", markup=False,
              soft_wrap=True)


@commands.command()
def preview(
    code: Annotated[str, typer.Argument(help="The panellist's code.", show_default=False)],
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", file_okay=False,
        help="Folder for the files (default: rounds/round-N/preview).")] = None,
) -> None:
    """Render one panellist's questionnaire as HTML and PDF, to check it before sending.

    Example: delphi preview EA01 --round 2
    """
    from delphi import actions

    outcome = actions.preview(study=study, code=code, round=round, output=output)
    console().print(f"Wrote {outcome.html} and {outcome.pdf}", markup=False)


@commands.command()
def suggestions(
    study: StudyOption = Path("."),
    round: RoundOption = None,
) -> None:
    """Collect a round's suggestions and comments into a review file (Markdown and CSV).

    Writes rounds/round-N/suggestions.md and suggestions.csv, so the coordinator can turn
    suggestions into new items (add them to the item bank with introduced: N+1).

    Example: delphi suggestions --round 1
    """
    from delphi import actions

    outcome = actions.suggestions(study=study, round=round)
    console().print(f"Round {outcome.round}: {outcome.suggestions} suggestions and "
                    f"{outcome.comments} comments. Wrote "
                    + ", ".join(str(p) for p in outcome.written), markup=False)


@commands.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="CSV, XLSX or filled PDF files.",
                                                show_default=False)],
    study: StudyOption = Path("."),
    round: Annotated[int | None, typer.Option(
        "--round", "-r", parser=_round_number, metavar="N", show_default=False,
        help="Round (default: the PDFs' own round, else the latest with a questionnaire).",
    )] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace a panellist's earlier, different return (kept in history).",
    )] = False,
) -> None:
    """Import returns: CSV (wide or long), XLSX (first sheet, wide) or filled PDF questionnaires.

    All files are checked first; if any has a problem, nothing is imported and every problem
    is listed. Importing the same file again changes nothing.

    Example: delphi import returns/*.pdf late-returns.xlsx
    """
    from delphi import actions

    report = actions.import_returns(study=study, files=files, round=round, replace=replace)
    out = console()
    for name, when in report.already_imported:
        out.print(f"{name}: already imported ({when}); nothing to do", markup=False)
    parts = [f"{len(report.added)} new"]
    if report.replaced:
        parts.append(f"{len(report.replaced)} replaced ({', '.join(report.replaced)})")
    if report.unchanged:
        parts.append(f"{len(report.unchanged)} unchanged")
    out.print(f"Round {report.round}: " + ", ".join(parts) + " return"
              + ("s" if len(report.added) != 1 else "") + ".", markup=False)


@commands.command()
def status(
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    names: Annotated[bool, typer.Option(
        "--names", help="Show the names of outstanding panellists (codes only by default).",
    )] = False,
) -> None:
    """Invited, returned and outstanding per stakeholder group, response rates and attrition.

    Example: delphi status --round 2
    """
    from delphi import actions

    result = actions.status(study=study, round=round)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(names=names), indent=2) + "\n")
        return
    from delphi.cli.views import status_view

    console().print(status_view(result, names=names))


@commands.command()
def enter(
    code: Annotated[str, typer.Argument(help="The panellist's code, as on the paper form.",
                                        show_default=False)],
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace this panellist's earlier return (kept in history).",
    )] = False,
) -> None:
    """Type in a paper return, item by item, then confirm it before it is saved.

    At each item type a rating, press Enter for no answer, b to go back, or q to stop
    without saving.

    Example: delphi enter SU05 --round 2
    """
    from delphi.cli.entry import enter_interactively

    enter_interactively(study, code, round, replace, console())


def _mail_command(kind: Kind, study: Path, round: int | None, dry_run: bool, yes: bool,
                  rate: float | None, deadline: str | None, resend: list[str],
                  send_as: Content | None) -> None:
    """The shared body of ``send`` and ``remind``: plan, show, confirm, send, report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from delphi import actions
    from delphi.cli.ask import confirm

    out, err = console(), console(stderr=True)
    run = actions.plan_mail(study, kind, round=round, resend=resend, send_as=send_as)
    mailing = run.mailing
    what = "questionnaires" if kind == "questionnaire" else "reminders"
    _print_mail_plan(run, what, out, err)
    if not mailing.recipients and not (kind == "questionnaire" and mailing.by_post):
        out.print("Nothing to send.")
        return
    if not dry_run and not yes and not confirm(
            "Send now?", undone="nothing was sent (--yes sends without asking)"):
        out.print("Nothing was sent.")
        raise typer.Exit(ExitStatus.OK)
    rate = rate or run.default_rate
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        bundle = progress.add_task("Building the print bundle", visible=False)  # comes first
        task = progress.add_task("Writing .eml files" if dry_run else "Sending",
                                 total=len(mailing.recipients))
        outcome = actions.run_mail(
            run, dry_run=dry_run, rate=rate, deadline=deadline,
            on_done=lambda code, error: progress.advance(task),
            on_bundle_start=lambda total: progress.reset(bundle, total=total, visible=True),
            on_bundle_done=lambda code: progress.advance(bundle))
    verb = "wrote" if dry_run else "sent"
    out.print(f"{verb.capitalize()} {len(outcome.sent)} {what}"
              + (f" to {outcome.outbox}" if outcome.outbox else "") + ".", markup=False)
    if outcome.bundle:
        _print_bundle(outcome, len(mailing.by_post), out)
    for code, error in outcome.failed.items():
        err.print(f"failed: {code}: {error}", markup=False)
    for code in outcome.uncertain:
        err.print(f"warning: {code}: the connection dropped while the message was handed over; "
                  "it may have gone out. Check the server's log; --resend " + code +
                  " sends again.", markup=False)
    if outcome.failed:
        err.print(f"{len(outcome.failed)} could not be sent: correct their addresses in the "
                  "roster and run the command again.", style="bold red")
    if outcome.failed or outcome.uncertain:
        raise typer.Exit(ExitStatus.ERROR)


def _print_bundle(outcome: MailOutcome, postal: int, out: Console) -> None:
    """Where the print bundle is, and whether this run built it, built it again, or reused it."""
    head = (f"Print bundle for {postal} postal panellist{'s' if postal != 1 else ''}: "
            f"{outcome.bundle} ({outcome.bundle_pages} pages)")
    if outcome.bundle_reused:
        built = f"{outcome.bundle_built:%Y-%m-%d %H:%M}" if outcome.bundle_built else "earlier"
        out.print(f"{head}, unchanged since it was built {built}: used again.", markup=False,
                  soft_wrap=True)
        return
    out.print(f"{head}.", markup=False, soft_wrap=True)
    if outcome.bundle_rebuilt:
        out.print("  built again: " + "; ".join(outcome.bundle_rebuilt) + ". If you printed "
                  "the earlier one, print this one instead.", markup=False, soft_wrap=True)


def _print_mail_plan(run: MailRun, what: str, out: Console, err: Console) -> None:
    """Who ``send`` or ``remind`` will mail, who not again and why, who by post."""
    mailing, kind = run.mailing, run.mailing.kind
    out.print(f"[bold]Round {run.round}[/bold]: {len(mailing.recipients)} {what} to e-mail"
              + (f" ({run.with_links} with a private link)" if run.with_links else "")
              + (f", {len(mailing.skipped)} not again" if mailing.skipped else "")
              + (f"; {len(mailing.by_post)} by post" if mailing.by_post else "") + ".")
    for code, why in mailing.skipped.items():
        if kind == "reminder" or len(mailing.skipped) <= 10:
            out.print(f"  {code}: {why}", markup=False)
    for code in mailing.uncertain:
        err.print(f"warning: {code}: an earlier run was interrupted while mailing them; it "
                  "may have gone out. Check the server's log; --resend " + code + " sends again.",
                  markup=False)
    if kind == "reminder" and mailing.by_post:
        out.print("  by post, no return yet: " + ", ".join(p.code for p in mailing.by_post),
                  markup=False)
    if kind == "reminder":
        out.print("  to be reminded: " + (", ".join(p.code for p in mailing.recipients)
                                          or "nobody"), markup=False)


DryRunOption = Annotated[bool, typer.Option(
    "--dry-run", help="Write one .eml file per message to rounds/round-N/outbox; connect to "
    "nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before sending.")]
RateOption = Annotated[float | None, typer.Option(
    "--rate", parser=_rate, metavar="N",
    help="At most this many messages per minute (default: mail.rate in study.yaml, else no "
    "limit).")]
DeadlineOption = Annotated[str | None, typer.Option(
    "--deadline", help="Return-by date to print in the messages: 2027-01-12 (written out in "
    "the panel's language) or any text, e.g. '12 January'.")]
SendAsOption = Annotated[str | None, typer.Option(
    "--as", metavar="pdf|link|both", show_default=False,
    help="What every message carries: the PDF questionnaire, a private link to answer on the "
    "web (delphi serve), or both (default: a link for delivery: web, the PDF otherwise).")]


def _send_as(value: str | None) -> Content | None:
    if value is None:
        return None
    if value not in ("pdf", "link", "both"):
        raise DelphiError(f"--as {value}: choose pdf, link or both")
    return value  # type: ignore[return-value]  # checked just above


@commands.command()
def send(
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    rate: RateOption = None,
    deadline: DeadlineOption = None,
    resend: Annotated[list[str] | None, typer.Option(
        "--resend", metavar="CODE",
        help="Send this panellist's questionnaire again (repeatable).")] = None,
    send_as: SendAsOption = None,
) -> None:
    """E-mail each panellist their own questionnaire; a print bundle for postal ones.

    Running it again sends only what was not sent; the mail log is rounds/round-N/mail-log.jsonl.
    The print bundle is built once per round and used again until a postal panellist, their
    questionnaire or cover letter, or the --deadline changes.
    SMTP settings come from study.yaml (mail:), the login from DELPHI_SMTP_USER and
    DELPHI_SMTP_PASSWORD. Panellists with delivery: web get a private link to answer in a
    browser (delphi serve) instead of the PDF; --as chooses for everyone.

    Example: delphi send --dry-run --as both
    """
    _mail_command("questionnaire", study, round, dry_run, yes, rate, deadline, resend or [],
                  _send_as(send_as))


@commands.command()
def remind(
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    rate: RateOption = None,
    deadline: DeadlineOption = None,
    send_as: SendAsOption = None,
) -> None:
    """Remind panellists who have not returned their questionnaire (at most twice by default).

    Lists who will be reminded and asks before sending. mail.max_reminders and
    mail.reminder_gap_days in study.yaml set how often.

    Example: delphi remind --deadline "12 January"
    """
    _mail_command("reminder", study, round, dry_run, yes, rate, deadline, [], _send_as(send_as))


@commands.command()
def report(
    study: StudyOption = Path("."),
    format: Annotated[str, typer.Option(
        "--format", "-f", help="Comma-separated: pdf, html, md, xlsx, csv, json, sav (SPSS; "
        "needs the sav extra).")]
    = "pdf,html,md,xlsx,csv,json",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", file_okay=False, help="Folder for the files (default: report/).")]
    = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Roster attributes for subgroup differences, e.g. background,approach.",
        show_default=False)] = None,
    min_subgroup: Annotated[int, typer.Option(
        "--min-subgroup", metavar="N", help="Smallest subgroup reported (anonymity).",
        parser=_whole("--min-subgroup", "the smallest subgroup shown must be 1 or more"))] = 5,
) -> None:
    """The study's report over all rounds: response, consensus items, rankings, differences.

    Example: delphi report --by background,approach --format pdf,xlsx
    """
    from delphi import actions

    formats = [f.strip().lower() for f in format.split(",") if f.strip()]
    attributes = [a.strip() for a in (by or "").split(",") if a.strip()]
    outcome = actions.report(study=study, formats=formats, output=output, by=attributes,
                             min_subgroup=min_subgroup)
    t = outcome.data.totals
    console().print(f"{outcome.data.study}: {t.reached} of {t.asked} items reached consensus "
                    f"over {len(outcome.data.rounds)} round(s); "
                    f"{len(outcome.data.notable)} notable subgroup differences.", markup=False)
    for path in outcome.written:
        console().print(f"Wrote {path}", markup=False)


@commands.command()
def links(
    codes: Annotated[list[str] | None, typer.Argument(
        metavar="[CODE]...", show_default=False,
        help="Only these panellists (default: everyone invited to the round).")] = None,
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, "
                                          '{"<code>": "<url>", ...}.')] = False,
    revoke: Annotated[list[str] | None, typer.Option(
        "--revoke", metavar="CODE",
        help="Stop every link of this panellist for the round (repeatable); with CODE "
        "arguments as well, new links are issued after.")] = None,
) -> None:
    """Print each invited panellist's private link to answer the round on the web.

    The links are shown only now: delphi keeps only their hashes (in
    rounds/round-N/web/links.jsonl). Running the command again issues new links; the
    earlier ones keep working until revoked. The address comes from web.base_url in
    study.yaml; panellists reach it through `delphi serve` behind a TLS proxy.

    Example: delphi links --round 2 --json > links.json
    """
    from delphi import actions

    outcome = actions.links(study=study, round=round, codes=codes or [], revoke=revoke or [])
    err = console(stderr=True)
    for code in outcome.revoked:
        err.print(f"Revoked every earlier link of {code} for round {outcome.round}.",
                  markup=False)
    if as_json:
        sys.stdout.write(json.dumps(outcome.links, indent=2) + "\n")
    else:
        width = max((len(c) for c in outcome.links), default=0)
        for code, url in outcome.links.items():
            sys.stdout.write(f"{code:<{width}}  {url}\n")
    if outcome.links:
        err.print(f"Round {outcome.round}: {len(outcome.links)} private link"
                  f"{'s' if len(outcome.links) != 1 else ''}. They are shown only now (delphi "
                  f"keeps their hashes in {outcome.study.display(outcome.log)}); earlier links "
                  "keep working until revoked with --revoke CODE.", markup=False,
                  soft_wrap=True)
    if outcome.links and not outcome.configured:
        err.print(f"warning: web.base_url is not set in study.yaml, so these links point at "
                  f"{outcome.base_url}, which only this computer reaches. Set it to the address "
                  "panellists use (see the README on serving behind a TLS proxy).",
                  markup=False, soft_wrap=True)


@commands.command()
def serve(
    study: StudyOption = Path("."),
    round: LatestRoundOption = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; another than 127.0.0.1 only if you name it "
        "(put a TLS reverse proxy in front).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]
    = 8765,
) -> None:
    """Serve the panellists' private links: each opens its own questionnaire in a browser.

    The page shows the same feedback as the PDF. Answers are kept as drafts until sent; a
    sent return goes through the same checks, store and log as `delphi import` (source
    web). Give out the links with `delphi links` or `delphi send`. Ctrl-C stops.

    Example: delphi serve --round 2 --port 8765
    """
    from datetime import datetime

    from delphi.web.app import create_app, serve_forever

    out = console()

    def event(text: str) -> None:
        out.print(f"{datetime.now():%H:%M:%S} {text}", markup=False, soft_wrap=True)

    application = create_app(study, round, on_event=event)
    out.print(f"Serving round {application.round} of \"{application.title}\" "
              f"({application.invited} panellists invited) on http://{host}:{port}; links "
              f"point at {application.base_url}. Ctrl-C stops.", markup=False, soft_wrap=True)
    if application.later:
        console(stderr=True).print(
            f"warning: round {application.round} is not the latest (round "
            f"{application.later[-1]} has a questionnaire); returns sent now make its results "
            f"out of date: run 'delphi analyse --round {application.round}' afterwards.",
            markup=False, soft_wrap=True)
    serve_forever(application, host, port)


@commands.command()
def validate(study: StudyOption = Path(".")) -> None:
    """Check every file of the study folder and list every problem, not only the first.

    Exit status 2 if there is any problem.

    Example: delphi validate --study examples/full-study
    """
    from delphi import actions

    problems = actions.validate(study=study)
    if problems:
        err = console(stderr=True)
        for problem in problems:
            err.print(str(problem), markup=False, soft_wrap=True)
        noun = "problem" if len(problems) == 1 else "problems"
        err.print(f"{len(problems)} {noun} found.", style="bold red")
        raise typer.Exit(ExitStatus.ERROR)
    console().print(f"{study}: the study folder is valid.", markup=False)


@commands.command()
def init(
    folder: Annotated[Path, typer.Argument(
        help="The new study's folder (made if it does not exist).", show_default=True,
        metavar="DIR")] = Path("."),
    title: Annotated[str | None, typer.Option(
        "--title", help="The study's title (default: from the folder's name).",
        show_default=False)] = None,
) -> None:
    """Start a study: study.yaml, an empty item bank and an empty roster, every field explained.

    Never overwrites a study. Then add the panel and the statements from spreadsheets
    (delphi panel import, delphi items import) and build round 1 (delphi new-round --round 1).

    Example: delphi init pd-services --title "Community services"
    """
    from delphi import actions

    outcome = actions.init_study(folder, title)
    at = "" if folder == Path(".") else f" --study {folder}"
    out = console()
    out.print(f"Created the study {outcome.title!r} in {folder}: "
              + ", ".join(outcome.study.display(p) for p in outcome.written), markup=False,
              soft_wrap=True)
    out.print("Next:\n"
              f"  1. edit {folder / 'study.yaml'}: the title, scale, bands and stakeholder "
              "groups\n"
              f"  2. delphi panel import panel.xlsx{at}   (columns name, email, group; "
              "optional code, delivery, address and any attribute)\n"
              f"  3. delphi items import statements.csv{at}   (columns section, id, text, "
              "section_title; optional kind)\n"
              f"  4. delphi validate{at}, then delphi new-round --round 1{at}",
              markup=False, soft_wrap=True)


panel_app = typer.Typer(
    cls=TyperGroup, no_args_is_help=True, rich_markup_mode=None,
    help="Change the panel: add panellists from a spreadsheet, record a withdrawal.\n\n"
    "Example: delphi panel withdraw EX03 --reason \"moved abroad\"")
items_app = typer.Typer(
    cls=TyperGroup, no_args_is_help=True, rich_markup_mode=None,
    help="Change the item bank: add statements from a spreadsheet.\n\n"
    "Example: delphi items import statements.csv")
commands.add_typer(panel_app, name="panel")
commands.add_typer(items_app, name="items")

SheetArgument = Annotated[Path, typer.Argument(help="A CSV (UTF-8) or XLSX file.",
                                               show_default=False, metavar="FILE")]


@panel_app.command("import")
def panel_import(file: SheetArgument, study: StudyOption = Path(".")) -> None:
    """Add panellists from a spreadsheet to the roster: all or nothing.

    Columns: name, email, group, and optionally code, delivery (email, web or post), address;
    any other column is an attribute, ';' separating several values. A missing code is made
    from the group (EX01, EX02, ...). Every problem is listed with its row; importing the
    same file again changes nothing.

    Example: delphi panel import panel.xlsx
    """
    from delphi import actions

    outcome = actions.import_panel(study, file)
    out = console()
    if not _said_added(out, file, "panellist", "on the roster", len(outcome.added),
                       len(outcome.unchanged), outcome.roster_file, ":"):
        return
    for gid, label in ((g.id, g.label) for g in outcome.study.settings.groups):
        codes = [p.code for p in outcome.added if p.group == gid]
        if codes:
            out.print(f"  {label}: " + ", ".join(codes), markup=False, soft_wrap=True)


@panel_app.command("withdraw")
def panel_withdraw(
    code: Annotated[str, typer.Argument(help="The panellist's code.", show_default=False)],
    study: StudyOption = Path("."),
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why, for the record (kept in the roster, shown by status --names).",
        show_default=False)] = None,
) -> None:
    """Record that a panellist has withdrawn: never invited, mailed or reminded again.

    From the next round on they are not invited; send and remind skip them from now on, in
    this round too, and their private links to answer on the web stop working. Returns they
    gave stay in the study and are analysed; status and the report count the withdrawn apart
    from those who did not answer.

    Example: delphi panel withdraw EX03 --reason "moved abroad"
    """
    from delphi import actions

    outcome = actions.withdraw(study, code, reason)
    p, w = outcome.panellist, outcome.panellist.withdrawn
    assert w is not None
    out = console()
    if outcome.already:
        out.print(f"{p.code} withdrew already, on {w.date}; nothing to do.", markup=False)
        return
    invited = (f"not invited from round {outcome.next_round} on" if w.round
               else "not invited to any round")
    kept = ""
    if outcome.returned:
        rounds = ", ".join(map(str, outcome.returned))
        kept = (f" Their return{'s' if len(outcome.returned) > 1 else ''} to round"
                f"{'s' if len(outcome.returned) > 1 else ''} {rounds} stay"
                f"{'' if len(outcome.returned) > 1 else 's'} in the study and "
                f"{'are' if len(outcome.returned) > 1 else 'is'} analysed.")
    links = (f" Their private link{'s' if len(outcome.links_revoked) > 1 else ''} to answer "
             "on the web no longer work" + ("s" if len(outcome.links_revoked) == 1 else "") + "."
             if outcome.links_revoked else "")
    out.print(f"{p.code} withdrew on {w.date}: {invited}, and never mailed or reminded "
              f"again.{kept}{links} Recorded in {outcome.roster_file}.", markup=False,
              soft_wrap=True)


def _said_added(out: Console, file: Path, noun: str, there: str, added: int, unchanged: int,
                where: str, end: str) -> bool:
    """Print what an import added (or that it added nothing); whether it added anything."""
    if not added:
        out.print(f"Nothing to add: the {unchanged} {noun}s of {file} are {there} already.",
                  markup=False, soft_wrap=True)
        return False
    out.print(f"Added {added} {noun}{'s' if added != 1 else ''} to {where}"
              + (f" ({unchanged} already there)" if unchanged else "") + end, markup=False,
              soft_wrap=True)
    return True


@items_app.command("import")
def items_import(file: SheetArgument, study: StudyOption = Path(".")) -> None:
    """Add statements from a spreadsheet to the item bank: all or nothing.

    Columns: section (its id), id, text, and optionally section_title (needed for a new
    section) and kind (rating, ranking, ...). Ids are kept as text, so 1.10 stays 1.10. Every
    problem is listed with its row; importing the same file again changes nothing.

    Example: delphi items import statements.csv
    """
    from delphi import actions

    outcome = actions.import_items(study, file)
    out = console()
    if not _said_added(out, file, "statement", "in the item bank", len(outcome.added),
                       len(outcome.unchanged), ", ".join(outcome.files),
                       f"; new sections: {', '.join(outcome.new_sections)}."
                       if outcome.new_sections else "."):
        return
    if outcome.introduced > 1:
        out.print(f"They are first asked in round {outcome.introduced} (introduced: "
                  f"{outcome.introduced}), as round {outcome.introduced - 1} is built already.",
                  markup=False, soft_wrap=True)


def main() -> None:
    """Entry point of the ``delphi`` console script and ``python -m delphi``."""
    app()
