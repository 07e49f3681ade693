"""Lean questionnaires: a PDF carries only the glyphs and drawings it uses.

Weasyprint embeds every glyph of a font that a form field uses (DejaVu Sans: 0.76 MB), because
the text a panellist will type is unknown. A questionnaire avoids that in two steps:

- **Form fields get a font of their own** (:func:`form_css`): an empty font, built here,
  that only form fields use. Weasyprint embeds it whole (under 1 KB), so the fonts of the
  questionnaire's own text are subset to the glyphs it prints.
- **Typed text uses the reader's fonts** (:func:`lean_finisher`): every field's default
  appearance names ``/Helv``, a standard font that is never embedded, which every PDF reader
  maps to one of its own fonts, falling back to the system's fonts for letters beyond Latin.
  Fields have no appearance stream of their own (``NeedAppearances``), so the reader draws
  what the panellist types with fonts that can show it, and the value itself is Unicode text
  that the import reads whatever font showed it.

Radio buttons are drawn by their widgets only, with two appearances (off, on) shared by every
button of a size, instead of a circle in the page content and a stream of its own each.

The structure tree loses the elements that say nothing (:mod:`delphi.render.tags`), and what
the steps free is taken out of the file (:func:`compact`).
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
def form_css(buttons: bool = True) -> str:
    """The stylesheet every questionnaire gets after its own, for its form fields.

    Fields get their own font (a data: URL: nothing is fetched) and radio buttons no border
    (their widgets draw them: :func:`lean_finisher`).
    """
    data = base64.b64encode(_empty_font()).decode("ascii")
    return (f'@font-face {{ font-family: "{FIELD_FONT}"; '
            f'src: url("data:font/ttf;base64,{data}") format("truetype"); }}\n'
            f'input, textarea, select {{ font-family: "{FIELD_FONT}" !important; }}\n'
            + ('input[type=radio] { border: none !important; }\n' if buttons else ''))


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


def lean_finisher(pdf: Any, buttons: bool = True) -> None:
    """Point fields at the reader's font; radio buttons drawn by shared appearances.

    ``buttons`` false keeps weasyprint's way (a circle in the page for each button, and
    ``NeedAppearances``): for a questionnaire with a field that shows a value of its own (an
    earlier round's open answer, in any script), which the reader must draw with fonts that
    can show it; some readers (PDFium) then draw no button of their own.
    """
    import pydyf

    acroform = pdf.catalog.get("AcroForm")
    if not acroform:
        return
    reader_font = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1",
                                    "BaseFont": "/Helvetica", "Encoding": "/WinAnsiEncoding"})
    pdf.add_object(reader_font)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({READER_FONT: reader_font.reference})})
    shared = resolve(pdf, acroform.get("DR"))
    if isinstance(shared, dict) and "ExtGState" in shared:
        resources["ExtGState"] = shared["ExtGState"]  # the opacity the appearances name
    acroform["DR"] = resources
    for obj in pdf.objects:
        appearance = obj.get("DA") if isinstance(obj, dict) else None
        if appearance is not None:
            obj["DA"] = pydyf.String(
                _FONT_OPERATOR.sub(rb"/" + READER_FONT.encode() + rb"\1", appearance.string))
    if buttons:
        _radio_appearances(pdf)
        if _text_appearances(pdf):
            acroform.pop("NeedAppearances", None)


def _text_appearances(pdf: Any) -> bool:
    """Give empty and read-only text fields an empty appearance; whether every widget has one.

    When every widget has one, readers draw the radio buttons' own instead of making theirs.

    With ``NeedAppearances`` readers redraw every field from its border settings, and the
    radio buttons (which weasyprint gives no border) vanish. A field's look is the page's own
    box; a read-only field's value (the panellist's code) is printed in the page. A reader
    draws a field's appearance itself once the panellist types into it.
    """
    import pydyf

    empty = None
    complete = True
    for obj in pdf.objects:
        if not (isinstance(obj, dict) and obj.get("Subtype") == "/Widget") or "AP" in obj:
            continue
        value = obj.get("V")
        text = getattr(value, "string", value)
        if obj.get("FT") == "/Tx" and (not text or int(obj.get("Ff", 0)) & 1):
            if empty is None:
                empty = _add(pdf, pydyf.Stream([b""], pydyf.Dictionary({
                    "Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array((0, 0, 1, 1))})))
            obj["AP"] = pydyf.Dictionary({"N": empty})
        else:
            complete = False
    return complete


def resolve(pdf: Any, value: Any) -> Any:
    """The pydyf object a reference (``b"12 0 R"``) names, or the value itself."""
    if isinstance(value, bytes | str):
        text = value.decode() if isinstance(value, bytes) else value
        if text.endswith(" R"):
            return pdf.objects[int(text.split()[0])]
    return value


def _radio_appearances(pdf: Any) -> None:
    """Every radio button drawn by two shared appearances of its size: off and on.

    The page draws no circles (:func:`form_css` takes the buttons' borders away): a circle in
    the page content costs 0.7 KB a button, 6 KB a statement. Each button's own appearances
    (weasyprint draws one "on" stream per button) become empty objects.
    """
    import pydyf

    shared: dict[tuple[float, float], tuple[bytes, bytes]] = {}
    dropped: set[bytes] = set()
    for obj in pdf.objects:
        if not (isinstance(obj, dict) and obj.get("Subtype") == "/Widget"
                and "Parent" in obj and "AP" in obj):
            continue
        x0, y0, x1, y1 = (float(value) for value in obj["Rect"])
        size = (round(abs(x1 - x0), 3), round(abs(y1 - y0), 3))
        if size not in shared:
            shared[size] = (_add(pdf, _button(*size, on=False)), _add(pdf, _button(*size, on=True)))
        off, on = shared[size]
        states = obj["AP"]["N"]
        _references(states, dropped)
        obj["AP"] = pydyf.Dictionary({"N": pydyf.Dictionary(
            {**{key: on for key in states}, "Off": off})})
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.reference in dropped:
            obj.free = "f"  # :func:`compact` takes it out


_REFERENCE = re.compile(rb"(\d+) 0 R")


def compact(pdf: Any) -> None:
    """Take the objects the lean steps freed out of the PDF, and number the rest in a row.

    A freed object would still take an entry in the cross-reference table, and a run of
    entries broken by free ones no longer compresses (the table's predictor works on the
    difference between one entry and the next).
    """
    objects = pdf.objects
    kept = [objects[0]] + [obj for obj in objects[1:] if obj.free != "f"]
    if len(kept) == len(objects):
        return
    numbers = {obj.number: new for new, obj in enumerate(kept)}

    def renumbered(value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = renumbered(item)
        elif isinstance(value, list):
            value[:] = [renumbered(item) for item in value]
        elif isinstance(value, bytes | str):
            text = value.encode() if isinstance(value, str) else value
            match = _REFERENCE.fullmatch(text)
            if match:
                if int(match[1]) not in numbers:
                    raise ValueError(f"a lean step freed object {int(match[1])}, still referenced")
                return b"%d 0 R" % numbers[int(match[1])]
        return value

    for obj in kept[1:]:
        renumbered(obj.extra if hasattr(obj, "extra") else obj)  # a stream's dictionary
    kids = pdf.pages["Kids"]  # pydyf keeps the pages as (number, 0, "R") triples
    kids[::3] = [numbers[number] for number in kids[::3]]
    for new, obj in enumerate(kept):
        obj.number = new
    objects[:] = kept


def _add(pdf: Any, obj: Any) -> bytes:
    pdf.add_object(obj)
    return bytes(obj.reference)


def _button(width: float, height: float, on: bool) -> Any:
    """A radio button's appearance: a circle, with a dot when it is on."""
    import pydyf

    cx, cy, line = width / 2, height / 2, 0.75
    radius = min(width, height) / 2 - line / 2
    drawing = f"q 0 G {line} w {_circle(cx, cy, radius)} S"
    if on:
        drawing += f" 0 g {_circle(cx, cy, radius * 0.55)} f"
    return pydyf.Stream([(drawing + " Q").encode()], pydyf.Dictionary({
        "Type": "/XObject", "Subtype": "/Form", "BBox": pydyf.Array((0, 0, width, height))}))


def _circle(cx: float, cy: float, r: float) -> str:
    """A circle as four Bézier curves."""
    k = 0.5523 * r
    points = [(cx + r, cy), (cx + r, cy + k), (cx + k, cy + r), (cx, cy + r),
              (cx - k, cy + r), (cx - r, cy + k), (cx - r, cy), (cx - r, cy - k),
              (cx - k, cy - r), (cx, cy - r), (cx + k, cy - r), (cx + r, cy - k), (cx + r, cy)]
    text = [f"{x:.3f} {y:.3f}" for x, y in points]
    curves = " ".join(f"{' '.join(text[i:i + 3])} c" for i in range(1, 13, 3))
    return f"{text[0]} m {curves}"


def _references(value: Any, found: set[bytes]) -> None:
    """Collect the references inside a (nested) dictionary."""
    if isinstance(value, dict):
        for item in value.values():
            _references(item, found)
    elif isinstance(value, bytes | str):
        found.add(value.encode() if isinstance(value, str) else value)
