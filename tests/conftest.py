"""Fixtures: small study folders built inline, and an in-process CLI runner."""

from __future__ import annotations

import hashlib
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from delphi.cli import app
from delphi.core.models import ItemBank, Roster, Settings
from delphi.core.rounds import build_manifest
from delphi.store.study import manifest_text
from delphi.store.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parent.parent

STUDY_YAML = """\
title: Tiny study
scale: {min: 1, max: 9}
anchors: {1: disagree strongly, 9: agree strongly}
bands:
  - {name: disagree, min: 1, max: 3}
  - {name: neutral,  min: 4, max: 6}
  - {name: agree,    min: 7, max: 9}
consensus: {rule: banded, threshold: 0.75}
divergence: {threshold: 2}
quartiles: linear
groups:
  - {id: expert, label: Expert authors}
  - {id: user,   label: Service users}
item_bank: questionnaires/items.yaml
roster: panels/panel.yaml
"""

ITEMS_YAML = """\
sections:
  - id: org
    title: Organisation
    items:
      - id: "1.1"
        text: First statement
      - id: "1.2"
        text: Second statement
  - id: prio
    title: Priorities
    kind: ranking
    anchors: {1: should not be provided, 9: highest priority}
    items:
      - id: "5.1"
        text: Option A
      - id: "5.2"
        text: Option B
"""

PANEL_YAML = """\
panellists:
  - {code: E1, name: Ann Example, email: ann@example.org, group: expert}
  - {code: E2, name: Ben Example, email: ben@example.org, group: expert}
  - {code: U1, name: Cat Example, email: cat@example.org, group: user}
  - {code: U2, name: Dan Example, group: user, delivery: post, address: 1 Example Road}
"""

RETURNS_CSV = """\
code,1.1,1.2,5.1,5.2,comment:1.1,suggestions
E1,8,2,7,5,Nice,
E2,9,3,7,4,,Ask about housing
U1,7,,9,3,,
"""


def build_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (as copier's tests do)."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def write_manifest(root: Path, round_no: int = 1) -> None:
    """Build and write a round's manifest from the files under ``root``."""
    settings = Settings.model_validate(read_yaml(root / "study.yaml", "study.yaml"))
    bank = ItemBank.model_validate(read_yaml(root / "questionnaires/items.yaml", "items"))
    roster = Roster.model_validate(read_yaml(root / "panels/panel.yaml", "panel"))
    manifest = build_manifest(settings, bank, roster, round_no)
    path = root / "rounds" / f"round-{round_no}" / "questionnaire.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest_text(manifest), encoding="utf-8")


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., Path]:
    """A valid tiny study; keyword arguments replace files by relative path."""

    def make(returns: str | None = RETURNS_CSV, files: dict[str, str] | None = None) -> Path:
        root = tmp_path / "study"
        build_tree(root, {"study.yaml": STUDY_YAML, "questionnaires/items.yaml": ITEMS_YAML,
                          "panels/panel.yaml": PANEL_YAML})
        write_manifest(root)
        if returns is not None:
            build_tree(root, {"rounds/round-1/returns/returns.csv": returns})
        build_tree(root, files or {})  # replaced after the manifest is built from valid files
        return root

    return make


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under ``root``: to prove a failed command changed nothing."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``delphi`` in-process at a fixed width of 100 columns."""
    monkeypatch.setenv("COLUMNS", "100")
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


# Weasyprint logs this, once per font, where the system library HarfBuzz-Subset
# (libharfbuzz-subset0 on Debian/Ubuntu) is absent; the fonts are then subset by fontTools, a
# dependency of weasyprint, and the PDF is the same. It is the one weasyprint warning a test
# may see: any other (a missing glyph, a resource it failed or refused to fetch) is a fault.
HARFBUZZ_SUBSET_NOTICE = "Using fontTools instead of HarfBuzz-Subset"


def weasyprint_warnings(records: list[logging.LogRecord]) -> list[str]:
    """Weasyprint's log messages, except the known font-subsetting notice."""
    return [r.getMessage() for r in records if r.name.startswith("weasyprint")
            and not r.getMessage().startswith(HARFBUZZ_SUBSET_NOTICE)]
