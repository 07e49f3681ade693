"""new-round, preview and suggestions: building a round and its questionnaires."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from delphi.actions.analysis import compute_round
from delphi.core.analysis import RoundResult
from delphi.core.answers import questions
from delphi.core.feedback import (
    earlier_consensus,
    feedback_for_round,
    own_texts_shown,
    ranking_feedback,
)
from delphi.core.models import Manifest
from delphi.core.rounds import RoundPlan, plan_round
from delphi.errors import RoundStateError
from delphi.render.context import Personal, QuestionnaireContext, build_context, personals
from delphi.store.study import (
    MANIFEST_FILE,
    QUESTIONNAIRES,
    Study,
    atomic_write,
    manifest_text,
    replace_folder,
    replace_round,
    write_bytes,
)


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
    asked_before = questions(settings, folder.manifest(previous.round)) if previous else []
    feedback = feedback_for_round(settings, manifest, previous, asked_before)
    asked = set(manifest.item_ids())
    reached = [e for e in earlier_consensus(earlier) if e.id not in asked]
    show = manifest.round >= settings.feedback.earlier_results_from
    titles = {s.id: s.title for r in range(1, manifest.round) for s in folder.manifest(r).sections}
    texts = own_texts_shown(manifest, folder.manifest(previous.round)) if previous else []
    context = build_context(settings, manifest, feedback, folder.language, new_items=list(added),
                            dropped_count=len({e.id for e in reached}),
                            earlier=reached if show else [],
                            rankings=ranking_feedback(earlier, titles) if show else [],
                            own_texts=texts)
    if previous is None:
        return context, personals(context, manifest.invited, [], [], folder.language)
    return context, personals(context, manifest.invited, asked_before,
                              folder.returns(previous.round), folder.language)


def questionnaire_context(folder: Study,
                          round_no: int) -> tuple[QuestionnaireContext, list[Personal]]:
    """The context of an existing round's questionnaire, as ``new-round`` built it."""
    manifest = folder.manifest(round_no)
    introduced = {item.id: item.introduced for _, item in folder.bank.items()}
    added = [i for i in manifest.item_ids() if introduced.get(i) == round_no > 1]
    return _context(folder, manifest, _earlier_results(folder, round_no), added)


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
    return [c for c in folder.manifest(round_no).invited
            if not folder.questionnaire_pdf(round_no, c).is_file()]


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
    completing = _completing(folder, round_no, force)
    earlier = _earlier_results(folder, round_no)
    _check_previous_results(folder, earlier)
    plan = plan_round(settings, bank, roster, round_no, earlier, keep=keep, drop=drop)
    if completing:
        _check_unchanged_manifest(folder, round_no, plan)
    context, personals = _context(folder, plan.manifest, earlier, plan.added)
    backup, laid_out_each = _build_round(folder, round_no, plan, context, personals,
                                         completing, workers, on_start, on_done)
    return NewRound(folder, plan, target, len(personals), backup, completing, laid_out_each)


def _completing(folder: Study, round_no: int, force: bool) -> bool:
    """Whether the run only completes an existing round's missing PDFs.

    A round that exists (and is not empty) is refused without ``force``, unless it has its
    manifest, no returns and some PDFs missing: then the run completes it.
    """
    target = folder.round_dir(round_no)
    if not (target.exists() and any(target.iterdir()) and not force):
        return False
    completing = (folder.manifest_path(round_no).is_file()
                  and not folder.has_returns(round_no)
                  and bool(missing_pdfs(folder, round_no)))
    if not completing:
        raise RoundStateError(f"round {round_no} already exists "
                              f"({folder.display(target)}); use --force to replace it (a "
                              "dated backup is kept)")
    return completing


def _check_previous_results(folder: Study, earlier: list[RoundResult]) -> None:
    """The previous round's stored results must exist and match a fresh analysis."""
    if not earlier:
        return
    previous = earlier[-1]
    stored = folder.stored_results(previous.round)
    if stored is None:
        raise RoundStateError(f"round {previous.round} has no results: run 'delphi analyse "
                              f"--round {previous.round}' first")
    if stored != previous.to_json():
        raise RoundStateError(f"the results of round {previous.round} are out of date "
                              "(its returns or settings changed since): run 'delphi "
                              f"analyse --round {previous.round}' again first")


def _check_unchanged_manifest(folder: Study, round_no: int, plan: RoundPlan) -> None:
    """A round being completed must still ask what the bank and earlier results give now."""
    if folder.manifest(round_no) != plan.manifest:
        raise RoundStateError(
            f"round {round_no}'s questionnaire.yaml is not what the item bank and round "
            f"{round_no - 1}'s results give now (or --keep/--drop differ); use --force to "
            "rebuild the round (a dated backup is kept)")


def _build_round(folder: Study, round_no: int, plan: RoundPlan, context: QuestionnaireContext,
                 personals: list[Personal], completing: bool, workers: int | None,
                 on_start: Callable[[int], None], on_done: Callable[[str], None],
                 ) -> tuple[Path | None, str | None]:
    """Render every PDF into a staging folder, then move it into place.

    Returns the backup of what was replaced (if any) and why the round could not be laid out
    once (if it could not). On any failure the staging folder is removed and the study is
    left as it was.
    """
    staging = folder.staging_dir(round_no)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        from delphi.render.pdf import render_all

        pdfs = staging / QUESTIONNAIRES
        pdfs.mkdir(parents=True)

        def save(code: str, pdf: bytes) -> None:
            write_bytes(pdfs / f"{code}.pdf", pdf)
            on_done(code)

        laid_out_each = render_all(folder.root, context, personals, save, workers, on_start)
        if completing:
            backup = replace_folder(folder, folder.questionnaires_dir(round_no), pdfs,
                                    f"round-{round_no}-pdfs")
            shutil.rmtree(staging, ignore_errors=True)
        else:
            atomic_write({staging / MANIFEST_FILE: manifest_text(plan.manifest)})
            backup = _swap_round(folder, round_no, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return backup, laid_out_each


def _swap_round(folder: Study, round_no: int, staging: Path) -> Path | None:
    """Move the built round into place.

    An existing round is swapped out under its intake lock, so that no import into it (nor a
    web return) is half-way through meanwhile.
    """
    if not folder.round_dir(round_no).exists():
        return replace_round(folder, round_no, staging)
    from delphi.store.intake import intake_lock

    with intake_lock(folder, round_no):
        return replace_round(folder, round_no, staging)


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
    context, personals = questionnaire_context(folder, round)
    me = next(p for p in personals if p.code == matches[0])
    from delphi.render.pdf import Renderer, questionnaire

    renderer = Renderer(folder.root, language=folder.language)
    out = output or folder.preview_dir(round)
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
    from delphi.render.review import review_csv, review_markdown

    folder = Study(study).validated()
    round_no = folder.round_to_analyse(round)
    manifest = folder.manifest(round_no)
    returns = folder.returns(round_no)
    group_of = {p.code: p.group for p in folder.roster.panellists}
    md = review_markdown(folder.settings, manifest, returns, group_of)
    csv_text = review_csv(manifest, returns, group_of)
    paths = list(folder.suggestions_paths(round_no))
    atomic_write(dict(zip(paths, [md, csv_text], strict=True)))
    return Suggestions(round_no, sum(1 for r in returns if r.suggestions),
                       sum(len(r.comments) for r in returns), paths)


