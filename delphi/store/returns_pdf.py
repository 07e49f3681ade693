"""Returns from filled PDF questionnaires, read with pypdf.

The panellist code, round and study come from the PDF itself (the read-only ``delphi_*``
fields and the document information), never from the file name. A rating is a radio group
whose value is the chosen button's state; weasyprint names the states ``/0``..``/8`` and lists
the values in ``/Opt``, so the state is mapped through ``/Opt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delphi.core.fields import (
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
from delphi.errors import Problem


@dataclass
class FormReturn:
    """What a filled questionnaire holds."""

    code: str
    round: int
    study_hash: str
    ratings: dict[str, str] = field(default_factory=dict)
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


def read_pdf(path: Path, display: str) -> tuple[FormReturn | None, list[Problem]]:
    """Read one filled questionnaire; problems name the file and the field."""
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(path)
        fields = reader.get_fields() or {}
        info: dict[str, Any] = dict(reader.metadata or {})
    except (PdfReadError, OSError, ValueError) as exc:
        return None, [Problem(f"not a readable PDF ({exc})", file=display)]
    values = {name: _value(spec.get("/V")) for name, spec in fields.items()}

    def identity(field_name: str, meta_key: str) -> str:
        return values.get(field_name) or _value(info.get(f"/{meta_key}"))

    code, round_text, study = (identity(CODE_FIELD, META_CODE),
                               identity(ROUND_FIELD, META_ROUND),
                               identity(STUDY_FIELD, META_STUDY))
    if not code or not round_text.isdigit() or not study:
        return None, [Problem("not a delphi questionnaire: it carries no panellist code, round "
                              "and study (was it made by 'delphi new-round'?)", file=display)]
    form = FormReturn(code=code.strip(), round=int(round_text), study_hash=study.strip())
    for name, spec in fields.items():
        if name.startswith(RATING_PREFIX):
            form.ratings[decode_id(name[len(RATING_PREFIX):])] = _radio_value(dict(spec))
        elif name.startswith(COMMENT_PREFIX) and values[name].strip():
            form.comments[decode_id(name[len(COMMENT_PREFIX):])] = values[name]
        elif name == SUGGESTIONS_FIELD and values[name].strip():
            form.suggestions = values[name]
    return form, []
