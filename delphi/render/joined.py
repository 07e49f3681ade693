"""One PDF for printing, made of the pages of many, written as they come.

The print bundle of a round joins a cover letter and a questionnaire per postal panellist,
hundreds or thousands of them. :class:`PrintJoin` copies each document's pages and the objects
they use into the output at once and forgets the document, so memory does not grow with the
number of documents; an object already written with the same bytes (a font the questionnaires
share, a radio button's drawing) is written once and referred to again.

The result is for printing only: each page's form fields are drawn into it (their appearance
when printed) and left out, as are links, the document's outline and its structure tree. A
text field with a value but no appearance of its own (the reader is to draw it, in whatever
script it is written) is drawn by a :data:`FieldText` the caller gives, or left out.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable
from typing import Any

# (field name, value, width, height in points, its default appearance): a one-page PDF of that
# size showing the value, or None to leave the field out
FieldText = Callable[[str, str, float, float, str], bytes | None]

_PRINT, _HIDDEN, _NO_VIEW = 4, 2, 32  # annotation flags (PDF 32000-1, 12.5.3)
_PAGE_LEFT_OUT = ("/Parent", "/Annots", "/StructParents", "/B", "/Contents", "/Resources")


class PrintJoin:
    """A PDF being written page by page: :meth:`add` documents, then :meth:`finish`."""

    def __init__(self, field_text: FieldText | None = None) -> None:
        self.field_text = field_text
        self.out = io.BytesIO()
        self.out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.offsets: list[int] = [0, 0, 0]  # 0: free; 1: the page tree, 2: the catalog
        self.known: dict[bytes, int] = {}  # SHA-256 of an object's bytes -> its number
        self.kids: list[int] = []

    @property
    def pages(self) -> int:
        """How many pages were added."""
        return len(self.kids)

    def add(self, pdf: bytes) -> None:
        """Add every page of a PDF document (its bytes), its form fields drawn in."""
        import pypdf

        copier = _Copier(self)
        for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
            self._page(page, copier)

    def finish(self) -> bytes:
        """The whole PDF."""
        kids = " ".join(f"{n} 0 R" for n in self.kids)
        self.write_at(1, f"<</Type/Pages/Kids[{kids}]/Count {len(self.kids)}>>".encode())
        self.write_at(2, b"<</Type/Catalog/Pages 1 0 R>>")
        start = self.out.tell()
        entries = "".join(f"{offset:010d} 00000 n \n" for offset in self.offsets[1:])
        self.out.write(f"xref\n0 {len(self.offsets)}\n0000000000 65535 f \n{entries}"
                       f"trailer\n<</Size {len(self.offsets)}/Root 2 0 R>>\n"
                       f"startxref\n{start}\n%%EOF\n".encode())
        return self.out.getvalue()

    def _page(self, page: Any, copier: _Copier) -> None:
        from pypdf.generic import DictionaryObject

        widgets = self._widgets(page, copier)
        resources = DictionaryObject(_get(page, "/Resources") or {})
        own = _get(resources, "/XObject") or {}
        resources.pop("/XObject", None)
        xobjects = [_name(key) + b" " + copier.value(value) for key, value in own.items()]
        xobjects += [b"/DelphiWidget%d %s" % (n, ref) for n, (ref, _) in enumerate(widgets)]
        drawings = b"\n".join(b"q %s cm /DelphiWidget%d Do Q" % (matrix, n)
                               for n, (_, matrix) in enumerate(widgets))
        written = copier.value(resources)  # the page's own: others may share the document's
        if xobjects:
            written = written[:-2] + b"/XObject<<" + b" ".join(xobjects) + b">>>>"
        contents = page.get("/Contents")  # a stream, or an array of them, by reference
        resolved = contents.get_object() if contents is not None else None
        streams = list(resolved) if isinstance(resolved, list) else [contents] * (
            contents is not None)
        parts = [copier.value(stream) for stream in streams]
        if drawings:  # the page's own content in q ... Q, then the fields on top
            parts = [self._stream(b"q"), *parts, self._stream(b"Q\n" + drawings)]
        entries = b"".join(_name(key) + b" " + copier.value(value)
                           for key, value in page.items() if key not in _PAGE_LEFT_OUT)
        body = (b"<<" + entries + b"/Parent 1 0 R/Resources " + written
                + b"/Contents[" + b" ".join(parts) + b"]>>")
        self.kids.append(self._write(body))

    def _widgets(self, page: Any, copier: _Copier) -> list[tuple[bytes, bytes]]:
        """The page's printable widgets: each a form XObject drawing it, and where it goes.

        The matrix places the form on the widget's rectangle (PDF 32000-1, 12.5.5). A widget
        draws its normal appearance (for a button, the one of its state ``/AS``); a text field
        with a value and no appearance is drawn by ``field_text`` if given.
        """
        from pypdf.generic import DictionaryObject, StreamObject

        drawn = []
        for reference in _get(page, "/Annots") or []:
            widget = reference.get_object()
            flags = int(_get(widget, "/F") or 0)
            if _get(widget, "/Subtype") != "/Widget" or not flags & _PRINT or flags & (
                    _HIDDEN | _NO_VIEW):
                continue
            rect = [float(v) for v in widget["/Rect"]]
            appearance = (_get(widget, "/AP") or {}).get("/N")
            form = appearance.get_object() if appearance is not None else None
            if isinstance(form, DictionaryObject) and not isinstance(form, StreamObject):
                appearance = form.get(_get(widget, "/AS") or "/Off")
                form = appearance.get_object() if appearance is not None else None
            if isinstance(form, StreamObject):
                if form.get_data().strip():
                    drawn.append((copier.value(appearance), _fit(form, rect)))
                continue
            text = self._text(widget, rect)
            if text is not None:
                drawn.append(text)
        return drawn

    def _text(self, widget: Any, rect: list[float]) -> tuple[bytes, bytes] | None:
        """A text field's value drawn by ``field_text``, as a form XObject and its place."""
        value = _field(widget, "/V")
        if self.field_text is None or _field(widget, "/FT") != "/Tx" or not value:
            return None
        width, height = abs(rect[2] - rect[0]), abs(rect[3] - rect[1])
        made = self.field_text(str(_field(widget, "/T") or ""), str(value), width, height,
                               str(_field(widget, "/DA") or ""))
        if made is None:
            return None
        import pypdf

        drawing = pypdf.PdfReader(io.BytesIO(made)).pages[0]
        streams = drawing.get("/Contents")
        resolved = streams.get_object() if streams is not None else []
        data = b"\n".join(s.get_object().get_data() for s in (
            resolved if isinstance(resolved, list) else [resolved]))
        x0, y0, x1, y1 = (float(v) for v in drawing.mediabox)
        resources = _Copier(self).value(_get(drawing, "/Resources") or {})
        packed = zlib.compress(data)
        form = self.shared(b"<</Type/XObject/Subtype/Form/BBox[%s]/Resources %s"
                           b"/Filter/FlateDecode/Length %d>>stream\n"
                           % (" ".join(f"{v:.4f}" for v in (x0, y0, x1, y1)).encode(), resources,
                              len(packed)) + packed + b"\nendstream")
        scale = f"{width / (x1 - x0):.4f} 0 0 {height / (y1 - y0):.4f}" if x1 > x0 and y1 > y0 \
            else "1 0 0 1"
        return b"%d 0 R" % form, (f"{scale} {min(rect[0], rect[2]) - x0:.4f} "
                                  f"{min(rect[1], rect[3]) - y0:.4f}").encode()

    def _stream(self, data: bytes) -> bytes:
        """A new content stream; a reference to it."""
        return b"%d 0 R" % self.shared(b"<</Length %d>>stream\n" % len(data) + data
                                       + b"\nendstream")

    def shared(self, body: bytes) -> int:
        """The number of an object with these bytes: one written before, or written now."""
        digest = hashlib.sha256(body).digest()
        number = self.known.get(digest)
        if number is None:
            number = self.known[digest] = self._write(body)
        return number

    def reserve(self) -> int:
        """A number for an object written later (one that refers to itself on the way)."""
        self.offsets.append(0)
        return len(self.offsets) - 1

    def _write(self, body: bytes) -> int:
        number = self.reserve()
        self.write_at(number, body)
        return number

    def write_at(self, number: int, body: bytes) -> None:
        """Write an object under a number :meth:`reserve` gave."""
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")


class _Copier:
    """Writes one document's objects into a :class:`PrintJoin`, each the first time it is met."""

    def __init__(self, join: PrintJoin) -> None:
        self.join = join
        self.numbers: dict[int, int] = {}  # the document's object number -> the output's
        self.open: dict[int, int | None] = {}  # objects being copied -> number if referred to

    def value(self, value: Any) -> bytes:
        """A value as output bytes; the objects it refers to are written first."""
        from pypdf.generic import (
            ArrayObject,
            DictionaryObject,
            IndirectObject,
            StreamObject,
        )

        if isinstance(value, IndirectObject):
            return b"%d 0 R" % self._object(value)
        if isinstance(value, StreamObject):  # only ever indirect in a PDF
            return b"%d 0 R" % self.join.shared(self._stream_body(value))
        if isinstance(value, DictionaryObject):
            return b"<<" + b"".join(_name(key) + b" " + self.value(item)
                                    for key, item in value.items()) + b">>"
        if isinstance(value, ArrayObject):
            return b"[" + b" ".join(self.value(item) for item in value) + b"]"
        buffer = io.BytesIO()
        value.write_to_stream(buffer)
        return buffer.getvalue()

    def _object(self, reference: Any) -> int:
        number = reference.idnum
        if number in self.numbers:
            return self.numbers[number]
        if number in self.open:  # a cycle: the object refers to itself through others
            reserved = self.open[number]
            if reserved is None:
                reserved = self.open[number] = self.join.reserve()
            return reserved
        self.open[number] = None
        target = reference.get_object()
        from pypdf.generic import StreamObject

        body = self._stream_body(target) if isinstance(target, StreamObject) \
            else self.value(target)
        reserved = self.open.pop(number)
        if reserved is None:
            written = self.join.shared(body)
        else:
            self.join.write_at(reserved, body)
            written = reserved
        self.numbers[number] = written
        return written

    def _stream_body(self, stream: Any) -> bytes:
        """A stream as it is stored (still encoded, its filters kept), references rewritten."""
        data: bytes = stream._data  # the stored bytes; get_data() would decode them
        entries = b"".join(_name(key) + b" " + self.value(item)
                           for key, item in stream.items() if key != "/Length")
        return (b"<<" + entries + b"/Length %d>>stream\n" % len(data) + data
                + b"\nendstream")


def _get(dictionary: Any, key: str) -> Any:
    """A dictionary's entry, followed if it is a reference; None if absent."""
    value = dictionary.get(key)
    return value.get_object() if value is not None else None


def _field(widget: Any, key: str) -> Any:
    """A field's entry, from the widget or the field above it that holds it (inheritance)."""
    node = widget
    for _ in range(32):  # a deeper field tree is not a questionnaire's
        value = _get(node, key)
        if value is not None or "/Parent" not in node:
            return value
        node = node["/Parent"]
    return None


def _name(key: str) -> bytes:
    from pypdf.generic import NameObject

    buffer = io.BytesIO()
    NameObject(key).write_to_stream(buffer)
    return buffer.getvalue()


def _fit(form: Any, rect: list[float]) -> bytes:
    """The matrix that puts an appearance's box, as its own matrix turns it, on ``rect``."""
    a, b, c, d, e, f = (float(v) for v in form.get("/Matrix", [1, 0, 0, 1, 0, 0]))
    x0, y0, x1, y1 = (float(v) for v in form.get("/BBox", [0, 0, 1, 1]))
    corners = [(a * x + c * y + e, b * x + d * y + f) for x in (x0, x1) for y in (y0, y1)]
    left, right = min(x for x, _ in corners), max(x for x, _ in corners)
    bottom, top = min(y for _, y in corners), max(y for _, y in corners)
    r0, r1, r2, r3 = rect
    sx = abs(r2 - r0) / (right - left) if right > left else 1.0
    sy = abs(r3 - r1) / (top - bottom) if top > bottom else 1.0
    tx, ty = min(r0, r2) - sx * left, min(r1, r3) - sy * bottom  # Do applies the own matrix
    return " ".join(f"{v:.4f}" for v in (sx, 0, 0, sy, tx, ty)).encode()
