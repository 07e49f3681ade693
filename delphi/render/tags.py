"""A tagged PDF's structure tree without the elements that say nothing.

Weasyprint tags every box it lays out: each line of text becomes a ``Span`` element of its
own, each anonymous box a ``NonStruct``, each ``<div>`` a ``Div``. A questionnaire of 100
statements carried 12,000 structure elements, more than half of its bytes. Screen readers and
text extraction get nothing from most of them: a ``Span`` without attributes only groups text
inline, a ``NonStruct`` is by definition no structure at all (ISO 32000 14.8.4.2: its content
is treated as if it belonged to the parent), a ``Div`` that only wraps other elements is a
generic group without a role, and an empty one holds nothing.

:func:`lean_tags` folds such elements into their parent, in place and in order, so the parent
holds their content (marked-content ids, child elements) directly, and drops empty ones. A
``Div`` that holds text itself stays: folding it would run its text into its neighbours'. What
carries meaning stays as it was: headings, paragraphs, tables with their cells and header
ids, figures with their alternative text, links, form fields, and every element with an
attribute, a language or an alternative text. The parent tree (marked content and annotations
to their element) is updated to the element that now holds each piece of content.
"""

from __future__ import annotations

from typing import Any

from delphi.render.lean import resolve

#: Elements that only group: folded into their parent when they have nothing but content
#: (a ``Div`` only when that content is other elements).
_GROUPING = frozenset(("/Span", "/NonStruct"))
#: Elements dropped when they hold nothing (a table cell stays, even empty: the grid needs it).
_EMPTY_DROPPED = frozenset(("/Span", "/NonStruct", "/Div"))
#: Keys of an element that carries no meaning beyond its role and content.
_PLAIN_KEYS = frozenset(("Type", "S", "K", "Pg", "P"))


def lean_tags(pdf: Any) -> None:
    """Fold plain ``Span``, ``NonStruct`` and wrapping ``Div`` elements; drop empty ones."""
    root = resolve(pdf, pdf.catalog.get("StructTreeRoot"))
    if not isinstance(root, dict):
        return
    tree = _Tree(pdf, root)
    for kid in root.get("K", ()):
        element = resolve(pdf, kid)
        if isinstance(element, dict):
            tree.tidy(element)


class _Tree:
    def __init__(self, pdf: Any, root: Any) -> None:
        self.pdf = pdf
        # Each page's marked-content ids to their element, by the page's reference.
        self.content: dict[bytes, Any] = {}
        nums = resolve(pdf, root.get("ParentTree"))
        entries = nums.get("Nums", ()) if isinstance(nums, dict) else ()
        by_key = {entries[i]: entries[i + 1] for i in range(0, len(entries) - 1, 2)}
        for number in pdf.pages["Kids"][::3]:  # the pages as (number, 0, R) triples
            page_object = pdf.objects[number]
            mapping = resolve(pdf, by_key.get(page_object.get("StructParents")))
            if mapping is not None:
                self.content[page_object.reference] = mapping

    def tidy(self, element: Any) -> None:
        """Tidy the elements under ``element`` (children first), then its own kids."""
        kids: list[Any] = []
        for kid in element.get("K", ()):
            child = self._element(kid)
            if child is None:
                kids.append(kid)  # marked content, a marked-content or object reference
                continue
            self.tidy(child)
            if self._empty(child):
                _drop(child)
            elif self._foldable(child, element):
                kids.extend(self._fold(child, element))
                _drop(child)
            else:
                kids.append(kid)
        element["K"] = type(element.get("K", []))(kids)
        attributes = element.get("A")
        if isinstance(attributes, dict) and attributes.get("Headers") == []:
            del attributes["Headers"]  # a cell of a table without header cells
        if "Pg" in element and not any(isinstance(kid, int) for kid in kids):
            del element["Pg"]  # the page of marked content it holds: it holds none directly

    def _element(self, kid: Any) -> Any:
        """The structure element a kid refers to, or None (marked content, an annotation)."""
        target = resolve(self.pdf, kid) if isinstance(kid, bytes | str) else None
        return target if isinstance(target, dict) and target.get("Type") == "/StructElem" \
            else None

    @staticmethod
    def _empty(element: Any) -> bool:
        return (element.get("S") in _EMPTY_DROPPED and not element.get("K")
                and set(element) <= _PLAIN_KEYS)

    def _foldable(self, child: Any, parent: Any) -> bool:
        """Whether ``child`` only groups, and its marked content is on its parent's page.

        A plain ``Span`` or ``NonStruct``, or a plain ``Div`` that holds only elements.
        """
        if not set(child) <= _PLAIN_KEYS:
            return False
        if any(not isinstance(kid, int) and self._element(kid) is None
               for kid in child.get("K", ())):
            return False  # it holds an annotation (say, a link's): the parent tree names it
        content = [kid for kid in child.get("K", ()) if isinstance(kid, int)]
        if child.get("S") not in _GROUPING and not (child.get("S") == "/Div" and not content):
            return False
        if not content:
            return True
        page = parent.get("Pg")
        mapping = self.content.get(page) if page is not None else None
        return (mapping is not None and child.get("Pg") == page
                and all(0 <= mcid < len(mapping) for mcid in content))

    def _fold(self, child: Any, parent: Any) -> list[Any]:
        """``child``'s kids, now ``parent``'s: the parent tree and the kids point to it."""
        reference = parent.reference
        kids = list(child.get("K", ()))
        for kid in kids:
            if isinstance(kid, int):
                self.content[parent["Pg"]][kid] = reference
            else:
                self._element(kid)["P"] = reference  # only elements and content are folded
        return kids


def _drop(obj: Any) -> None:
    """Free a pydyf object (:func:`delphi.render.lean.compact` takes it out of the file)."""
    obj.free = "f"
