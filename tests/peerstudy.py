"""Study folders built from a peer's long data (one row per panellist, item and round), so
that the peer's numbers are reproduced through the same path as ``delphi analyse``: study.yaml,
item bank, roster, one manifest per round (what ``delphi new-round`` writes) and long returns
CSVs (what ``delphi import`` reads)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from delphi.core.models import ItemBank, Roster, Settings
from delphi.core.rounds import build_manifest
from delphi.store.study import manifest_text
from tests.conftest import build_tree

Rating = tuple[str, str, int, int | str | None]
"""(panellist code, item id, round, rating, the unsure code or None)."""


def read_long(path: Path, code: str = "expert", item: str = "item", round_: str = "round",
              rating: str = "rating") -> list[Rating]:
    """The rows of a long CSV as (code, item, round, rating)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row[code], row[item], int(row[round_]),
                 int(row[rating]) if row[rating] not in ("", "NA") else None)
                for row in csv.DictReader(handle)]


def long_study(root: Path, ratings: Iterable[Rating], study_yaml: str,
               texts: Mapping[str, str] | None = None,
               sections: Mapping[str, tuple[str, str]] | None = None,
               returns: bool = True) -> Path:
    """Write a study whose round N asks the items rated in round N, of everyone rated.

    ``sections`` maps an item to its (section id, title), in the order the sections come
    (default: one section ``s``); ``returns=False`` leaves the returns out, for the caller
    to import.
    """
    rows = list(ratings)
    items = list(dict.fromkeys(i for _, i, _, _ in rows))
    codes = list(dict.fromkeys(c for c, _, _, _ in rows))
    texts = texts or {}
    section_of = sections or {}
    grouped: dict[tuple[str, str], list[str]] = {}
    for i in items:
        grouped.setdefault(section_of.get(i, ("s", "Statements")), []).append(i)
    bank = {"sections": [{"id": sid, "title": title, "items": [
        {"id": i, "text": texts.get(i, f"Statement {i}")} for i in members]}
        for (sid, title), members in grouped.items()]}
    panel = {"panellists": [{"code": c, "name": f"Panellist {c}",
                             "email": f"{c.lower()}@example.org", "group": "expert"}
                            for c in codes]}
    build_tree(root, {"study.yaml": study_yaml,
                      "questionnaires/items.yaml": json.dumps(bank, ensure_ascii=False),
                      "panels/panel.yaml": json.dumps(panel, ensure_ascii=False)})
    settings = Settings.model_validate(_yaml(root / "study.yaml"))
    item_bank = ItemBank.model_validate(bank)
    roster = Roster.model_validate(panel)
    for r in sorted({r for _, _, r, _ in rows}):
        asked = {i for _, i, rr, _ in rows if rr == r}
        manifest = build_manifest(settings, item_bank, roster, r,
                                  exclude=[i for i in items if i not in asked])
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["code", "item", "rating"])
        for c, i, rr, v in rows:
            if rr == r:
                writer.writerow([c, i, "" if v is None else v])
        files = {"questionnaire.yaml": manifest_text(manifest)}
        if returns:
            files["returns/returns.csv"] = buffer.getvalue()
        build_tree(root / "rounds" / f"round-{r}", files)
    return root


def _yaml(path: Path) -> Any:
    from delphi.store.yamlfile import read_yaml

    return read_yaml(path, path.name)
