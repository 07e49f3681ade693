"""Typer application. Each command: options, a docstring with an example, one library call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from delphi import actions
from delphi.cli.views import analysis_view
from delphi.errors import DelphiError

# Named exit codes (as httpie does): 2 is every error the user can fix.
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

class _Commands(TyperGroup):
    """The one place where user errors become a message and an exit status."""

    def invoke(self, ctx: Any) -> Any:  # click.Context; typer may vendor its own click
        try:
            return super().invoke(ctx)
        except DelphiError as exc:
            if isinstance(ctx.obj, dict) and ctx.obj.get("traceback"):
                raise
            err = console(stderr=True)
            for problem in exc.problems:
                err.print(f"error: {problem}", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            console(stderr=True).print("interrupted; nothing was half-written", markup=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=_Commands,
    name="delphi",
    help="Run Delphi consensus studies: validate the study folder, analyse rounds.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a crash must never print panel data
    rich_markup_mode="rich",
    add_completion=False,
)

StudyOption = Annotated[
    Path,
    typer.Option("--study", "-s", help="The study folder.", show_default=True,
                 file_okay=False),
]
RoundOption = Annotated[
    int | None,
    typer.Option("--round", "-r", help="Round number (default: the latest with returns).",
                 min=1, show_default=False),
]


def console(stderr: bool = False) -> Console:
    """A console at most 100 columns wide, so tables lay out the same everywhere."""
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=min(probe.width, 100), highlight=False)


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


@app.command()
def analyse(
    study: StudyOption = Path("."),
    round: RoundOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as one JSON "
                                          "object (the contract's format).")] = False,
) -> None:
    """Statistics of a round: median, IQR, band shares and consensus per item and group.

    Writes rounds/round-N/results.json and results.csv (one row per item and group).

    Example: delphi analyse --round 1
    """
    outcome = actions.analyse(study=study, round=round)
    if as_json:
        sys.stdout.write(json.dumps(outcome.result.to_json(), indent=2, ensure_ascii=False)
                         + "\n")
        return
    out = console()
    out.print(analysis_view(outcome.result, outcome.manifest, outcome.study.settings))
    written = ", ".join(outcome.study.display(p) for p in outcome.written)
    out.print(f"[dim]Wrote {written}[/dim]")


@app.command()
def validate(study: StudyOption = Path(".")) -> None:
    """Check every file of the study folder and list every problem, not only the first.

    Exit status 2 if there is any problem.

    Example: delphi validate --study my-study
    """
    problems = actions.validate(study=study)
    if problems:
        err = console(stderr=True)
        for problem in problems:
            err.print(str(problem), markup=False, soft_wrap=True)
        noun = "problem" if len(problems) == 1 else "problems"
        err.print(f"{len(problems)} {noun} found.", style="bold red")
        raise typer.Exit(EXIT_ERROR)
    console().print(f"{study}: the study folder is valid.", markup=False)


def main() -> None:
    """Entry point of the ``delphi`` console script and ``python -m delphi``."""
    app()
