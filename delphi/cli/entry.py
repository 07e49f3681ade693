"""``delphi enter``: keyboard entry of a paper return, item by item."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from delphi import actions
from delphi.core.models import PanelReturn
from delphi.errors import DelphiError, RoundStateError
from delphi.store.study import Study

BACK, QUIT = "b", "q"


def enter_interactively(study: Path, code: str, round: int | None, replace: bool,
                        out: Console) -> None:
    """Ask for each item's rating, show a summary, save on confirmation."""
    folder = Study(study)
    settings = folder.settings
    round_no = folder.latest_round(round)
    manifest = folder.manifest(round_no)
    matches = [c for c in manifest.invited if c.upper() == code.strip().upper()]
    if not matches:
        raise RoundStateError(f"panellist code {code!r} was not invited to round {round_no}")
    code = matches[0]
    earlier = next((r for r in folder.returns(round_no) if r.code == code), None)
    if earlier is not None and not replace:
        raise DelphiError(f"{code} already has a return for round {round_no} (from "
                          f"{earlier.source}); use --replace to type in a new one")
    lo, hi = settings.scale.min, settings.scale.max
    out.print(f"[bold]Round {round_no}, panellist {code}[/bold]: {len(manifest.items)} items. "
              f"Type a rating {lo}-{hi}; Enter for no answer; {BACK} to go back; {QUIT} to "
              "stop without saving.")
    ratings: dict[str, int | None] = {}
    index = 0
    while index < len(manifest.items):
        item = manifest.items[index]
        current = ratings.get(item.id)
        out.print(f"\n[dim][{index + 1}/{len(manifest.items)}][/dim] [bold]{item.id}[/bold] "
                  f"{item.text}", highlight=False)
        raw = typer.prompt("  rating", default="" if current is None else str(current),
                           show_default=current is not None).strip().lower()
        if raw == QUIT:
            out.print("Stopped; nothing was saved.")
            raise typer.Exit(0)
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

    comments: dict[str, str] = {}
    ids = set(manifest.item_ids())
    while True:
        target = typer.prompt("\nComment on an item? Its id, or Enter to go on", default="",
                              show_default=False).strip()
        if not target:
            break
        if target not in ids:
            out.print(f"  [red]{target!r} is not an item of round {round_no}[/red]")
            continue
        comments[target] = typer.prompt(f"  comment on {target}").strip()
    suggestions = typer.prompt("Suggestions (Enter for none)", default="",
                               show_default=False).strip() or None

    summary = Table(title=f"{code}, round {round_no}", title_justify="left", show_edge=False)
    summary.add_column("Item")
    summary.add_column("Rating", justify="right")
    summary.add_column("Comment")
    for item in manifest.items:
        value = ratings.get(item.id)
        summary.add_row(item.id, "–" if value is None else str(value),
                        comments.get(item.id, ""))
    out.print(summary)
    answered = sum(1 for v in ratings.values() if v is not None)
    out.print(f"{answered} of {len(manifest.items)} items rated"
              + (f"; suggestions: {suggestions}" if suggestions else ""), markup=False)
    if not typer.confirm("Save this return?", default=False):
        out.print("Nothing was saved.")
        raise typer.Exit(0)
    entered = PanelReturn(code=code, ratings=ratings, comments=comments, suggestions=suggestions)
    report = actions.enter_return(study, round_no, entered, replace=replace)
    verb = "replaced" if report.replaced else "saved"
    out.print(f"Return of {code} for round {round_no} {verb}.")
