"""The committed example study is exactly what its seeded generator makes."""

from __future__ import annotations

import subprocess
import sys

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
