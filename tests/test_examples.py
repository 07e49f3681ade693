"""The studies under examples/: what their generator makes, and every round run with the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, Result

Run = Callable[..., Result]
EXAMPLES = {"enlight-style": 2, "quality-indicators": 3}  # folder: rounds


def test_generator_reproduces_the_committed_examples() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts/generate_examples.py"),
                             "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs_through_every_round(name: str, cli: Run, tmp_path: Path) -> None:
    """From round 1's returns on, the commands give back exactly the committed rounds."""
    source = ROOT / "examples" / name
    study = tmp_path / name
    for part in ("study.yaml", "questionnaires", "panels", "rounds/round-1/questionnaire.yaml"):
        target = study / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if (source / part).is_dir():
            shutil.copytree(source / part, target)
        else:
            shutil.copyfile(source / part, target)
    assert cli("validate", "--study", str(study)).exit_code == 0
    for round_no in range(1, EXAMPLES[name] + 1):
        committed = source / "rounds" / f"round-{round_no}"
        if round_no > 1:
            result = cli("new-round", "--study", str(study), "--workers", "1")
            assert result.exit_code == 0, result.stderr
            assert "laid out on its own" not in result.stdout
            made = study / "rounds" / f"round-{round_no}"
            assert (made / "questionnaire.yaml").read_text() == \
                (committed / "questionnaire.yaml").read_text()
        result = cli("import", str(committed / "returns/returns.csv"), "--study", str(study),
                     "--round", str(round_no))
        assert result.exit_code == 0, result.stderr
        result = cli("analyse", "--study", str(study), "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == json.loads((committed / "results.json").read_text())
    out = tmp_path / "report"
    result = cli("report", "--study", str(study), "--format", "md,json,csv,xlsx,sav",
                 "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert (out / "report.md").read_text().startswith("# ")
