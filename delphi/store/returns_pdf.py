"""Returns from filled PDF questionnaires, read with pypdf.

The panellist code, round and study come from the PDF itself (the read-only ``delphi_*``
fields and the document information), never from the file name. A rating (one per dimension)
or a choice is a radio group whose value is the chosen button's state; weasyprint names the
states ``/0``, ``/1``... and lists the values (scale value, unsure code, option id) in ``/Opt``,
so the state is mapped through ``/Opt``. An open question is a text field. Every answer is
returned as its wide-CSV cell under its answer key (see :mod:`delphi.core.fields`), so it goes
through the same checks as a CSV cell; the read-only ``own_*`` fields are never read.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delphi.core.fields import (
    ANSWER_PREFIX,
    CODE_FIELD,
    COMMENT_PREFIX,
    META_CODE,
    META_ROUND,
    META_STUDY,
    RATING_PREFIX,
    ROUND_FIELD,
    STUDY_FIELD,
    SUGGESTIONS_FIELD,
    decode_id,
)
from delphi.errors import DelphiError, Problem
from delphi.store.limits import RETURNS_FILE_BYTES, read_bounded


@dataclass
class FormReturn:
    """What a filled questionnaire holds."""

    code: str
    round: int
    study_hash: str
    answers: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    suggestions: str | None = None


def _value(raw: Any) -> str:
    return "" if raw is None else str(raw)


def _radio_value(spec: dict[str, Any]) -> str:
    """The chosen value of a radio group, or "" when nothing is chosen."""
    state = _value(spec.get("/V")).lstrip("/")
    if not state or state == "Off":
        return ""
    options = [str(o) for o in (spec.get("/Opt") or [])]
    if state.isdigit() and options and int(state) < len(options):
        return options[int(state)]
    return state  # a reader that stores the export value itself


def read_pdf(path: Path, display: str,
             data: bytes | None = None) -> tuple[FormReturn | None, list[Problem]]:
    """Read one filled questionnaire; problems name the file and the field."""
    import pypdf

    try:
        if data is None:
            data = read_bounded(path, display, RETURNS_FILE_BYTES)
        reader = pypdf.PdfReader(io.BytesIO(data))
        fields = reader.get_fields() or {}
        info: dict[str, Any] = dict(reader.metadata or {})
        values = {str(name): _value(spec.get("/V")) for name, spec in fields.items()}
        radios = {str(name): _radio_value(dict(spec)) for name, spec in fields.items()
                  if str(name).startswith(RATING_PREFIX)}
    except DelphiError as exc:
        return None, exc.problems
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is "unreadable"
        text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        return None, [Problem(f"not a readable PDF ({type(exc).__name__}"
                              f"{': ' + text if text else ''})", file=display)]

    def identity(field_name: str, meta_key: str) -> str:
        return (values.get(field_name) or _value(info.get(f"/{meta_key}"))).strip()

    code, round_text, study = (identity(CODE_FIELD, META_CODE),
                               identity(ROUND_FIELD, META_ROUND),
                               identity(STUDY_FIELD, META_STUDY))
    if not code or not round_text or not study:
        return None, [Problem("not a delphi questionnaire: it carries no panellist code, round "
                              "and study (was it made by 'delphi new-round'?)", file=display)]
    if not re.fullmatch(r"[0-9]{1,6}", round_text) or int(round_text) < 1:
        return None, [Problem(f"the questionnaire's round is {round_text[:20]!r}, not a round "
                              "number: the file was altered", file=display)]
    if not radios and not any(name.startswith(ANSWER_PREFIX) for name in values):
        return None, [Problem("has no form fields left (it was flattened, or printed to PDF "
                              "rather than saved): its answers cannot be read; save the filled "
                              "form with the PDF reader's Save, or type it in with 'delphi "
                              f"enter {code[:32]}'", file=display)]
    form = FormReturn(code=code, round=int(round_text), study_hash=study)
    for name, value in radios.items():
        form.answers[decode_id(name[len(RATING_PREFIX):])] = value
    for name, text in values.items():
        if name.startswith(ANSWER_PREFIX):
            form.answers[decode_id(name[len(ANSWER_PREFIX):])] = text
        elif name.startswith(COMMENT_PREFIX) and text.strip():
            form.comments[decode_id(name[len(COMMENT_PREFIX):])] = text
        elif name == SUGGESTIONS_FIELD and text.strip():
            form.suggestions = text
    return form, []
