"""The coordinator's review file of suggestions and comments from one round's returns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from delphi.core.cells import inert as cell
from delphi.core.models import Manifest, PanelReturn, Settings


def review_markdown(settings: Settings, manifest: Manifest, returns: Sequence[PanelReturn],
                    group_of: dict[str, str]) -> str:
    """Suggestions first (they may become new items), then comments item by item."""
    labels = {g.id: g.label for g in settings.groups}
    lines = [f"# Round {manifest.round}: suggestions and comments", "",
             f"{manifest.study}. Panellists appear by code and group only.", "",
             "## Suggestions for new statements", ""]
    suggested = [r for r in returns if r.suggestions]
    if not suggested:
        lines.append("None.")
    for r in suggested:
        text = (r.suggestions or "").replace("\n", " ")
        lines.append(f"- **{r.code}** ({labels.get(group_of.get(r.code, ''), '?')}): {text}")
    lines += ["", "## Comments on items", ""]
    any_comment = False
    for item in manifest.items:
        notes = [(r.code, r.comments[item.id]) for r in returns if item.id in r.comments]
        if not notes:
            continue
        any_comment = True
        lines += [f"### {item.id} {item.text}", ""]
        lines += [f"- **{code}** ({labels.get(group_of.get(code, ''), '?')}): "
                  f"{text.replace(chr(10), ' ')}" for code, text in notes]
        lines.append("")
    if not any_comment:
        lines.append("None.")
    return "\n".join(lines).rstrip() + "\n"


def review_csv(manifest: Manifest, returns: Sequence[PanelReturn],
               group_of: dict[str, str]) -> str:
    """One row per suggestion or comment: round, kind, item, code, group, text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["round", "kind", "item", "statement", "code", "group", "text"])
    for r in returns:
        if r.suggestions:
            writer.writerow([manifest.round, "suggestion", "", "", r.code,
                             group_of.get(r.code, ""), cell(r.suggestions)])
    for item in manifest.items:
        for r in returns:
            if item.id in r.comments:
                writer.writerow([manifest.round, "comment", item.id, cell(item.text), r.code,
                                 group_of.get(r.code, ""), cell(r.comments[item.id])])
    return buffer.getvalue()
