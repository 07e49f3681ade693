"""Names of the PDF form fields of a questionnaire: the contract between rendering and import.

A ``.`` separates the levels of a PDF field name (``a.b`` is field ``b`` inside ``a``), so an
item id such as ``1.10`` cannot be used as it is. Item ids never contain ``~`` (see the item
bank's id pattern), so ``.`` is written as ``~`` and the mapping is reversed exactly.
"""

from __future__ import annotations

RATING_PREFIX = "rating_"
COMMENT_PREFIX = "comment_"
SUGGESTIONS_FIELD = "suggestions"
# Document-information keys (weasyprint's custom metadata keeps letters and digits only).
META_STUDY, META_ROUND, META_CODE = "delphistudy", "delphiround", "delphicode"
# Read-only form fields carrying the same identity: they survive readers that rewrite the
# document information when saving.
CODE_FIELD, ROUND_FIELD, STUDY_FIELD = "delphi_code", "delphi_round", "delphi_study"
READ_ONLY_FIELDS = (CODE_FIELD, ROUND_FIELD, STUDY_FIELD)


def encode_id(item_id: str) -> str:
    """An item id as it may appear in a PDF field name."""
    return item_id.replace(".", "~")


def decode_id(encoded: str) -> str:
    """The item id behind :func:`encode_id`."""
    return encoded.replace("~", ".")


def rating_field(item_id: str) -> str:
    """The radio group of an item's rating."""
    return RATING_PREFIX + encode_id(item_id)


def comment_field(item_id: str) -> str:
    """The text field of a comment on an item."""
    return COMMENT_PREFIX + encode_id(item_id)
