"""The committed example study is exactly what its seeded generator makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from delphi import actions
from delphi.store.study import Study
from tests.conftest import ROOT


def test_generator_reproduces_the_committed_example() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts/generate_example.py"),
                             "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "delphi", "--help"], capture_output=True,
                            text=True, check=False, cwd=ROOT)
    assert result.returncode == 0
    assert "analyse" in result.stdout


EXAMPLES = [ROOT, *sorted(p.parent for p in (ROOT / "examples").glob("*/study.yaml"))]


@pytest.mark.parametrize("study", EXAMPLES, ids=lambda p: "root" if p == ROOT else p.name)
def test_committed_results_are_what_analyse_gives(study: Path) -> None:
    """Stale results files make `delphi new-round` refuse in a fresh clone."""
    folder = Study(study)
    for round_no in folder.rounds():
        stored = folder.stored_results(round_no)
        if stored is not None:
            fresh = actions.analyse(study, round=round_no, write=False).result.to_json()
            assert stored == fresh, f"{study.name} round {round_no}: run delphi analyse"
