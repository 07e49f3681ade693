"""The questionnaire's HTML form in and out: field names are those of the PDF's form fields."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

from delphi.core.fields import SUGGESTIONS_FIELD
from delphi.core.web import Answers

FORM_TOKEN_FIELD = "form_token"
ACTION_FIELD = "action"
DIGEST_FIELD = "answers"
REPLACE_FIELD = "replace"
MAX_FIELDS = 5_000


class FormError(Exception):
    """A request body that is not a form this site made (refused whole)."""


def parse_fields(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a repeated field is refused."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(f"the form could not be read ({exc})") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise FormError(f"the field {name!r} was sent twice")
        fields[name] = value
    return fields


def text(value: str) -> str:
    """Free text as stored: LF line ends, no blank lines around it."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def answers_from(fields: dict[str, str], targets: dict[str, tuple[str, str]],
                 now: datetime, control: tuple[str, ...]) -> tuple[Answers, list[str]]:
    """The answers in a posted questionnaire form, and the fields no questionnaire has.

    ``targets`` maps the questionnaire's answer fields to (kind, answer key); ``control``
    names the form's own fields (token, action). A rating's or choice's value is kept as sent,
    for the import's checks to judge; an open answer, like a comment, with LF line ends.
    """
    ratings: dict[str, str] = {}
    comments: dict[str, str] = {}
    unknown: list[str] = []
    for name, value in fields.items():
        if name in control or name == SUGGESTIONS_FIELD:
            continue
        kind, item_id = targets.get(name, ("", ""))
        if kind == "rating":
            ratings[item_id] = value.strip()
        elif kind == "open":
            ratings[item_id] = text(value)
        elif kind == "comment":
            if text(value):
                comments[item_id] = text(value)
        else:
            unknown.append(name)
    answers = Answers(ratings={k: v for k, v in ratings.items() if v != ""}, comments=comments,
                      suggestions=text(fields.get(SUGGESTIONS_FIELD, "")), saved=now)
    return answers, unknown
