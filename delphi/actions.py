"""What each command does, as plain functions: load from the study folder, call the core, save.

The CLI is a thin layer over these; they are also the library's entry points for scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from delphi.core.analysis import RoundResult, analyse_round
from delphi.core.models import Manifest
from delphi.errors import Problem
from delphi.store.study import Study


@dataclass(frozen=True)
class Analysis:
    """The outcome of :func:`analyse`: the result, its manifest and the files written."""

    study: Study
    result: RoundResult
    manifest: Manifest
    written: list[Path]


def analyse(study: Path | str = ".", round: int | None = None, write: bool = True) -> Analysis:
    """Analyse a round (default: the latest with returns) and write its results files."""
    folder = Study(study)
    _ = (folder.settings, folder.bank, folder.roster)  # every file is validated on load
    round_no = folder.round_to_analyse(round)
    manifest = folder.manifest(round_no)
    result = analyse_round(folder.settings, manifest, folder.roster, folder.returns(round_no))
    written = folder.write_results(result) if write else []
    return Analysis(folder, result, manifest, written)


def validate(study: Path | str = ".") -> list[Problem]:
    """Every problem in a study folder (empty when the study is valid)."""
    return Study(study).problems()
