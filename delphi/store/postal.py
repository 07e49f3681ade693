"""A round's print bundle on disk, and its record of what it was built from.

``rounds/round-N/post/round-N-postal-bundle.pdf`` is the bundle; ``...-postal-bundle.json``
beside it is its record (:class:`~delphi.core.mailing.BundleRecord`): per postal panellist the
hashes of the cover letter and questionnaire that went in, the bundle's own hash and its page
count. A record is written only after the bundle it describes, and removed before a bundle is
replaced, so a run killed at any point leaves either a matching pair or no record, and the
next run builds the bundle again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from delphi.core.mailing import BundleRecord
from delphi.errors import DelphiError
from delphi.store.limits import BUNDLE_RECORD_BYTES, read_bounded
from delphi.store.study import Study, atomic_write, write_bytes


def read_record(study: Study, round_no: int) -> tuple[BundleRecord | None, str | None]:
    """The round's bundle record; or None, and why it cannot be used if there is one.

    The record is the tool's own memory, not the coordinator's: a damaged one is not an
    error, only a reason to build the bundle again.
    """
    path = study.postal_bundle_record_path(round_no)
    if not path.exists():
        return None, None
    try:
        record = BundleRecord.model_validate_json(
            read_bounded(path, study.display(path), BUNDLE_RECORD_BYTES))
    except (DelphiError, ValidationError):
        return None, f"its record {study.display(path)} could not be read"
    return record, None


def file_sha256(path: Path) -> str | None:
    """Hex SHA-256 of a file's bytes, read in blocks; None if it is not there."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def write_bundle(study: Study, round_no: int, pdf: bytes, record: BundleRecord) -> Path:
    """Write the bundle, then its record; the bundle's path.

    The old record goes first: from then on until the new record is in place, no record
    claims the bundle file.
    """
    path = study.postal_bundle_path(round_no)
    study.postal_bundle_record_path(round_no).unlink(missing_ok=True)
    write_bytes(path, pdf)
    write_record(study, round_no, record)
    return path


def write_record(study: Study, round_no: int, record: BundleRecord) -> None:
    """Write (or replace) the bundle's record, atomically."""
    atomic_write({study.postal_bundle_record_path(round_no): json.dumps(
        record.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"})
