"""The report as Markdown, HTML (Jinja2, autoescaped) and PDF (weasyprint), in the panel's language.

The data comes from :func:`delphi.core.report.build_report`; the words (the methods paragraph,
the reporting checklist, the subgroup findings, the stability section, every heading) come from
the message catalogs, and numbers are written the language's way (``87,5 %`` in French).

The HTML template ``report.html.j2`` gets exactly the fields of :class:`ReportContext` (and the
environment's ``fmt`` and ``pct``); a test checks that it uses no
other name and leaves none unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from delphi.core.analysis import RoundResult
from delphi.core.feedback import item_feedback
from delphi.core.models import StabilitySettings
from delphi.core.report import ReportData
from delphi.core.stability import Stability, chosen, relevant
from delphi.core.subgroups import Finding
from delphi.i18n import Language
from delphi.render.charts import band_chart, chart_labels
from delphi.render.lean import compact
from delphi.render.pdf import study_fetcher
from delphi.render.tags import lean_tags
from delphi.render.templates import environment

TEMPLATE = "report.html.j2"
LARGEST = 8  # subgroup differences listed even when none passes the FDR threshold


def quoted(text: str, language: Language) -> str:
    """A statement quoted the language's way ('...', « ... », „...“)."""
    # Translators: a statement quoted in running text, in the language's quotation marks.
    return language._("'%(text)s'", text=text)


def finding(f: Finding, language: Language) -> str:
    """A subgroup finding in words, as section 6.2 of the reference study puts it."""
    values = {"share": language.percent(f.subgroup_share, 1), "attribute": f.attribute,
              "value": f.value, "text": quoted(f.text, language), "band": f.band,
              "overall": language.percent(f.overall_share, 1),
              "p": language.number(f.p, 3), "q": language.number(f.q, 3)}
    if f.band == "agree":
        return language._("%(share)s of people with %(attribute)s %(value)s agreed with "
                          "%(text)s, compared to %(overall)s overall (Fisher p = %(p)s, FDR q "
                          "= %(q)s).", **values)
    if f.band == "disagree":
        return language._("%(share)s of people with %(attribute)s %(value)s disagreed with "
                          "%(text)s, compared to %(overall)s overall (Fisher p = %(p)s, FDR q "
                          "= %(q)s).", **values)
    return language._("%(share)s of people with %(attribute)s %(value)s rated %(text)s "
                      "%(band)s, compared to %(overall)s overall (Fisher p = %(p)s, FDR q = "
                      "%(q)s).", **values)


def _anchors(anchors: dict[int, str]) -> str:
    return "; ".join(f"{k} {v}" for k, v in sorted(anchors.items()))


def method(data: ReportData, language: Language) -> str:
    """A methods paragraph, filled from the study's own settings and rounds."""
    _ = language._
    s = data.settings
    first = data.response[0]
    groups = language.join([f"{g.label} (n = {first.groups[g.id].invited})" for g in s.groups])
    bands = language.join([f"{b.min}-{b.max} {quoted(b.name, language)}" for b in s.bands])
    rule = s.consensus
    if rule.rule == "banded":
        definition = _("Consensus was defined before the study: an item reached consensus when "
                       "at least %(share)s of the panellists who rated it fell in one band.",
                       share=language.percent(rule.threshold))
    else:
        definition = _("Consensus was defined before the study: an item reached consensus when "
                       "the %(rule)s rule held (scope: %(scope)s).", rule=rule.rule,
                       scope=rule.scope)
    quantiles = _("R type 7 (linear)") if s.quartiles == "linear" else _("SPSS (type 6)")
    response = "; ".join(
        _("round %(round)s %(returned)s of %(invited)s (%(share)s; %(withdrawn)s withdrew)",
          round=r.round, returned=r.overall.returned, invited=r.overall.invited,
          share=language.percent(r.overall.rate or 0, 1), withdrawn=r.overall.withdrawn)
        if r.overall.withdrawn else
        _("round %(round)s %(returned)s of %(invited)s (%(share)s)", round=r.round,
          returned=r.overall.returned, invited=r.overall.invited,
          share=language.percent(r.overall.rate or 0, 1)) for r in data.response)
    added = sum(len(v) for v in data.items_added.values())
    reworded = sum(len(v) for v in data.items_reworded.values())
    return " ".join(part for part in [
        language.n_("A panel of %(people)s people in %(groups)s stakeholder groups (%(list)s) "
                    "took part in %(num)s round.",
                    "A panel of %(people)s people in %(groups)s stakeholder groups (%(list)s) "
                    "took part in %(num)s rounds.", len(data.rounds),
                    people=first.overall.invited, groups=len(s.groups), list=groups),
        _("Statements were rated on a %(low)s-%(high)s scale (%(anchors)s), divided into the "
          "bands %(bands)s.", low=s.scale.min, high=s.scale.max, anchors=_anchors(s.anchors),
          bands=bands),
        definition,
        _("Medians and interquartile ranges were computed with the %(definition)s quantile "
          "definition, overall and per group.", definition=quantiles),
        _("From round 2 on each panellist received their own previous rating, the group median "
          "and the interquartile range next to each item, with a statement where group medians "
          "differed by %(threshold)s or more.",
          threshold=language.number(s.divergence.threshold, 0)
          if s.divergence.threshold == int(s.divergence.threshold)
          else language.number(s.divergence.threshold)),
        stability_sentence(data, language)
        if len(data.rounds) > 1 or s.stability.required else "",
        (_("Items that reached consensus and were stable were not asked again; items added "
           "from the panellists' suggestions: %(added)s; items reworded between rounds: "
           "%(reworded)s.", added=added, reworded=reworded) if s.stability.required else
         _("Items that reached consensus were not asked again; items added from the "
           "panellists' suggestions: %(added)s; items reworded between rounds: %(reworded)s.",
           added=added, reworded=reworded)),
        _("Response: %(rounds)s.", rounds=response),
    ] if part)


def checklist(data: ReportData, language: Language) -> list[tuple[str, str]]:
    """A reporting checklist in the spirit of CREDES and ACCORD, from the study's data."""
    _ = language._
    s = data.settings
    rule = _("rule %(rule)s, scope %(scope)s", rule=s.consensus.rule, scope=s.consensus.scope)
    if s.consensus.rule == "banded":
        rule = _("%(rule)s, threshold %(threshold)s", rule=rule,
                 threshold=language.percent(s.consensus.threshold))
    return [
        (_("Panel: size, groups and how members were identified"),
         _("%(people)s panellists in %(groups)s groups (identification: describe in the "
           "protocol)", people=data.response[0].overall.invited, groups=len(s.groups))),
        (_("Rating scale and anchors"),
         f"{s.scale.min}-{s.scale.max}; {_anchors(s.anchors)}"),
        (_("Consensus defined before the study"), rule),
        (_("Number of rounds and response per round"),
         "; ".join(_("round %(round)s: %(returned)s/%(invited)s", round=r.round,
                     returned=r.overall.returned, invited=r.overall.invited)
                   for r in data.response)),
        (_("Feedback between rounds"),
         _("own previous rating, group median, IQR, divergence statement; band-share chart per "
           "group")),
        (_("Items dropped, added and reworded"),
         _("%(dropped)s dropped on consensus; %(added)s added; %(reworded)s reworded",
           dropped=data.totals.reached, added=sum(len(v) for v in data.items_added.values()),
           reworded=sum(len(v) for v in data.items_reworded.values()))),
        (_("Attrition between rounds"),
         "; ".join(_("round %(round)s: %(lost)s lost, %(withdrawn)s withdrew, %(rejoined)s "
                     "rejoined", round=a.round, lost=a.lost, withdrawn=a.withdrawn,
                     rejoined=a.rejoined) for a in data.flow)
         or _("one round only")),
        (_("Results for every item, including those without consensus"),
         _("rounds/round-N/results.json and results.csv; this report's exports")),
        (_("Stakeholder differences"),
         _("%(divergent)s divergent item-rounds; %(notable)s notable subgroup differences",
           divergent=len(data.divergent), notable=len(data.notable))),
        (_("Stability between rounds"),
         stability_sentence(data, language) + " "
         + (stability_counts(data, language) or _("One round only."))),
        (_("Sensitivity to the consensus definition"),
         ", ".join(f"{k}: {v}" for k, v in data.rules.items())),
    ]


# ------------------------------------------------------------------ stability, in words


def statistic_name(rule: StabilitySettings, language: Language) -> str:
    """The study's stability statistic in words (``weighted kappa (quadratic weights)``)."""
    _ = language._
    if rule.statistic == "kappa":
        return (_("weighted kappa (quadratic weights)") if rule.kappa_weights == "quadratic"
                else _("weighted kappa (linear weights)"))
    return {"net-change": _("net change (Scheibe et al. 1975)"),
            "lambda": _("Goodman-Kruskal lambda (Chaffin & Talley 1980)"),
            "chi-square-individual": _("individual chi-square test (Chaffin & Talley 1980)"),
            "chi-square-group": _("group chi-square test (Dajani, Sincoff & Talley 1979)"),
            }[rule.statistic]


def criterion(rule: StabilitySettings, language: Language) -> str:
    """When an item counts as stable, in words."""
    _ = language._
    name = statistic_name(rule, language)
    if rule.statistic == "net-change":
        return _("%(statistic)s below %(cutoff)s", statistic=name,
                 cutoff=language.percent(rule.cutoff))
    if rule.statistic in ("kappa", "lambda"):
        return _("%(statistic)s of at least %(cutoff)s", statistic=name,
                 cutoff=language.number(rule.cutoff, 2))
    if rule.statistic == "chi-square-individual":
        return _("%(statistic)s significant at p < %(cutoff)s (the ratings depend on the "
                 "previous round's)", statistic=name, cutoff=language.number(rule.cutoff, 2))
    return _("%(statistic)s not significant, p ≥ %(cutoff)s (the two rounds' distributions do "
             "not differ)", statistic=name, cutoff=language.number(rule.cutoff, 2))


def stability_sentence(data: ReportData, language: Language) -> str:
    """How stability was judged, for the methods paragraph and the checklist."""
    rule = data.settings.stability
    if rule.required:
        return language._("Stability between consecutive rounds was judged over the panellists "
                          "who rated an item in both rounds, by the %(criterion)s; an item "
                          "dropped out only once it had reached consensus and was stable.",
                          criterion=criterion(rule, language))
    return language._("Stability between consecutive rounds was judged over the panellists who "
                      "rated an item in both rounds, by the %(criterion)s.",
                      criterion=criterion(rule, language))


def stability_counts(data: ReportData, language: Language) -> str:
    """How many items were stable per round, as a sentence (empty before round 2)."""
    parts = [language._("round %(round)s: %(stable)s of %(items)s items stable", round=c.round,
                        stable=c.stable, items=c.items) for c in data.stability_counts()]
    text = "; ".join(parts)
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def p_value(p: float | None, language: Language) -> str:
    """A p-value as printed: three decimals, ``< 0,001`` below that."""
    if p is None:
        return "–"
    return f"< {language.number(0.001, 3)}" if p < 0.0005 else language.number(p, 3)


def stability_value(s: Stability, rule: StabilitySettings, language: Language) -> str:
    """The study's statistic of an item as printed: ``7 %``, ``0,63``, ``3,70 (4 df), p 0,448``."""
    if rule.statistic == "net-change":
        return language.percent(s.net_change)
    if rule.statistic in ("kappa", "lambda"):
        return language.number(chosen(s, rule), 2)
    statistic, df, p = ((s.chi2_individual, s.chi2_individual_df, s.chi2_individual_p)
                        if rule.statistic == "chi-square-individual"
                        else (s.chi2_group, s.chi2_group_df, s.chi2_group_p))
    if statistic is None:
        return "–"
    return language._("%(statistic)s (%(df)s df), p %(p)s", statistic=language.number(
        statistic, 2), df=df, p=p_value(p, language))


def stability_notes(s: Stability, rule: StabilitySettings, language: Language) -> list[str]:
    """The caveats that bear on the study's statistic, in a few words each."""
    _ = language._
    words = {"no_pairs": _("no pairs"), "unanimous_round": _("unanimous round"),
             "kappa_undefined": _("one rating throughout"),
             "lambda_undefined": _("this round unanimous"),
             "chi2_individual_undefined": _("a round used one rating"),
             "chi2_individual_expected_below_5": _("expected < 5"),
             "chi2_group_undefined": _("one rating throughout"),
             "chi2_group_expected_below_5": _("expected < 5")}
    return [words[c] for c in relevant(s, rule)]


class StabilityTable(BaseModel):
    """The report's stability section: a summary paragraph and a table."""

    model_config = ConfigDict(frozen=True)

    summary: str
    header: list[str]
    rows: list[list[str]]


def stability_table(data: ReportData, language: Language) -> StabilityTable:
    """The stability section by the study's statistic: a summary, a table header and rows.

    Every statistic is in report.json and report.xlsx.
    """
    _ = language._
    rule = data.settings.stability
    summary = " ".join(t for t in (
        stability_sentence(data, language), stability_counts(data, language),
        _("Every statistic (kappa with both weights, lambda, both chi-square tests, the "
          "Wilcoxon test) is in report.json and report.xlsx.")) if t)
    heading = {"net-change": _("Net change"), "kappa": _("Kappa"), "lambda": _("Lambda"),
               "chi-square-individual": _("Chi² (individual)"),
               "chi-square-group": _("Chi² (group)")}[rule.statistic]
    header = [_("Item"), _("Rounds"), _("Pairs"), _("Unchanged"), heading, _("Stable"),
              _("Note")]
    verdict = {True: _("yes"), False: _("no"), None: "–"}
    rows = [[x.id, f"{x.figures.previous_round}–{x.round}", str(x.figures.pairs),
             language.percent(x.figures.unchanged, 1), stability_value(x.figures, rule, language),
             verdict[x.figures.stable], "; ".join(stability_notes(x.figures, rule, language))]
            for x in data.stability]
    return StabilityTable(summary=summary, header=header, rows=rows)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out + [""]


def _bands(bands: dict[str, float | None], language: Language) -> str:
    return ", ".join(f"{b} {language.percent(v, 1)}" for b, v in bands.items())


def withdrawn_note(language: Language) -> str:
    """What the response table's "Withdrawn" counts."""
    return language._("Withdrawn: invited, withdrew from the study without returning the "
                      "round; they are not counted among those with no return, and not invited "
                      "again.")


def markdown(data: ReportData, language: Language) -> str:
    """The report in Markdown."""
    _ = language._
    lines = [f"# {_('%(study)s: Delphi study report', study=data.study)}", "",
             f"## {_('Method')}", "", method(data, language), ""]
    for section in (_md_response, _md_consensus, _md_rankings, _md_group_consensus,
                    _md_without_consensus, _md_divergence, _md_subgroups, _md_checklist):
        lines += section(data, language)
    return "\n".join(lines).rstrip() + "\n"


def _labels(data: ReportData) -> dict[str, str]:
    return {g.id: g.label for g in data.settings.groups}


def _md_response(data: ReportData, language: Language) -> list[str]:
    """Response per round and group (and the withdrawn), and the flow between rounds."""
    _ = language._

    def pct(value: float | None) -> str:
        return language.percent(value, 1)

    lines = [f"## {_('Response')}", ""]
    lines += _md_table([_("Round"), _("All"), *_labels(data).values(), _("Withdrawn"),
                        _("No return")], [
        [str(r.round), f"{r.overall.returned}/{r.overall.invited} ({pct(r.overall.rate)})",
         *[f"{c.returned}/{c.invited} ({pct(c.rate)})" for c in r.groups.values()],
         str(r.overall.withdrawn), str(r.overall.outstanding)]
        for r in data.response])
    lines += [withdrawn_note(language), ""]
    if data.flow:
        lines += _md_table([_("Round"), _("Returned previous round"), _("Returned both"),
                            _("Withdrew"), _("Lost"), _("Rejoined")],
                           [[str(a.round), str(a.returned_previous), str(a.returned_both),
                             str(a.withdrawn), str(a.lost), str(a.rejoined)]
                            for a in data.flow])
    return lines


class KindTable(BaseModel):
    """A table of the report on answers beyond one rating: its heading, header and rows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heading: str
    header: list[str]
    rows: list[list[str]]


def kind_tables(data: ReportData, language: Language) -> list[KindTable]:
    """Dimensions side by side, choices' results and open answers with their comments."""
    _ = language._
    tables = []
    for table in data.dimension_tables:
        rows = []
        for row in table.rows:
            cells = []
            for dim in table.dimensions:
                band, round_no, share = row.verdicts.get(dim, (None, 0, None))
                cells.append("–" if not round_no else
                             f"{band} ({language.percent(share, 1)}, R{round_no})" if band else
                             _("none (largest band %(share)s, R%(round)s)",
                               share=language.percent(share, 1), round=round_no))
            rows.append([row.id, row.text, *cells])
        tables.append(KindTable(
            heading=_("%(title)s: consensus per dimension", title=table.title),
            header=[_("Item"), _("Statement"), *table.dimensions.values()], rows=rows))
    if data.choices:
        tables.append(KindTable(
            heading=_("Choices"),
            header=[_("Item"), _("Statement"), _("Round"), "n", _("Shares"), _("Consensus")],
            rows=[[c.id, c.text, f"R{c.round}", str(c.n),
                   "; ".join(f"{label} {language.percent(v, 1)}" for label, v in
                             c.options.items()), c.consensus or "–"] for c in data.choices]))
    if data.open_answers:
        tables.append(KindTable(
            heading=_("Open answers"),
            header=[_("Round"), _("Item"), _("Answer"), _("Comment")],
            rows=[[f"R{a.round}", f"{a.id} {a.question}", a.answer, a.comment or ""]
                  for a in data.open_answers]))
    return tables


def _md_consensus(data: ReportData, language: Language) -> list[str]:
    """The items reaching consensus: how many, and each with its round and band."""
    _ = language._
    lines = [f"## {_('Items reaching consensus')}", "", _totals(data, language), ""]
    return lines + _md_table([_("Item"), _("Statement"), _("Round"), _("Consensus")], [
        [e.key, e.text, f"R{e.round}", f"{e.band} ({language.percent(e.share, 1)})"]
        for e in data.consensus]) + [line for kind in kind_tables(data, language) for line in
                                     [f"## {kind.heading}", "",
                                      *_md_table(kind.header, kind.rows)]]


def _md_rankings(data: ReportData, language: Language) -> list[str]:
    """Each ranking block: median (mean) per group and overall, in rank order."""
    _, num = language._, language.number
    lines: list[str] = []
    for block in data.rankings:
        lines += [f"## {_('%(title)s (round %(round)s)', title=block.title, round=block.round)}",
                  "", _("Median (mean) per group and overall, ranked by median, then mean."), ""]
        lines += _md_table([_("Rank"), _("Option"), *_labels(data).values(), _("Total")], [
            [str(row.rank or "–"), row.text,
             *[f"{num(m)} ({num(a)})" for m, a, _r in row.groups.values()],
             f"{num(row.median)} ({num(row.mean)})"] for row in block.rows])
    return lines


def _md_group_consensus(data: ReportData, language: Language) -> list[str]:
    """The items that reached consensus within each stakeholder group."""
    labels = _labels(data)
    lines = [f"## {language._('Consensus within each stakeholder group')}", ""]
    for g, entries in data.group_consensus.items():
        lines += [f"**{labels[g]}**: " + language.n_("%(num)s item", "%(num)s items",
                                                     len(entries)), ""]
        lines += [f"- {e.key} (R{e.round}, {e.band}): {e.text}" for e in entries] + [""]
    return lines


def _md_without_consensus(data: ReportData, language: Language) -> list[str]:
    """The items without consensus, and the stability between rounds."""
    _ = language._
    lines = [f"## {_('Items without consensus')}", ""]
    lowest, under_half = without_consensus(data, language)
    if lowest:
        lines += [lowest, ""]
    if under_half:
        lines += [under_half[0], ""] + [f"- {x}" for x in under_half[1:]] + [""]
    if data.stability:
        table = stability_table(data, language)
        lines += [f"## {_('Stability between rounds')}", "", table.summary, ""]
        lines += _md_table(table.header, table.rows)
    return lines


def _md_divergence(data: ReportData, language: Language) -> list[str]:
    """Stakeholder divergence, and how many items each consensus rule accepts."""
    _, num = language._, language.number
    lines = [f"## {_('Stakeholder divergence')}", ""]
    lines += _md_table([_("Item"), _("Round"), *_labels(data).values()], [
        [d.key, str(d.round), *[num(m) for m in d.medians.values()]] for d in data.divergent])
    lines += [f"## {_('Consensus under other definitions')}", ""]
    rule = data.settings.consensus.rule
    return lines + _md_table(
        [_("Rule"), _("Items reaching consensus in any round")],
        [[_("%(rule)s (the study's)", rule=f"**{k}**") if k == rule else k, str(v)]
         for k, v in data.rules.items()])


def _md_subgroups(data: ReportData, language: Language) -> list[str]:
    """Subgroup differences that passed the false-discovery rate, then the largest."""
    _ = language._
    lines = [f"## {_('Subgroup differences')}", ""]
    if data.notable:
        lines += [f"- {finding(f, language)}" for f in data.notable] + [""]
    else:
        lines += [_("No subgroup difference passed the false-discovery-rate threshold.")
                  + ("" if data.subgroups else " " + _("(No attributes were given: use --by.)")),
                  ""]
    if data.subgroups:
        lines += [_("The largest differences, for reading with caution:"), ""]
        lines += [f"- {finding(f, language)}" for f in data.subgroups[:LARGEST]] + [""]
    return lines


def _md_checklist(data: ReportData, language: Language) -> list[str]:
    """The reporting checklist."""
    _ = language._
    return [f"## {_('Reporting checklist')}", ""] + _md_table(
        [_("Item"), _("This study")], [[a, b] for a, b in checklist(data, language)])


def without_consensus(data: ReportData, language: Language) -> tuple[str, list[str]]:
    """The items without consensus that the report names, in words.

    The item with the lowest consensus as a sentence ("" if none), and the items with under
    half of the ratings in every band: an introduction, then one line per item.
    """
    _ = language._
    lowest = ""
    if data.lowest:
        lo = data.lowest
        lowest = _("The lowest degree of consensus: %(item)s %(text)s (%(bands)s).", item=lo.key,
                   text=quoted(lo.text, language), bands=_bands(lo.bands, language))
    under_half = []
    if data.under_half:
        under_half = [_("Items with fewer than %(half)s of ratings in every band:",
                        half=language.percent(0.5))]
        under_half += [f"{x.key} {quoted(x.text, language)} ({_bands(x.bands, language)})"
                       for x in data.under_half]
    return lowest, under_half


def _totals(data: ReportData, language: Language) -> str:
    t = data.totals
    bands = ", ".join(f"{n} {b}" for b, n in t.by_band.items() if n)
    return language._("Consensus was reached on %(reached)s of %(asked)s items (%(share)s): "
                      "%(bands)s.", reached=t.reached, asked=t.asked,
                      share=language.percent(t.share, 1), bands=bands)


def charts(results: dict[int, RoundResult], data: ReportData,
           language: Language) -> dict[str, Markup]:
    """A band chart per rating item, from the last round it was asked in."""
    labels = chart_labels({g.id: g.chart_label for g in data.settings.groups}, language)
    out: dict[str, Markup] = {}
    for r in sorted(results):
        for item in results[r].items:
            if item.kind == "rating":
                fb = item_feedback(item, results[r], data.settings)
                out[item.key] = band_chart(fb.chart, language._(
                    "Ratings of %(item)s, round %(round)s", item=item.key, round=r), labels,
                    language)
    return out


class ReportContext(BaseModel):
    """The documented context of ``report.html.j2``; its words are in the panel's language."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    d: ReportData  # everything the report shows (delphi/core/report.py)
    labels: dict[str, str]  # stakeholder group id -> label, in display order
    charts: dict[str, Markup]  # rating item id -> SVG band chart of its last round
    method: str  # the methods paragraph
    checklist: list[tuple[str, str]]  # (reporting item, what this study did)
    totals: str  # how many items reached consensus, in which bands
    notable: list[str]  # sentences on the subgroup differences that pass the FDR threshold
    largest: list[str]  # sentences on the largest subgroup differences, for caution
    lowest: str  # the item with the lowest consensus, in a sentence ("" if none)
    under_half: list[str]  # an introduction, then each item with under half in every band
    stability: StabilityTable | None  # by the study's statistic; None before round 2
    kinds: list[KindTable]  # dimensions side by side, choices, open answers (may be empty)
    withdrawn_note: str  # what the response table's "Withdrawn" counts
    language: str  # the panel's language (BCP 47), for <html lang>
    dir: str  # its direction, ltr or rtl


def report_context(data: ReportData, results: dict[int, RoundResult],
                   language: Language) -> ReportContext:
    """What the report's HTML template is given."""
    lowest, under_half = without_consensus(data, language)
    return ReportContext(
        d=data, labels={g.id: g.label for g in data.settings.groups},
        charts=charts(results, data, language), method=method(data, language),
        checklist=checklist(data, language), totals=_totals(data, language),
        notable=[finding(f, language) for f in data.notable],
        largest=[finding(f, language) for f in data.subgroups[:LARGEST]],
        lowest=lowest, under_half=under_half,
        stability=stability_table(data, language) if data.stability else None,
        withdrawn_note=withdrawn_note(language), kinds=kind_tables(data, language),
        language=language.tag, dir=language.direction)


def html(study_root: Path, data: ReportData, results: dict[int, RoundResult],
         language: Language) -> str:
    """The report as HTML."""
    env = environment(study_root, language=language)
    env.globals.update(pct=lambda share: language.percent(share, 1))
    context = report_context(data, results, language)
    return env.get_template(TEMPLATE).render(
        {name: getattr(context, name) for name in ReportContext.model_fields})


def pdf(study_root: Path, html_text: str, language: Language) -> bytes:
    """The report as PDF (tagged, no forms; the structure tree lean as a questionnaire's)."""
    import weasyprint

    def finish(document: Any, made: Any) -> None:
        lean_tags(made)
        compact(made)

    fetcher, base_url = study_fetcher(study_root)
    return weasyprint.HTML(string=html_text, base_url=base_url,  # type: ignore[no-any-return]
                           url_fetcher=fetcher).write_pdf(pdf_variant="pdf/ua-1",
                                                          finisher=finish)
