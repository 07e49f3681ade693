"""Free text in spreadsheet cells (CSV files we write), kept inert against formula injection.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some a tab or a
carriage return first) as a formula; a panellist's comment must never do that on the
coordinator's machine. One home for the rule, used by the returns store and every CSV we render.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """Free text for a CSV cell that spreadsheets will not run as a formula.

    A leading ``=``, ``+``, ``-``, ``@`` (or an apostrophe, so the mapping can be undone) gets
    an apostrophe in front; :func:`revived` takes it off again when the file is read.
    """
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def revived(text: str) -> str:
    """The free text behind :func:`inert`."""
    return text[1:] if text.startswith("'") else text
