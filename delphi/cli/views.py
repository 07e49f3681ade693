"""Rich renderings of results for the terminal. Formatting only: no statistics here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Group as Stack
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from delphi.core.answers import RatingSpec, resolve, section_spec
from delphi.core.models import Manifest, ManifestSection, Option, Settings
from delphi.core.stats import round_half_up
from delphi.core.status import RoundStatus

if TYPE_CHECKING:  # annotations only: `delphi status` does not import the analysis
    from delphi.core.analysis import ItemResult, RoundResult

AGREE_MARK = "✔"
DIVERGE_MARK = "◆"


def num(value: float | None, places: int = 1) -> str:
    """A statistic for display: rounded half up, a dash when there is none."""
    return "–" if value is None else str(round_half_up(value, places))


def pct(share: float | None, places: int = 0, sign: str = "%") -> str:
    """A share as a percentage rounded half up: ``0.125`` -> ``13%``; ``places=1`` -> ``12.5%``.

    For the terminal; what panellists and readers get is written the panel's way by
    ``delphi.i18n.Language.percent``.
    """
    return "–" if share is None else f"{round_half_up(share * 100, places)}{sign}"


def plain(text: str) -> Text:
    """Words from the study or the panel (a statement, a title, a label, a name) as written.

    A plain ``str`` in a table is read as rich markup, so ``[where possible]`` would vanish,
    ``:smile:`` become an emoji and ``[/b]`` stop the command with a traceback.
    """
    return Text(text)


def title(text: str) -> Text:
    """A table's title from the study's words, styled as rich styles a title."""
    return Text(text, style="table.title")


def short(text: str, limit: int = 58) -> str:
    """A statement cut at a word boundary to about ``limit`` characters, for table cells."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:-–") + "…"


def response_table(result: RoundResult, settings: Settings) -> Table:
    """Invited, returned and response rate per group and overall."""
    table = Table(title=f"Round {result.round} response", title_justify="left",
                  show_edge=False, pad_edge=False)
    table.add_column("Group")
    table.add_column("Invited", justify="right")
    table.add_column("Returned", justify="right")
    table.add_column("Rate", justify="right")
    labels = {g.id: g.label for g in settings.groups}
    for gid, counts in result.response.groups.items():
        table.add_row(plain(labels.get(gid, gid)), str(counts.invited), str(counts.returned),
                      pct(counts.rate))
    table.add_section()
    table.add_row(Text("All", style="bold"), str(result.response.invited),
                  str(result.response.returned), pct(result.response.rate))
    return table


def _group_medians(item: ItemResult) -> Text:
    text = Text(" ".join(num(s.median) for s in item.groups.values()))
    if item.divergent:
        text.stylize("yellow")
        text.append(f" {DIVERGE_MARK}", style="bold yellow")
    return text


def rating_table(heading: str, items: Iterable[ItemResult], settings: Settings,
                 spec: RatingSpec | None = None) -> Table:
    """One rating section, or one dimension of it.

    n, median, IQR, band shares, the share of "unsure" answers (of all answers) when the
    section offers one, consensus, group medians.
    """
    spec = spec or resolve(settings)
    table = Table(title=title(heading), title_justify="left", show_edge=False, pad_edge=False,
                  expand=True)
    table.add_column("Item", no_wrap=True)
    table.add_column("Statement", ratio=1, overflow="fold", min_width=16)
    table.add_column("n", justify="right")
    table.add_column("Med", justify="right")
    table.add_column("IQR", justify="right")
    for band in spec.bands:
        table.add_column(f"{band.min}-{band.max}", justify="right")
    if spec.unsure is not None:
        table.add_column(spec.unsure.code, justify="right")
    table.add_column("Consensus", no_wrap=True)
    table.add_column(" ".join(g.id[:3].capitalize() for g in settings.groups), no_wrap=True)
    for item in items:
        consensus = (Text(f"{AGREE_MARK} {item.consensus}", style="bold green")
                     if item.consensus else Text(""))
        shares = []
        for band in spec.bands:
            share = Text(pct(item.bands.get(band.name)))
            if item.consensus == band.name:
                share.stylize("bold green")
            shares.append(share)
        if spec.unsure is not None:
            answered = item.n + item.unsure
            shares.append(Text(pct(item.unsure / answered if answered else None)))
        table.add_row(item.id, plain(short(item.text)), str(item.n), num(item.median),
                      num(item.iqr),
                      *shares, consensus, _group_medians(item),
                      style="bold" if item.consensus else None)
    return table


def choice_table(heading: str, items: Iterable[ItemResult], options: list[Option]) -> Table:
    """One choice section: n, each option's share, the option at consensus."""
    table = Table(title=title(heading), title_justify="left", show_edge=False, pad_edge=False,
                  expand=True)
    table.add_column("Item", no_wrap=True)
    table.add_column("Question", ratio=1, overflow="fold", min_width=16)
    table.add_column("n", justify="right")
    for option in options:
        table.add_column(option.id, justify="right")
    table.add_column("Consensus", no_wrap=True)
    for item in items:
        shares = [Text(pct((item.options or {}).get(o.id)),
                       style="bold green" if item.consensus == o.id else "")
                  for o in options]
        table.add_row(item.id, plain(short(item.text)), str(item.n), *shares,
                      Text(f"{AGREE_MARK} {item.consensus}", style="bold green")
                      if item.consensus else Text(""),
                      style="bold" if item.consensus else None)
    return table


def open_table(heading: str, items: Iterable[ItemResult]) -> Table:
    """One open section: how many answered each question (the texts go to the review file)."""
    table = Table(title=title(f"{heading} — open questions (answers in 'delphi suggestions')"),
                  title_justify="left", show_edge=False, pad_edge=False, expand=True)
    table.add_column("Item", no_wrap=True)
    table.add_column("Question", ratio=1, overflow="fold", min_width=16)
    table.add_column("Answers", justify="right")
    for item in items:
        table.add_row(item.id, plain(short(item.text)), str(item.n))
    return table


def ranking_table(heading: str, items: Iterable[ItemResult], settings: Settings) -> Table:
    """One ranking section: rank, then median (mean) overall and per group."""
    from delphi.core.history import in_rank_order  # here: `delphi status` shows no ranking

    table = Table(title=title(heading), title_justify="left", show_edge=False, pad_edge=False,
                  expand=True)
    table.add_column("Rank", justify="right")
    table.add_column("Option", ratio=1, overflow="fold", min_width=16)
    for group in settings.groups:
        table.add_column(group.id.capitalize(), justify="right", no_wrap=True)
    table.add_column("All", justify="right", no_wrap=True)
    table.add_column("n", justify="right")
    for item in in_rank_order(items):
        cells = [f"{num(s.median)} ({num(s.mean)})" for s in item.groups.values()]
        table.add_row("–" if item.rank is None else str(item.rank), plain(short(item.text)),
                      *cells,
                      Text(f"{num(item.median)} ({num(item.mean)})", style="bold"),
                      str(item.n))
    return table


def _section_tables(section: ManifestSection, items: list[ItemResult],
                    settings: Settings) -> list[RenderableType]:
    """The tables of one section: one per dimension for a statement rated on several."""
    if section.kind == "ranking":
        return [ranking_table(f"{section.title} — median (mean), ranked", items, settings)]
    if section.kind == "choice":
        return [choice_table(section.title, items, list(section.options or ()))]
    if section.kind == "open":
        return [open_table(section.title, items)]
    if not section.dimensions:
        return [rating_table(section.title, items, settings, section_spec(settings, section))]
    tables: list[RenderableType] = []
    for dimension in section.dimensions:
        shown = [i for i in items if i.dimension == dimension.id]
        if shown:
            tables.append(rating_table(f"{section.title} — {dimension.label}", shown, settings,
                                       section_spec(settings, section, dimension.id)))
    return tables


def analysis_view(result: RoundResult, manifest: Manifest, settings: Settings) -> RenderableType:
    """The whole human report of ``delphi analyse``."""
    parts: list[RenderableType] = [Text(result.study, style="bold"), response_table(result,
                                                                                    settings)]
    by_section: dict[str, list[ItemResult]] = {}
    for item in result.items:
        by_section.setdefault(item.section, []).append(item)
    for section in manifest.sections:
        items = by_section.get(section.id, [])
        for table in _section_tables(section, items, settings) if items else []:
            parts += [Text(""), table]
    rated = [i for i in result.items if i.kind == "rating"]
    if any(i.stability for i in rated):
        parts += [Text(""), *stability_view(rated, settings)]
    if rated and rated[0].rules is not None:
        parts += [Text(""), *rules_view(rated, settings)]
    groups = ", ".join(f"{g.id[:3].capitalize()} = {g.label}" for g in settings.groups)
    groups = groups if len(settings.groups) > 1 else settings.groups[0].label
    parts.append(Text(""))
    rule = settings.consensus
    least = "more than" if rule.strict else "at least"
    meaning = (f"{least} {pct(rule.threshold)} of ratings in one band" if rule.rule == "banded"
               else f"the {rule.rule} rule")
    if rule.scope != "panel":
        meaning += f", in {rule.scope.replace('-', ' ')}"
    parts.append(Text(
        f"{AGREE_MARK} consensus: {meaning}.  {DIVERGE_MARK} groups diverge: medians "
        f"{num(settings.divergence.threshold)} or more apart.  Group medians: {groups}.  "
        f"Quartiles: {settings.quartiles}.", style="dim"))
    if result.response.returned == 0:
        parts.append(Text(f"0 of {result.response.invited} returned: no ratings to analyse yet.",
                          style="bold yellow"))
    parts.append(Text(result.summary_line([b.name for b in settings.bands]), style="bold"))
    return Stack(*parts)


def status_view(status: RoundStatus, names: bool = False) -> RenderableType:
    """``delphi status``: counts per group, rounds and attrition, withdrawn, the outstanding."""
    parts: list[RenderableType] = [Text(status.study, style="bold"), _status_counts(status)]
    if len(status.rounds) > 1:
        parts += _status_attrition(status)
    if status.withdrawn:
        parts += _status_withdrawn(status, names)
    parts.append(Text(""))
    parts += _status_outstanding(status, names)
    return Stack(*parts)


def _status_counts(status: RoundStatus) -> Table:
    """The round's invited/returned/withdrawn/outstanding counts per group and overall."""
    counts = Table(title=f"Round {status.round}: returns", title_justify="left",
                   show_edge=False, pad_edge=False)
    for heading in ("Group", "Invited", "Returned", "Withdrawn", "Outstanding", "Rate"):
        counts.add_column(heading, justify="left" if heading == "Group" else "right")
    for gid, c in status.groups.items():
        counts.add_row(plain(status.labels.get(gid, gid)), str(c.invited), str(c.returned),
                       str(c.withdrawn), str(c.outstanding), pct(c.rate))
    counts.add_section()
    o = status.overall
    counts.add_row(Text("All", style="bold"), str(o.invited), str(o.returned), str(o.withdrawn),
                   str(o.outstanding), pct(o.rate))
    return counts


def _status_attrition(status: RoundStatus) -> list[RenderableType]:
    """Every round's returns and attrition from the round before, with what the columns mean."""
    flow = Table(title="Rounds and attrition", title_justify="left", show_edge=False,
                 pad_edge=False)
    for heading in ("Round", "Invited", "Returned", "Rate", "Withdrawn", "Both",
                    "Withdrew", "Lost", "Rejoined"):
        flow.add_column(heading, justify="right")
    attrition = {a.round: a for a in status.attrition}
    for r, c in status.rounds.items():
        a = attrition.get(r)
        flow.add_row(str(r), str(c.invited), str(c.returned), pct(c.rate), str(c.withdrawn),
                     *([str(a.returned_both), str(a.withdrawn), str(a.lost), str(a.rejoined)]
                       if a else ["–"] * 4))
    return [Text(""), flow, Text(
        "Withdrawn: invited, withdrew without returning. Of those who returned the round "
        "before: returned both rounds, withdrew, lost (no return); rejoined: returned this "
        "round, not the one before.", style="dim")]


def _status_withdrawn(status: RoundStatus, names: bool) -> list[RenderableType]:
    """The withdrawn panellists, when they withdrew and (with ``names``) why."""
    parts: list[RenderableType] = [
        Text(""), Text(f"Withdrawn ({len(status.withdrawn)}), never mailed again"
                       + ("" if names else "; --names shows the reasons") + ":", style="bold")]
    for w in status.withdrawn:
        when = f"{w.date}, during round {w.round}" if w.round else f"{w.date}, before round 1"
        reason = f": {w.reason}" if names and w.reason else ""
        parts.append(Text(f"  {w.code} ({status.labels.get(w.group, w.group)}; {when})"
                          f"{reason}"))
    return parts


def _status_outstanding(status: RoundStatus, names: bool) -> list[RenderableType]:
    """Who has not returned: a table with ``names``, else codes per group; or that none is."""
    if not status.outstanding:
        return [Text("Everyone invited has returned"
                     + (" or withdrawn." if status.overall.withdrawn else "."),
                     style="bold green")]
    if names:
        waiting = Table(title=f"Outstanding ({len(status.outstanding)})", title_justify="left",
                        show_edge=False, pad_edge=False)
        for heading in ("Code", "Group", "Delivery", "Name"):
            waiting.add_column(heading)
        for p in status.outstanding:
            waiting.add_row(p.code, plain(status.labels.get(p.group, p.group)), p.delivery,
                            plain(p.name))
        return [waiting]
    parts: list[RenderableType] = [
        Text(f"Outstanding ({len(status.outstanding)}), by code; (post) marks "
             "postal panellists; --names shows names:", style="bold")]
    for gid, label in status.labels.items():
        codes = [p.code + (" (post)" if p.delivery == "post" else "")
                 for p in status.outstanding if p.group == gid]
        if codes:
            parts.append(Text(f"  {label}: " + ", ".join(codes)))
    return parts


def stability_view(items: list[ItemResult], settings: Settings) -> list[RenderableType]:
    """Stability since the previous round by the study's statistic, and its notes' meaning."""
    from delphi.core.stability import (  # here: `delphi status` shows no stability
        CAVEATS,
        HEADINGS,
        criterion,
        notes,
        p_text,
        relevant,
        value_text,
    )

    rule = settings.stability
    shown = [i for i in items if i.stability]
    previous = shown[0].stability.previous_round if shown[0].stability else 0
    table = Table(title=f"Stability since round {previous} (stable: {criterion(rule)})",
                  title_justify="left", show_edge=False, pad_edge=False)
    noted = {i.key: "; ".join(notes(i.stability, rule)) for i in shown if i.stability}
    headings = ["Item", "Pairs", "Unchanged", "Changed band", HEADINGS[rule.statistic],
                "Stable", "Wilcoxon p", "Towards median"]
    if any(noted.values()):
        headings.append("Note")
    for heading in headings:
        table.add_column(heading, justify="left" if heading in ("Item", "Note") else "right",
                         no_wrap=heading == HEADINGS[rule.statistic])
    for item in shown:
        s = item.stability
        assert s is not None
        cells: list[str | Text] = [
            item.key, str(s.pairs), pct(s.unchanged), pct(s.changed_band),
            value_text(s, rule, lambda v: pct(v, places=1)),
            Text(AGREE_MARK if s.stable else "" if s.stable is False else "–", style="green"),
            p_text(s.wilcoxon_p),
            pct(s.towards_median), Text(noted[item.key], style="yellow")]
        table.add_row(*cells[:len(headings)])
    flagged = dict.fromkeys(c for i in shown if i.stability for c in relevant(i.stability, rule))
    if not flagged:
        return [table]
    return [table, Text("Notes: " + "; ".join(f"{CAVEATS[c][0]}: {CAVEATS[c][1]}"
                                               for c in flagged) + ".", style="dim")]


def rules_view(items: list[ItemResult], settings: Settings) -> list[RenderableType]:
    """How many items each rule accepts, and the items on which the rules disagree."""
    names = list(items[0].rules or {})
    totals = Table(title=f"Consensus under each rule (the study's rule: "
                   f"{settings.consensus.rule}, scope {settings.consensus.scope})",
                   title_justify="left", show_edge=False, pad_edge=False)
    totals.add_column("Rule")
    totals.add_column("Items", justify="right")
    bands = [b.name for b in settings.bands]
    bands += [v for i in items for v in (i.rules or {}).values() if v and v not in bands]
    for band in dict.fromkeys(bands):
        totals.add_column(band, justify="right")
    for name in names:
        verdicts = [(i.rules or {}).get(name) for i in items]
        totals.add_row(Text(name, style="bold" if name == settings.consensus.rule else ""),
                       str(sum(1 for v in verdicts if v)),
                       *[str(sum(1 for v in verdicts if v == b)) for b in dict.fromkeys(bands)])
    differ = [i for i in items if len(set((i.rules or {}).values())) > 1]
    if not differ:
        return [totals, Text("The rules agree on every item.", style="dim")]
    table = Table(title=f"Items on which the rules disagree ({len(differ)})",
                  title_justify="left", show_edge=False, pad_edge=False, expand=True)
    table.add_column("Item", no_wrap=True)
    table.add_column("Statement", ratio=1, overflow="fold", min_width=16)
    for name in names:
        table.add_column(name, no_wrap=True)
    for item in differ:
        table.add_row(item.key, plain(short(item.text, 40)),
                      *[(item.rules or {}).get(name) or "–" for name in names])
    return [totals, Text(""), table]
