"""The report as Markdown, HTML (Jinja2, autoescaped) and PDF (weasyprint).

The HTML template ``report.html.j2`` gets exactly the fields of :class:`ReportContext` (and the
environment's ``fmt`` and ``pct``); a test checks that it uses no other name and leaves none
unused.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from delphi.core import feedback
from delphi.core.analysis import RoundResult
from delphi.core.feedback import fmt, item_feedback
from delphi.core.report import ReportData
from delphi.core.stability import HEADINGS, notes, value_text
from delphi.core.subgroups import sentence
from delphi.render.charts import band_chart
from delphi.render.pdf import Renderer, make_environment

TEMPLATE = "report.html.j2"
LARGEST = 8  # subgroup differences listed even when none passes the FDR threshold


def pct(value: float | None) -> str:
    """A share as the report prints it: one decimal, rounded half up (``12.5 %``)."""
    return feedback.pct(value, places=1, sign=" %")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out + [""]


class StabilityTable(BaseModel):
    """The report's stability section: a summary paragraph and a table."""

    model_config = ConfigDict(frozen=True)

    summary: str
    header: list[str]
    rows: list[list[str]]


def stability_table(data: ReportData) -> StabilityTable:
    """The stability section by the study's statistic: a summary, a table header and rows.

    Every statistic is in report.json and report.xlsx.
    """
    rule = data.settings.stability
    summary = (f"{data.stability_sentence()} {data.stability_counts_text()} Every "
               "statistic (kappa with both weights, lambda, both chi-square tests, the "
               "Wilcoxon test) is in report.json and report.xlsx.")
    header = ["Item", "Rounds", "Pairs", "Unchanged", HEADINGS[rule.statistic], "Stable", "Note"]
    rows = [[x.id, f"{x.figures.previous_round}–{x.round}", str(x.figures.pairs),
             pct(x.figures.unchanged), value_text(x.figures, rule),
             {True: "yes", False: "no", None: "–"}[x.figures.stable],
             "; ".join(notes(x.figures, rule))] for x in data.stability]
    return StabilityTable(summary=summary, header=header, rows=rows)


def markdown(data: ReportData) -> str:
    """The report in Markdown."""
    s = data.settings
    labels = {g.id: g.label for g in s.groups}
    lines = [f"# {data.study}: Delphi study report", "", "## Method", "", data.method(), "",
             "## Response", ""]
    lines += _md_table(["Round", "All", *labels.values()], [
        [str(r.round), f"{r.overall.returned}/{r.overall.invited} ({pct(r.overall.rate)})",
         *[f"{c.returned}/{c.invited} ({pct(c.rate)})" for c in r.groups.values()]]
        for r in data.response])
    if data.flow:
        lines += _md_table(["Round", "Returned previous round", "Returned both", "Lost",
                            "Rejoined"], [[str(a.round), str(a.returned_previous),
                                           str(a.returned_both), str(a.lost), str(a.rejoined)]
                                          for a in data.flow])
    t = data.totals
    lines += ["## Items reaching consensus", "",
              f"Consensus was reached on {t.reached} of {t.asked} items "
              f"({pct(t.share)}): " + ", ".join(f"{n} {b}" for b, n in t.by_band.items() if n)
              + ".", ""]
    lines += _md_table(["Item", "Statement", "Round", "Consensus"], [
        [e.id, e.text, f"R{e.round}", f"{e.band} ({pct(e.share)})"] for e in data.consensus])
    for block in data.rankings:
        lines += [f"## {block.title} (round {block.round})", "",
                  "Median (mean) per group and overall, ranked by median, then mean.", ""]
        lines += _md_table(["Rank", "Option", *labels.values(), "Total"], [
            [str(row.rank or "–"), row.text,
             *[f"{fmt(m)} ({fmt(a)})" for m, a, _ in row.groups.values()],
             f"{fmt(row.median)} ({fmt(row.mean)})"] for row in block.rows])
    lines += ["## Consensus within each stakeholder group", ""]
    for g, entries in data.group_consensus.items():
        lines += [f"**{labels[g]}**: {len(entries)} items", ""]
        lines += [f"- {e.id} (R{e.round}, {e.band}): {e.text}" for e in entries] + [""]
    lines += ["## Items without consensus", ""]
    if data.lowest:
        lo = data.lowest
        lines += [f"The lowest degree of consensus: {lo.id} '{lo.text}' ("
                  + ", ".join(f"{b} {pct(v)}" for b, v in lo.bands.items()) + ").", ""]
    if data.under_half:
        lines += ["Items with fewer than 50 % of ratings in every band:", ""]
        lines += [f"- {x.id} '{x.text}' (" + ", ".join(f"{b} {pct(v)}" for b, v in
                                                       x.bands.items()) + ")"
                  for x in data.under_half] + [""]
    if data.stability:
        table = stability_table(data)
        lines += ["## Stability between rounds", "", table.summary, ""]
        lines += _md_table(table.header, table.rows)
    lines += ["## Stakeholder divergence", ""]
    lines += _md_table(["Item", "Round", *labels.values()], [
        [d.id, str(d.round), *[fmt(m) for m in d.medians.values()]] for d in data.divergent])
    lines += ["## Consensus under other definitions", ""]
    lines += _md_table(["Rule", "Items reaching consensus in any round"],
                       [[("**" + k + "** (the study's)") if k == s.consensus.rule else k,
                         str(v)] for k, v in data.rules.items()])
    lines += ["## Subgroup differences", ""]
    if data.notable:
        lines += [f"- {n}" for n in data.notable] + [""]
    else:
        lines += ["No subgroup difference passed the false-discovery-rate threshold"
                  + (" (no attributes given: use --by)." if not data.subgroups else "."), ""]
    if data.subgroups:
        lines += ["The largest differences, for reading with caution:", ""]
        lines += [f"- {sentence(f)}" for f in data.subgroups[:LARGEST]] + [""]
    lines += ["## Reporting checklist", ""]
    lines += _md_table(["Item", "This study"], [[a, b] for a, b in data.checklist()])
    return "\n".join(lines).rstrip() + "\n"


def charts(results: dict[int, RoundResult], data: ReportData) -> dict[str, Markup]:
    """A band chart per rating item, from the last round it was asked in."""
    out: dict[str, Markup] = {}
    for r in sorted(results):
        for item in results[r].items:
            if item.kind == "rating":
                fb = item_feedback(item, results[r], data.settings)
                out[item.id] = band_chart(fb.chart, f"Ratings of {item.id}, round {r}")
    return out


class ReportContext(BaseModel):
    """The documented context of ``report.html.j2``."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    d: ReportData  # everything the report shows (delphi/core/report.py)
    labels: dict[str, str]  # stakeholder group id -> label, in display order
    charts: dict[str, Markup]  # rating item id -> SVG band chart of its last round
    method: str  # the methods paragraph
    checklist: list[tuple[str, str]]  # (reporting item, what this study did)
    largest: list[str]  # sentences on the largest subgroup differences, for caution
    stability: StabilityTable | None  # by the study's statistic; None before round 2


def report_context(data: ReportData, results: dict[int, RoundResult]) -> ReportContext:
    """What the report's HTML template is given."""
    return ReportContext(d=data, labels={g.id: g.label for g in data.settings.groups},
                         charts=charts(results, data), method=data.method(),
                         checklist=data.checklist(),
                         largest=[sentence(f) for f in data.subgroups[:LARGEST]],
                         stability=stability_table(data) if data.stability else None)


def html(study_root: Path, data: ReportData, results: dict[int, RoundResult]) -> str:
    """The report as HTML."""
    env = make_environment(study_root)
    env.globals.update(pct=pct)
    context = report_context(data, results)
    return env.get_template(TEMPLATE).render(
        {name: getattr(context, name) for name in ReportContext.model_fields})


def pdf(study_root: Path, html_text: str) -> bytes:
    """The report as PDF (tagged, no forms)."""
    import weasyprint

    renderer = Renderer(study_root)
    return weasyprint.HTML(string=html_text, base_url=renderer.base_url,  # type: ignore[no-any-return]
                           url_fetcher=renderer.fetcher).write_pdf(pdf_variant="pdf/ua-1")
