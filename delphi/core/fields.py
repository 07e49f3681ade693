"""Names of the PDF form fields of a questionnaire: the contract between rendering and import.

A ``.`` separates the levels of a PDF field name (``a.b`` is field ``b`` inside ``a``), so an
item id such as ``1.10`` cannot be used as it is. Item and dimension ids never contain ``~``
or ``/`` (see the item bank's id pattern), so ``.`` is written as ``~`` and the mapping is
reversed exactly.

Every answer is named by its *answer key* (:func:`delphi.core.answers.answer_key`), the column
it has in a wide returns CSV: the item id, or ``<item id>/<dimension id>`` for one dimension of
a statement with dimensions. The fields:

- ``rating_<key>``: the radio group of a rating (one per dimension) or of a choice; its
  buttons' values are the scale's values, then the unsure code (a rating's last option), or
  the choice's option ids. ``rating_1~10/feasibility`` is 1.10's feasibility rating.
- ``answer_<item>``: the text box of an open question.
- ``comment_<item>``: a comment on an item; ``suggestions``: the closing text box.
- ``own_<item>``: read-only, the panellist's own answer to an open question in the previous
  round, shown back; never imported.
"""

from __future__ import annotations

RATING_PREFIX = "rating_"
COMMENT_PREFIX = "comment_"
ANSWER_PREFIX = "answer_"
OWN_TEXT_PREFIX = "own_"
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


def rating_field(key: str) -> str:
    """The radio group of a rating or choice, by its answer key."""
    return RATING_PREFIX + encode_id(key)


def comment_field(item_id: str) -> str:
    """The text field of a comment on an item."""
    return COMMENT_PREFIX + encode_id(item_id)


def answer_field(item_id: str) -> str:
    """The text field of the answer to an open question."""
    return ANSWER_PREFIX + encode_id(item_id)


def own_text_field(item_id: str) -> str:
    """The read-only field showing a panellist's own earlier answer to an open question."""
    return OWN_TEXT_PREFIX + encode_id(item_id)
