"""import and enter: returns into the study folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from delphi.core.models import PanelReturn
from delphi.store.intake import ImportReport, import_entered, import_files
from delphi.store.study import Study


def import_returns(study: Path | str = ".", files: Sequence[Path] = (), round: int | None = None,
                   replace: bool = False) -> ImportReport:
    """Import returns files (CSV, XLSX, filled PDF questionnaires); all or nothing."""
    folder = Study(study).validated()
    return import_files(folder, list(files), round=round, replace=replace)


def enter_return(study: Path | str, round_no: int, entered: PanelReturn,
                 replace: bool = False) -> ImportReport:
    """Store a paper return typed in at the keyboard (see ``delphi enter``)."""
    return import_entered(Study(study), round_no, entered, replace=replace)
