"""Bounds on what a study's files may ask of the tool, and reading files within them.

A study folder is something coordinators share and receive: a file of a gigabyte, a scale of
a billion points or a sheet claiming a million rows must give a clear message, not a hang.
"""

from __future__ import annotations

from pathlib import Path

from delphi.errors import DelphiError, MissingFile, Problem, StudyInvalid

MB = 1024 * 1024
STUDY_FILE_BYTES = 20 * MB  # study.yaml, item bank, roster, manifests
RETURNS_FILE_BYTES = 50 * MB  # one CSV, XLSX or PDF of returns
LOG_FILE_BYTES = 200 * MB  # import-log.jsonl, mail-log.jsonl
RESULTS_FILE_BYTES = 50 * MB  # results.json
BUNDLE_RECORD_BYTES = 50 * MB  # post/round-N-postal-bundle.json
TEMPLATE_FILE_BYTES = 2 * MB  # a study's own template or stylesheet
SHEET_ROWS = 100_000  # rows read from a spreadsheet of returns
SHEET_COLUMNS = 5_000  # columns read from a spreadsheet of returns
YAML_NODES = 2_000_000  # nodes of a YAML document, aliases expanded


def too_big(size: int, limit: int) -> str:
    """The message for a file over its limit."""
    return (f"is {size / MB:.1f} MB, more than the {limit // MB} MB delphi reads from such a "
            "file; is it the right file?")


def read_bounded(path: Path, display: str, limit: int) -> bytes:
    """The bytes of a file of at most ``limit`` bytes; a clear error otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise MissingFile(display) from None
    except IsADirectoryError:
        raise StudyInvalid(Problem("is a folder, not a file", file=display)) from None
    except OSError as exc:
        raise DelphiError(Problem(f"cannot be read ({exc.strerror or exc})",
                                  file=display)) from None
    if len(data) > limit:
        raise StudyInvalid(Problem(too_big(path.stat().st_size, limit), file=display))
    return data


def read_text_bounded(path: Path, display: str, limit: int, hint: str = "") -> str:
    """A UTF-8 text file of at most ``limit`` bytes (a byte-order mark is dropped)."""
    data = read_bounded(path, display, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = f"; {hint}" if hint else ""
        raise StudyInvalid(Problem(f"not UTF-8 text (byte {exc.start}){hint}",
                                   file=display)) from None
