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

from delphi.core.analysis import RoundResult
from delphi.core.cells import starts_formula
from delphi.core.models import PanelReturn, Roster
from delphi.core.report import ReportData
from delphi.core.stability import HEADINGS, chosen
from delphi.errors import DelphiError
from delphi.i18n import Language
from delphi.render.report import criterion, method


def ratings_csv(returns: Mapping[int, Sequence[PanelReturn]], roster: Roster) -> str:
    """One row per rating: round, code, group, item, rating."""
    group_of = {p.code: p.group for p in roster.panellists}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["round", "code", "group", "item", "rating"])
    for r in sorted(returns):
        for ret in returns[r]:
            for item_id, rating in ret.ratings.items():
                if rating is not None:
                    writer.writerow([r, ret.code, group_of.get(ret.code, ""), item_id, rating])
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
    """A summary sheet, one sheet of results per round, and the panel's comments.

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
    _row(summary, [_("Round"), _("Invited"), _("Returned"), _("Rate")])
    for response in data.response:
        _row(summary, [response.round, response.overall.invited, response.overall.returned,
                       response.overall.rate])
    _row(summary, [])
    _row(summary, [_("Consensus items"), _("Statement"), _("Round"), _("Band"), _("Share")])
    for e in data.consensus:
        _row(summary, [e.id, e.text, e.round, e.band, e.share])
    bands = [b.name for b in data.settings.bands]
    groups = data.settings.group_ids
    for r in sorted(results):
        sheet = book.create_sheet(_("Round %(round)s", round=r)[:31])
        _row(sheet, ["item", "section", "kind", "text", "group", "n", "median", "q1", "q3",
                     "iqr", "mean", *[f"share {b}" for b in bands], "consensus", "divergent",
                     "rank"])
        for item in results[r].items:
            for group, s in [("all", item), *[(g, item.groups[g]) for g in groups]]:
                _row(sheet, [item.id, item.section, item.kind, item.text, group, s.n, s.median,
                             s.q1, s.q3, s.iqr, s.mean, *[s.bands.get(b) for b in bands],
                             s.consensus or "", item.divergent,
                             item.rank if group == "all" else item.groups[group].rank])
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


def spss(manifests: Mapping[int, Any], returns: Mapping[int, Sequence[PanelReturn]],
         roster: Roster, group_labels: Mapping[str, str]) -> bytes:
    """An SPSS ``.sav`` file, one row per panellist.

    Columns: code, group, and a variable per round and item (``r2_1_10``) with its wording as
    the variable label and the anchors as value labels. Needs pyreadstat and pandas
    (``pip install 'delphi[sav]'``).
    """
    try:
        import pandas as pd
        import pyreadstat
    except ImportError:
        raise DelphiError("SPSS export needs pyreadstat and pandas: pip install "
                          "'delphi[sav]'") from None
    group_codes = {g: k for k, g in enumerate(group_labels, start=1)}
    columns: dict[str, list[Any]] = {
        "code": [p.code for p in roster.panellists],
        "group": [float(group_codes[p.group]) for p in roster.panellists]}
    labels: dict[str, str | None] = {"code": "Panellist code", "group": "Stakeholder group"}
    value_labels: dict[str, dict[float, str]] = {
        "group": {float(k): group_labels[g] for g, k in group_codes.items()}}
    for r in sorted(manifests):
        manifest = manifests[r]
        anchors = {s.id: s.anchors for s in manifest.sections}
        given = {ret.code: ret.ratings for ret in returns.get(r, [])}
        for item in manifest.items:
            name = f"r{r}_" + "".join(ch if ch.isalnum() else "_" for ch in item.id)
            columns[name] = [float(v) if (v := given.get(p.code, {}).get(item.id)) is not None
                             else float("nan") for p in roster.panellists]
            labels[name] = f"Round {r}, {item.id}: {item.text}"[:255]
            value_labels[name] = {float(k): v for k, v in anchors.get(item.section, {}).items()}
    frame = pd.DataFrame(columns)
    with tempfile.TemporaryDirectory(prefix="delphi-sav-") as scratch:
        path = Path(scratch) / "report.sav"  # pyreadstat writes only to a named file
        pyreadstat.write_sav(frame, str(path), column_labels=labels,
                             variable_value_labels=value_labels)
        return path.read_bytes()
