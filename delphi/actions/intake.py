"""import and enter: returns into the study folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from delphi.core.models import Manifest, PanelReturn, Settings
from delphi.errors import DelphiError, RoundStateError
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


@dataclass(frozen=True)
class EntryForm:
    """What ``delphi enter`` asks about: a panellist's round, checked before any typing."""

    study: Path | str
    round: int
    code: str
    manifest: Manifest
    settings: Settings
    replace: bool


def entry_form(study: Path | str, code: str, round: int | None = None,
               replace: bool = False) -> EntryForm:
    """The round (``--round`` or the latest) and the invited panellist a paper return is for.

    Refuses before any typing: a code not invited to the round, or a panellist who already
    has a return there unless ``replace``.
    """
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifest = folder.manifest(round_no)
    matches = [c for c in manifest.invited if c.upper() == code.strip().upper()]
    if not matches:
        raise RoundStateError(f"panellist code {code!r} was not invited to round {round_no}")
    earlier = next((r for r in folder.returns(round_no) if r.code == matches[0]), None)
    if earlier is not None and not replace:
        raise DelphiError(f"{matches[0]} already has a return for round {round_no} (from "
                          f"{earlier.source}); use --replace to type in a new one")
    return EntryForm(study, round_no, matches[0], manifest, folder.settings, replace)
