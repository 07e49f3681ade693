"""Report exports: an XLSX workbook, a tidy long CSV of every rating, JSON and SPSS.

Each is returned as text or bytes; the caller writes it. Text cells are written as text, never
as formulas: a comment such as ``=HYPERLINK(...)`` stays inert in the workbook, and CSV cells of
free text use :func:`delphi.core.cells.inert`.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from delphi.core.analysis import GroupStats, ItemResult, RoundResult
from delphi.core.answers import Question, RatingSpec, questions
from delphi.core.cells import inert, starts_formula
from delphi.core.models import Manifest, PanelReturn, Roster, Settings
from delphi.core.report import ReportData
from delphi.core.stability import HEADINGS, chosen
from delphi.errors import DelphiError
from delphi.i18n import Language
from delphi.render.report import criterion, method


def ratings_csv(settings: Settings, manifests: Mapping[int, Manifest],
                returns: Mapping[int, Sequence[PanelReturn]], roster: Roster) -> str:
    """One row per answer given: round, code, group, item, dimension, kind, rating, answer.

    ``kind`` is ``rating``, ``unsure``, ``choice`` or ``open``; ``rating`` holds the number of
    a rating (empty otherwise), ``answer`` the answer as returns write it (the rating, the
    unsure code, the option id, or the open text, kept inert for spreadsheets).
    """
    group_of = {p.code: p.group for p in roster.panellists}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["round", "code", "group", "item", "dimension", "kind", "rating",
                     "answer"])
    for r in sorted(returns):
        asked = questions(settings, manifests[r]) if r in manifests else []
        for ret in returns[r]:
            for question in asked:
                answer = ret.answer(question.key)
                if answer is None:
                    continue
                unsure = question.rating.unsure if question.rating else None
                written = (unsure.code if unsure else "") if answer.kind == "unsure" \
                    else str(answer.value)
                writer.writerow([r, ret.code, group_of.get(ret.code, ""), question.item,
                                 question.dimension or "", answer.kind,
                                 answer.value if answer.kind == "rating" else "",
                                 inert(written)])
    return buffer.getvalue()


def report_json(data: ReportData, method: str, checklist: Sequence[tuple[str, str]]) -> str:
    """The report's data as JSON; ``method`` and ``checklist`` are in the panel's language."""
    payload: dict[str, Any] = data.model_dump(mode="json", by_alias=True)
    payload["method"] = method
    payload["checklist"] = [list(pair) for pair in checklist]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _row(sheet: Any, values: Sequence[object]) -> None:
    sheet.append([None] * len(values))
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=sheet.max_row, column=column)
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # text, even when it starts with = + - @
            if starts_formula(value):
                cell.quotePrefix = True


def workbook(data: ReportData, results: Mapping[int, RoundResult],
             returns: Mapping[int, Sequence[PanelReturn]], roster: Roster,
             language: Language) -> bytes:
    """A summary sheet, one sheet of results per round, the panel's comments and open answers.

    The summary and the sheets' names are in the panel's language; the round, stability and
    comment sheets keep the column names of the CSV exports, for reading by programs.
    """
    import openpyxl

    _ = language._
    book = openpyxl.Workbook()
    summary = book.active
    summary.title = _("Summary")[:31]
    _row(summary, [data.study])
    _row(summary, [_("Method"), method(data, language)])
    _row(summary, [])
    _row(summary, [_("Round"), _("Invited"), _("Returned"), _("Withdrawn"), _("No return"),
                   _("Rate")])
    for response in data.response:
        o = response.overall
        _row(summary, [response.round, o.invited, o.returned, o.withdrawn, o.outstanding,
                       o.rate])
    _row(summary, [])
    _row(summary, [_("Consensus items"), _("Statement"), _("Round"), _("Band"), _("Share")])
    for e in data.consensus:
        _row(summary, [e.id, e.text, e.round, e.band, e.share])
    groups = data.settings.group_ids
    for r in sorted(results):
        _round_sheet(book.create_sheet(_("Round %(round)s", round=r)[:31]), results[r], groups)
    if data.stability:
        _stability_sheet(book.create_sheet(_("Stability")[:31]), data, language)
    comments = book.create_sheet(_("Comments")[:31])
    group_of = {p.code: p.group for p in roster.panellists}
    _row(comments, ["round", "code", "group", "item", "comment"])
    for r in sorted(returns):
        for ret in returns[r]:
            for item_id, text in ret.comments.items():
                _row(comments, [r, ret.code, group_of.get(ret.code, ""), item_id, text])
            if ret.suggestions:
                _row(comments, [r, ret.code, group_of.get(ret.code, ""), "suggestions",
                                ret.suggestions])
    if any(ret.texts for rets in returns.values() for ret in rets):
        answers = book.create_sheet("Open answers")
        _row(answers, ["round", "code", "group", "item", "answer", "comment"])
        for r in sorted(returns):
            for ret in returns[r]:
                for item_id, text in ret.texts.items():
                    _row(answers, [r, ret.code, group_of.get(ret.code, ""), item_id, text,
                                   ret.comments.get(item_id, "")])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


STABILITY_COLUMNS = ["net_change", "kappa", "kappa_quadratic", "lambda", "chi2_individual",
                     "chi2_individual_df", "chi2_individual_p", "chi2_group", "chi2_group_df",
                     "chi2_group_p", "wilcoxon_z", "wilcoxon_p", "towards_median"]


def _stability_sheet(sheet: Any, data: ReportData, language: Language) -> None:
    """Each item's stability per round: the study's statistic and verdict first, then all."""
    rule = data.settings.stability
    _row(sheet, [language._("Stable: %(criterion)s", criterion=criterion(rule, language))])
    _row(sheet, ["round", "since round", "item", "text", "pairs", "unchanged", "changed band",
                 f"{HEADINGS[rule.statistic]}{' p' if rule.cutoff_key == 'alpha' else ''} "
                 "(the study's)", "stable", "caveats",
                 *STABILITY_COLUMNS])
    for x in data.stability:
        f = x.figures
        every = f.model_dump(by_alias=True)
        _row(sheet, [x.round, f.previous_round, x.id, x.text, f.pairs, f.unchanged,
                     f.changed_band, chosen(f, rule), f.stable, "; ".join(f.caveats),
                     *[every[c] for c in STABILITY_COLUMNS]])


def _round_sheet(sheet: Any, result: RoundResult, groups: Sequence[str]) -> None:
    """One row per entry (item, or item and dimension) and group: every statistic.

    Band columns are the union of the entries' band names (sections and dimensions may have
    their own bands), option columns those of the choices, each in the order first met.
    """
    bands = list(dict.fromkeys(b for i in result.items for b in i.bands))
    options = list(dict.fromkeys(o for i in result.items for o in i.options or {}))
    _row(sheet, ["item", "dimension", "section", "kind", "text", "group", "n", "unsure",
                 "denominator", "median", "q1", "q3", "iqr", "mean",
                 *[f"share {b}" for b in bands], *[f"option {o}" for o in options],
                 "consensus", "divergent", "rank"])
    for item in result.items:
        entries: list[tuple[str, ItemResult | GroupStats]] = [
            ("all", item), *[(g, item.groups[g]) for g in groups]]
        for group, s in entries:
            chosen = s.options or {}
            _row(sheet, [item.id, item.dimension or "", item.section, item.kind, item.text,
                         group, s.n, s.unsure, s.denominator, s.median, s.q1, s.q3, s.iqr,
                         s.mean, *[s.bands.get(b) for b in bands],
                         *[chosen.get(o) for o in options], s.consensus or "", item.divergent,
                         item.rank if group == "all" else item.groups[group].rank])


def unsure_value(spec: RatingSpec) -> int:
    """The number an "unsure" answer is written as in SPSS: 99, or above a scale reaching 99.

    It is declared user-missing and labelled, so SPSS leaves it out of statistics and still
    tells it apart from no answer (system-missing).
    """
    return 99 if spec.scale.max < 99 else spec.scale.max + 1


def _spss_column(question: Question, given: Mapping[str, PanelReturn],
                 codes: Sequence[str]) -> tuple[list[Any], dict[float, str], list[float]]:
    """One question's values per panellist, its value labels and its user-missing values."""
    answers = [ret.answer(question.key) if (ret := given.get(c)) else None for c in codes]
    if question.kind == "open":
        return [str(a.value) if a else "" for a in answers], {}, []
    if question.kind == "choice":
        number = {o.id: float(k) for k, o in enumerate(question.options, start=1)}
        return ([number.get(str(a.value), float("nan")) if a else float("nan")
                 for a in answers], {number[o.id]: o.label for o in question.options}, [])
    spec = question.rating
    assert spec is not None
    labels = {float(k): v for k, v in spec.anchors.items()}
    missing: list[float] = []
    if spec.unsure is not None:
        missing = [float(unsure_value(spec))]
        labels[missing[0]] = spec.unsure.label
    values = [float("nan") if a is None else missing[0] if a.kind == "unsure"
              else float(a.value) if isinstance(a.value, int) else float("nan") for a in answers]
    return values, labels, missing


def spss(settings: Settings, manifests: Mapping[int, Manifest],
         returns: Mapping[int, Sequence[PanelReturn]], roster: Roster) -> bytes:
    """An SPSS ``.sav`` file, one row per panellist.

    Columns: code, group, and a variable per round and answer (``r2_1_10``,
    ``r1_Q1_feasibility`` for a dimension) with its wording as the variable label. A rating
    has its anchors as value labels and, where the scale has one, the unsure answer as a
    labelled user-missing value (:func:`unsure_value`); a choice is numbered 1, 2... in the
    order of its options, labelled with them; an open answer is a string variable. Needs
    pyreadstat and pandas (``pip install 'delphi[sav]'``).
    """
    try:
        import pandas as pd
        import pyreadstat
    except ImportError:
        raise DelphiError("SPSS export needs pyreadstat and pandas: pip install "
                          "'delphi[sav]'") from None
    group_labels = {g.id: g.label for g in settings.groups}
    group_codes = {g: k for k, g in enumerate(group_labels, start=1)}
    codes = [p.code for p in roster.panellists]
    columns: dict[str, list[Any]] = {
        "code": codes, "group": [float(group_codes[p.group]) for p in roster.panellists]}
    labels: dict[str, str | None] = {"code": "Panellist code", "group": "Stakeholder group"}
    value_labels: dict[str, dict[float, str]] = {
        "group": {float(k): group_labels[g] for g, k in group_codes.items()}}
    missing: dict[str, list[int | float | str | Any]] = {}
    for r in sorted(manifests):
        given = {ret.code: ret for ret in returns.get(r, [])}
        for question in questions(settings, manifests[r]):
            name = f"r{r}_" + "".join(ch if ch.isalnum() else "_" for ch in question.key)
            columns[name], value_labels[name], user_missing = _spss_column(question, given,
                                                                           codes)
            what = f"{question.item} ({question.dimension_label})" if question.dimension \
                else question.item
            labels[name] = f"Round {r}, {what}: {question.text}"[:255]
            if user_missing:
                missing[name] = list(user_missing)
    frame = pd.DataFrame(columns)
    with tempfile.TemporaryDirectory(prefix="delphi-sav-") as scratch:
        path = Path(scratch) / "report.sav"  # pyreadstat writes only to a named file
        pyreadstat.write_sav(frame, str(path), column_labels=labels,
                             variable_value_labels={k: v for k, v in value_labels.items() if v},
                             missing_ranges=missing)
        return path.read_bytes()
