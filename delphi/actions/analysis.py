"""analyse and validate: a round's statistics, from the study folder to results files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from delphi.core.analysis import RoundResult, analyse_round
from delphi.core.models import Manifest, RuleName
from delphi.errors import Problem
from delphi.store.study import Study, results_json


@dataclass(frozen=True)
class Analysis:
    """The outcome of :func:`analyse`: the result, its manifest and the files written.

    ``json``: the result as ``analyse --json`` prints it (with ``rules``, their verdicts too).
    """

    study: Study
    result: RoundResult
    manifest: Manifest
    written: list[Path]
    json: str


def compute_round(folder: Study, round_no: int, rules: Sequence[RuleName] = ()) -> RoundResult:
    """A round's results exactly as ``delphi analyse`` writes them.

    They come from the round's manifest and returns, and the previous round's returns for
    the items' stability.
    """
    previous = None
    if round_no > 1 and (round_no - 1) in folder.rounds():
        previous = (round_no - 1, folder.returns(round_no - 1))
    return analyse_round(folder.settings, folder.manifest(round_no), folder.roster,
                         folder.returns(round_no), previous=previous, rules=rules)


def analyse(study: Path | str = ".", round: int | None = None, write: bool = True,
            rules: Sequence[RuleName] = ()) -> Analysis:
    """Analyse a round (default: the latest with returns) and write its results files.

    ``rules`` adds each item's verdict under those consensus rules to the output; the files
    written are always the study's own rule alone, so they do not depend on the options.
    """
    folder = Study(study).validated()  # every file is validated on load
    round_no = folder.round_to_analyse(round)
    manifest = folder.manifest(round_no)
    shown = compute_round(folder, round_no, rules)
    result = shown.model_copy(update={"items": [i.model_copy(update={"rules": None})
                                                for i in shown.items]}) if rules else shown
    text = results_json(shown)
    written = folder.write_results(result, text if result is shown else None) if write else []
    return Analysis(folder, shown, manifest, written, text)


def validate(study: Path | str = ".") -> list[Problem]:
    """Every problem in a study folder (empty when the study is valid)."""
    return Study(study).problems()


