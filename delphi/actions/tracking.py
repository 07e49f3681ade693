"""status: who was invited, who has returned, who is outstanding."""

from __future__ import annotations

from pathlib import Path

from delphi.core.status import RoundStatus, round_status
from delphi.store.study import Study


def status(study: Path | str = ".", round: int | None = None) -> RoundStatus:
    """Invited, returned and outstanding per group, and attrition across rounds."""
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifests = {r: folder.manifest(r) for r in folder.rounds()}
    if round_no not in manifests:
        folder.manifest(round_no)  # raises the round's own error
    returns = {r: folder.returns(r) for r in manifests}
    return round_status(folder.settings, folder.roster, manifests, returns, round_no)


