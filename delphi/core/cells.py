"""Free text in spreadsheet cells: the one list of what makes a cell a formula.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some a tab or a
carriage return before one) as a formula. Text the tool writes for a spreadsheet to open is
made inert by an apostrophe in front, which :func:`revived` takes off again, so the mapping
is exactly reversible: text that itself starts with an apostrophe gets a second one.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula."""
    return text.startswith(FORMULA_START)


def inert(text: str) -> str:
    """Free text for a CSV cell that spreadsheets will not run as a formula.

    A text starting like a formula (or with an apostrophe, so the mapping can be undone) gets
    an apostrophe in front; :func:`revived` takes it off again.
    """
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def revived(text: str) -> str:
    """The free text behind :func:`inert` (only for files written through :func:`inert`)."""
    return text[1:] if text.startswith("'") else text
