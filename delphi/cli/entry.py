"""``delphi enter``: keyboard entry of a paper return, item by item."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from delphi import actions
from delphi.actions.intake import EntryForm
from delphi.cli.ask import ask, confirm
from delphi.cli.views import plain
from delphi.core.answers import Question, questions
from delphi.core.models import Answer, PanelReturn
from delphi.errors import ExitStatus

BACK, QUIT = "b", "q"


def enter_interactively(study: Path, code: str, round: int | None, replace: bool,
                        out: Console) -> None:
    """Ask for each answer in turn, show a summary, save on confirmation."""
    form = actions.entry_form(study, code, round, replace)
    asked = questions(form.settings, form.manifest)
    out.print(f"[bold]Round {form.round}, panellist {form.code}[/bold]: {len(asked)} answers "
              f"to type in. Enter for no answer; {BACK} to go back; {QUIT} to stop without "
              "saving.")
    answers = _ask_answers(asked, out)
    comments = _ask_comments(form, out)
    suggestions = ask("Suggestions (Enter for none)").strip() or None
    _show_summary(form, asked, answers, comments, suggestions, out)
    if not confirm("Save this return?"):
        out.print("Nothing was saved.")
        raise typer.Exit(ExitStatus.OK)
    entered = PanelReturn(
        code=form.code, comments=comments, suggestions=suggestions,
        ratings={k: a.value for k, a in answers.items() if a.kind == "rating"
                 and isinstance(a.value, int)},
        unsure=[k for k, a in answers.items() if a.kind == "unsure"],
        choices={k: str(a.value) for k, a in answers.items() if a.kind == "choice"},
        texts={k: str(a.value) for k, a in answers.items() if a.kind == "open"})
    report = actions.enter_return(form.study, form.round, entered, replace=form.replace)
    verb = "replaced" if report.replaced else "saved"
    out.print(f"Return of {form.code} for round {form.round} {verb}.")


def _how_to_answer(question: Question) -> str:
    """What may be typed for a question, said once before its prompt."""
    if question.kind == "open":
        return "type the answer on one line"
    if question.rating is None:
        return "type one of: " + ", ".join(f"{o.id} ({o.label})" for o in question.options)
    spec = question.rating
    unsure = f", or {spec.unsure.code} for '{spec.unsure.label}'" if spec.unsure else ""
    return f"type a whole number from {spec.scale.min} to {spec.scale.max}{unsure}"


def _parse_answer(question: Question, raw: str) -> Answer | None:
    """The answer typed (not empty), or ``None`` if it is not one this question takes."""
    if question.kind == "open":
        return Answer(kind="open", value=raw)
    if question.rating is None:
        ids = {o.id.lower(): o.id for o in question.options}
        return Answer(kind="choice", value=ids[raw.lower()]) if raw.lower() in ids else None
    spec = question.rating
    if spec.unsure is not None and raw.lower() == spec.unsure.code.lower():
        return Answer(kind="unsure")
    if raw.isdigit() and spec.scale.min <= int(raw) <= spec.scale.max:
        return Answer(kind="rating", value=int(raw))
    return None


def _typed(question: Question, answer: Answer | None) -> str:
    """An answer as it is typed (the prompt's default and the summary show it so)."""
    if answer is None:
        return ""
    if answer.kind == "unsure":
        return question.rating.unsure.code if question.rating and question.rating.unsure else ""
    return str(answer.value)


def _ask_answers(asked: list[Question], out: Console) -> dict[str, Answer]:
    """Each answer in turn; ``b`` goes back one question, ``q`` stops without saving."""
    answers: dict[str, Answer] = {}
    index = 0
    while index < len(asked):
        question = asked[index]
        current = answers.get(question.key)
        about = f" [italic]{question.dimension_label}[/italic]" if question.dimension_label \
            else ""
        out.print(f"\n[dim][{index + 1}/{len(asked)}][/dim] [bold]{question.item}[/bold]{about} "
                  f"{escape(question.text)}", highlight=False)
        raw = ask(f"  {question.kind}", default=_typed(question, current),
                  show_default=current is not None).strip()
        if raw.lower() == QUIT:
            out.print("Stopped; nothing was saved.")
            raise typer.Exit(ExitStatus.OK)
        if raw.lower() == BACK:
            index = max(0, index - 1)
            continue
        if raw == "":
            answers.pop(question.key, None)
        elif (answer := _parse_answer(question, raw)) is not None:
            answers[question.key] = answer
        else:
            what = "a rating" if question.rating else "an option"
            out.print(f"  [red]{escape(repr(raw))} is not {what}: "
                      f"{escape(_how_to_answer(question))}, or press Enter for no answer[/red]")
            continue
        index += 1
    return answers


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


def _show_summary(form: EntryForm, asked: list[Question], answers: dict[str, Answer],
                  comments: dict[str, str], suggestions: str | None, out: Console) -> None:
    """The return as typed in, answer by answer, for the coordinator to confirm."""
    summary = Table(title=f"{form.code}, round {form.round}", title_justify="left",
                    show_edge=False)
    summary.add_column("Answer")
    summary.add_column("Given", justify="right")
    summary.add_column("Comment")
    commented: set[str] = set()
    for question in asked:
        comment = "" if question.item in commented else comments.get(question.item, "")
        commented.add(question.item)
        summary.add_row(question.key, plain(_typed(question, answers.get(question.key)) or "–"),
                        plain(comment))
    out.print(summary)
    out.print(f"{len(answers)} of {len(asked)} answered"
              + (f"; suggestions: {suggestions}" if suggestions else ""), markup=False)
