"""Lean questionnaires: a PDF carries only the glyphs and drawings it uses.

Weasyprint embeds every glyph of a font that a form field uses (DejaVu Sans: 0.76 MB), because
the text a panellist will type is unknown. A questionnaire avoids that in two steps:

- **Form fields get a font of their own** (:func:`field_font_css`): an empty font, built here,
  that only form fields use. Weasyprint embeds it whole (under 1 KB), so the fonts of the
  questionnaire's own text are subset to the glyphs it prints.
- **Typed text uses the reader's fonts** (:func:`lean_finisher`): every field's default
  appearance names ``/Helv``, a standard font that is never embedded, which every PDF reader
  maps to one of its own fonts, falling back to the system's fonts for letters beyond Latin.
  Fields have no appearance stream of their own (``NeedAppearances``), so the reader draws
  what the panellist types with fonts that can show it, and the value itself is Unicode text
  that the import reads whatever font showed it.

Weasyprint also draws one appearance stream per radio button, the same bytes for every button
of a size: the finisher keeps one of each and points every button at it.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import shutil
from typing import Any

FIELD_FONT = "delphi-form-field"
READER_FONT = "Helv"
_FONT_OPERATOR = re.compile(rb"/[^\s/]+(\s+[0-9.]+\s+Tf)")


@functools.cache
def _empty_font() -> bytes:
    """A TrueType font with a space and nothing else: the form fields' layout font."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "space"])
    builder.setupCharacterMap({0x20: "space"})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({".notdef": empty, "space": empty})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "space": (280, 0)})
    builder.setupHorizontalHeader(ascent=928, descent=-236)
    builder.setupNameTable({"familyName": FIELD_FONT, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=760, sTypoDescender=-240, usWinAscent=928, usWinDescent=236)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


@functools.cache
def field_font_css() -> str:
    """CSS that gives form fields their own font (a data: URL: nothing is fetched)."""
    data = base64.b64encode(_empty_font()).decode("ascii")
    return (f'@font-face {{ font-family: "{FIELD_FONT}"; '
            f'src: url("data:font/ttf;base64,{data}") format("truetype"); }}\n'
            f'input, textarea, select {{ font-family: "{FIELD_FONT}" !important; }}\n')


def font_configuration() -> Any:
    """A weasyprint font configuration that cleans up after itself, also at interpreter exit.

    Weasyprint writes the fonts of ``@font-face`` rules (the field font) to a temporary folder
    and removes it in ``__del__``, which at interpreter exit finds ``shutil.rmtree`` already
    torn down: the folder stayed behind and Python printed the error.
    """
    from weasyprint.text.fonts import FontConfiguration

    class Fonts(FontConfiguration):  # type: ignore[misc]
        def __del__(self, rmtree: Any = shutil.rmtree) -> None:
            if getattr(self, "_folder", None):
                rmtree(self._folder, ignore_errors=True)

    return Fonts()


def lean_finisher(pdf: Any) -> None:
    """Point fields at the reader's font and share identical radio appearances."""
    import pydyf

    acroform = pdf.catalog.get("AcroForm")
    if not acroform:
        return
    reader_font = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1",
                                    "BaseFont": "/Helvetica", "Encoding": "/WinAnsiEncoding"})
    pdf.add_object(reader_font)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({READER_FONT: reader_font.reference})})
    shared = _resolve(pdf, acroform.get("DR"))
    if isinstance(shared, dict) and "ExtGState" in shared:
        resources["ExtGState"] = shared["ExtGState"]  # the opacity the appearances name
    acroform["DR"] = resources
    for obj in pdf.objects:
        appearance = obj.get("DA") if isinstance(obj, dict) else None
        if appearance is not None:
            obj["DA"] = pydyf.String(
                _FONT_OPERATOR.sub(rb"/" + READER_FONT.encode() + rb"\1", appearance.string))
    _share_appearances(pdf)


def _resolve(pdf: Any, value: Any) -> Any:
    """The object a reference (``b"12 0 R"``) names, or the value itself."""
    if isinstance(value, bytes | str):
        text = value.decode() if isinstance(value, bytes) else value
        if text.endswith(" R"):
            return pdf.objects[int(text.split()[0])]
    return value


def _share_appearances(pdf: Any) -> None:
    """One appearance stream for each set of identical ones; the copies become empty objects."""
    import pydyf

    widgets = [obj for obj in pdf.objects
               if isinstance(obj, dict) and obj.get("Subtype") == "/Widget" and "AP" in obj]
    appearances: set[bytes] = set()
    for widget in widgets:
        _references(widget["AP"], appearances)
    first: dict[bytes, bytes] = {}
    replaced: dict[bytes, bytes] = {}
    for index, obj in enumerate(pdf.objects):
        if not isinstance(obj, pydyf.Stream) or obj.free == "f" \
                or obj.reference not in appearances:
            continue
        key = bytes(obj.data)
        if key not in first:
            first[key] = obj.reference
            continue
        replaced[obj.reference] = first[key]
        placeholder = pydyf.Dictionary()
        placeholder.number = obj.number
        pdf.objects[index] = placeholder
    if not replaced:
        return
    for widget in widgets:
        widget["AP"] = _rewrite(widget["AP"], replaced)


def _references(value: Any, found: set[bytes]) -> None:
    """Collect the references inside a (nested) dictionary."""
    if isinstance(value, dict):
        for item in value.values():
            _references(item, found)
    elif isinstance(value, bytes | str):
        found.add(value.encode() if isinstance(value, str) else value)


def _rewrite(value: Any, replaced: dict[bytes, bytes]) -> Any:
    """``value`` with every reference in ``replaced`` pointing at its shared stream."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _rewrite(item, replaced)
        return value
    if isinstance(value, bytes | str):
        reference = value.encode() if isinstance(value, str) else value
        return replaced.get(reference, value)
    return value
