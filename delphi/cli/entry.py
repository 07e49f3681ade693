"""``delphi enter``: keyboard entry of a paper return, item by item."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from delphi import actions
from delphi.actions.intake import EntryForm
from delphi.cli.ask import ask, confirm
from delphi.core.models import PanelReturn
from delphi.errors import ExitStatus

BACK, QUIT = "b", "q"


def enter_interactively(study: Path, code: str, round: int | None, replace: bool,
                        out: Console) -> None:
    """Ask for each item's rating, show a summary, save on confirmation."""
    form = actions.entry_form(study, code, round, replace)
    lo, hi = form.settings.scale.min, form.settings.scale.max
    out.print(f"[bold]Round {form.round}, panellist {form.code}[/bold]: "
              f"{len(form.manifest.items)} items. Type a rating {lo}-{hi}; Enter for no answer; "
              f"{BACK} to go back; {QUIT} to stop without saving.")
    ratings = _ask_ratings(form, out)
    comments = _ask_comments(form, out)
    suggestions = ask("Suggestions (Enter for none)").strip() or None
    _show_summary(form, ratings, comments, suggestions, out)
    if not confirm("Save this return?"):
        out.print("Nothing was saved.")
        raise typer.Exit(ExitStatus.OK)
    entered = PanelReturn(code=form.code, ratings=ratings, comments=comments,
                          suggestions=suggestions)
    report = actions.enter_return(form.study, form.round, entered, replace=form.replace)
    verb = "replaced" if report.replaced else "saved"
    out.print(f"Return of {form.code} for round {form.round} {verb}.")


def _ask_ratings(form: EntryForm, out: Console) -> dict[str, int | None]:
    """Each item's rating in turn; ``b`` goes back one item, ``q`` stops without saving."""
    items = form.manifest.items
    lo, hi = form.settings.scale.min, form.settings.scale.max
    ratings: dict[str, int | None] = {}
    index = 0
    while index < len(items):
        item = items[index]
        current = ratings.get(item.id)
        out.print(f"\n[dim][{index + 1}/{len(items)}][/dim] [bold]{item.id}[/bold] "
                  f"{item.text}", highlight=False)
        raw = ask("  rating", default="" if current is None else str(current),
                  show_default=current is not None).strip().lower()
        if raw == QUIT:
            out.print("Stopped; nothing was saved.")
            raise typer.Exit(ExitStatus.OK)
        if raw == BACK:
            index = max(0, index - 1)
            continue
        if raw == "":
            ratings[item.id] = None
        elif raw.isdigit() and lo <= int(raw) <= hi:
            ratings[item.id] = int(raw)
        else:
            out.print(f"  [red]{raw!r} is not a rating: type a whole number from {lo} to {hi}, "
                      "or press Enter for no answer[/red]")
            continue
        index += 1
    return ratings


def _ask_comments(form: EntryForm, out: Console) -> dict[str, str]:
    """Comments on items, by item id, until an empty answer."""
    comments: dict[str, str] = {}
    ids = set(form.manifest.item_ids())
    while True:
        target = ask("\nComment on an item? Its id, or Enter to go on").strip()
        if not target:
            return comments
        if target not in ids:
            out.print(f"  [red]{target!r} is not an item of round {form.round}[/red]")
            continue
        comments[target] = ask(f"  comment on {target}").strip()


def _show_summary(form: EntryForm, ratings: dict[str, int | None], comments: dict[str, str],
                  suggestions: str | None, out: Console) -> None:
    """The return as typed in, item by item, for the coordinator to confirm."""
    summary = Table(title=f"{form.code}, round {form.round}", title_justify="left",
                    show_edge=False)
    summary.add_column("Item")
    summary.add_column("Rating", justify="right")
    summary.add_column("Comment")
    for item in form.manifest.items:
        value = ratings.get(item.id)
        summary.add_row(item.id, "–" if value is None else str(value),
                        comments.get(item.id, ""))
    out.print(summary)
    answered = sum(1 for v in ratings.values() if v is not None)
    out.print(f"{answered} of {len(form.manifest.items)} items rated"
              + (f"; suggestions: {suggestions}" if suggestions else ""), markup=False)
