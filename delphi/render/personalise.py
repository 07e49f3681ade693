"""Lay a round's questionnaire out once, then personalise each panellist's copy in milliseconds.

Only the code and the panellist's own previous answers differ between two questionnaires of a
round; laying out the other 99 % of the pages again for each panellist is what made a round's
PDFs take minutes. So weasyprint lays the questionnaire out once, with a *placeholder* in each
of these values, and :class:`SharedLayout` writes each panellist's PDF from that one layout:

- in the pages' content, a placeholder is a run of glyphs in a text-showing operator (``TJ``);
  it is replaced by the glyphs of the panellist's value, in the same font, at the same place.
  Each page's content is cut into pieces (a page's ``Contents`` may be an array of streams):
  the lines that hold a slot are written for every copy, the rest compressed once a round.
  The template prints values in fixed-width boxes (class ``slot``), so nothing else on the
  page would have moved had the value been laid out instead. The text stays real text: it is
  tagged where the placeholder was (screen readers), extractable, searchable and printed;
- in strings outside the content (document title and information, XMP metadata, the
  read-only ``delphi_code`` form field) the placeholder is replaced by the value;
- everything else (fonts, charts, form fields, structure tree) is copied byte for byte.

Fonts are subset to the glyphs a document uses, so the shared layout also prints, out of sight,
every character any panellist's values need (``glyphs``, emptied in every copy): each value's
glyphs are then in the font, with their widths and Unicode mapping.

A placeholder is ``¤N¤``: slot 0 is the code, slot 1 the glyph run, slot 2 + k the own answer of
the k-th answer row with feedback (a rating, a dimension's rating or a choice), then one slot per
open question showing the panellist's own earlier text (in a read-only form field's value).
A template that prints them some other way (split across runs, in a chart) raises
:class:`NotPersonalisable`, and the caller lays each questionnaire out instead.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from delphi.render.templates import VOID_ELEMENTS

MARK = "\u00a4"
CODE_SLOT, GLYPH_SLOT, FIRST_RATING_SLOT = 0, 1, 2
PLACEHOLDER_RE = re.compile(f"{MARK}([0-9]+){MARK}")
_TEXT_OPS = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+([-+0-9.]+)\s+Tf\b|\[([^\]]*)\]\s*TJ\b")
_TJ_ITEMS = re.compile(rb"<([0-9A-Fa-f]*)>|([-+0-9.]+)")
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>")
_BFRANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


class NotPersonalisable(Exception):
    """The shared layout cannot give this questionnaire; lay it out on its own instead."""


class UnprovenVersions(NotPersonalisable):
    """Weasyprint or pydyf is not a version the shared layout was proven with."""


# The shared layout reads weasyprint's PDF objects (pydyf) before they are written: internals
# that may change in any release. It is used only with the releases it was proven with, by
# tests/test_personalise*.py (weasyprint 70.0 and pydyf 0.13.0); on any other, every
# questionnaire is laid out on its own, which gives the same PDFs, slowly, and says so.
PROVEN_WITH = {"weasyprint": "70.", "pydyf": "0.13."}


def unproven_versions() -> UnprovenVersions | None:
    """Why the installed weasyprint or pydyf may not be used for a shared layout, if so."""
    from importlib.metadata import version

    installed = {name: version(name) for name in PROVEN_WITH}
    odd = [f"{name} {v}" for name, v in installed.items()
           if not (v + ".").startswith(PROVEN_WITH[name])]
    if not odd:
        return None
    proven = " and ".join(f"{name} {prefix}x" for name, prefix in PROVEN_WITH.items())
    return UnprovenVersions(f"{' and '.join(odd)} {'is' if len(odd) == 1 else 'are'} not what "
                            f"laying a round out once was proven with ({proven}); install "
                            "those for speed")


def placeholder(slot: int) -> str:
    """The text a slot holds in the shared layout."""
    return f"{MARK}{slot}{MARK}"


@dataclass(frozen=True)
class Placeholders:
    """What the template sees as ``me`` when the shared layout is laid out."""

    code: str
    answers: dict[str, str]
    texts: dict[str, str]
    glyphs: str

    def own(self, key: str) -> str:
        """The placeholder of an own earlier answer."""
        return self.answers[key]


def placeholders(context: Any, personals: Iterable[Any]) -> Placeholders:
    """The template's ``me`` for the shared layout of ``context`` for these panellists."""
    keys, texts = context.rated_items(), context.text_items()
    chars: set[str] = set()
    for me in personals:
        chars.update(me.code)
        for key in keys:
            chars.update(me.own(key))
    chars.discard(MARK)
    first_text = FIRST_RATING_SLOT + len(keys)
    return Placeholders(
        code=placeholder(CODE_SLOT),
        answers={key: placeholder(FIRST_RATING_SLOT + k) for k, key in enumerate(keys)},
        texts={item_id: placeholder(first_text + k) for k, item_id in enumerate(texts)},
        glyphs=placeholder(GLYPH_SLOT) + "".join(sorted(chars)))


def slot_values(context: Any, me: Any) -> dict[int, str]:
    """What each slot says on ``me``'s questionnaire."""
    values = {CODE_SLOT: me.code, GLYPH_SLOT: ""}
    keys = context.rated_items()
    for k, key in enumerate(keys):
        values[FIRST_RATING_SLOT + k] = me.own(key)
    for k, item_id in enumerate(context.text_items(), start=FIRST_RATING_SLOT + len(keys)):
        values[k] = me.texts.get(item_id, "")
    return values


def check_slots(html: str) -> None:
    """Refuse HTML that prints a placeholder as text anywhere but as the whole text of a slot.

    A value printed inline among other text would not keep its place when its length
    changes, so such a template is laid out per panellist instead. Attributes (the code in
    ``data-code`` for the page header, metadata, form field values) and the title are fine.
    """
    from html.parser import HTMLParser

    class Slots(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.open: list[tuple[str, set[str]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in VOID_ELEMENTS:
                self.open.append((tag, set((dict(attrs).get("class") or "").split())))

        def handle_endtag(self, tag: str) -> None:
            while self.open and self.open.pop()[0] != tag:
                pass

        def handle_data(self, data: str) -> None:
            if not PLACEHOLDER_RE.search(data):
                return
            tag, classes = self.open[-1] if self.open else ("", set())
            if tag == "title" or "slot-glyphs" in classes:
                return
            if "slot" not in classes or not PLACEHOLDER_RE.fullmatch(data.strip()):
                raise NotPersonalisable(f"a panellist's value is printed outside a slot (the "
                                        f"whole text of an element of class 'slot'), in <{tag}>")

    Slots().feed(html)


# ------------------------------------------------------------------------ the shared layout


@dataclass(frozen=True)
class _Font:
    """A font resource's glyphs: Unicode text to glyph id, and back."""

    to_unicode: dict[int, str]
    glyph_of: dict[str, int]

    def glyphs(self, text: str) -> list[int]:
        try:
            return [self.glyph_of[char] for char in text]
        except KeyError as missing:
            raise NotPersonalisable(f"the questionnaire's font has no glyph for {missing}") \
                from None


class _Advances:
    """What weasyprint writes after each glyph in a ``TJ`` array, per font and size.

    Weasyprint follows a glyph with the difference between the font's rounded width and the
    advance Pango gave it (``<0028>0<0024>``), or nothing when there is none. The numbers of a
    panellist's value must be the ones weasyprint would have written had it laid the value
    out, so they are read off the layout itself: for each glyph in each font and size, the
    number it is most often followed by (a kerning pair makes the rare exception).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[int, bytes], dict[int, Counter[bytes]]] = {}
        self.chosen: dict[tuple[int, bytes], dict[int, bytes]] = {}

    def observe(self, key: tuple[int, bytes], items: Sequence[tuple[bytes | None, bytes | None]]
                ) -> None:
        """Record a ``TJ`` array's items: (hex glyphs, None) or (None, number)."""
        table = self.seen.setdefault(key, {})
        for index, (hexa, _) in enumerate(items):
            if not hexa:
                continue
            glyphs = [int(hexa[i:i + 4], 16) for i in range(0, len(hexa), 4)]
            following = items[index + 1][1] if index + 1 < len(items) else None
            for position, gid in enumerate(glyphs):
                last = position == len(glyphs) - 1
                table.setdefault(gid, Counter())[(following or b"") if last else b""] += 1

    def freeze(self) -> None:
        """Choose each glyph's number, once all the layout has been seen.

        A glyph never seen in a value's font and size takes its number in that font at any
        size (the numbers are a fraction of the font size, so rarely depend on it).
        """
        any_size: dict[tuple[int, bytes], dict[int, Counter[bytes]]] = {}
        for (font, _), table in self.seen.items():
            merged = any_size.setdefault((font, b""), {})
            for gid, counts in table.items():
                merged.setdefault(gid, Counter()).update(counts)
        self.chosen = {key: {gid: counts.most_common(1)[0][0] for gid, counts in table.items()}
                       for key, table in (*self.seen.items(), *any_size.items())}

    def tj(self, key: tuple[int, bytes], glyphs: Sequence[int]) -> bytes:
        """The ``TJ`` array's items for these glyphs, as weasyprint writes them."""
        after = self.chosen.get(key, {})
        fallback = self.chosen.get((key[0], b""), {})
        out = b"<"
        for gid in glyphs:
            out += b"%04x" % gid
            number = after.get(gid, fallback.get(gid, b""))
            if number:
                out += b">" + number + b"<"
        return out[:-1] if out.endswith(b"<") else out + b">"


@dataclass(frozen=True)
class _Slot:
    """A placeholder inside a ``TJ`` array: which slot, in which font and size."""

    slot: int
    font: _Font
    key: tuple[int, bytes]  # (font, size) for _Advances


def _section(name: str, cmap: bytes) -> list[bytes]:
    return re.findall(rb"begin%s(.*?)end%s" % (name.encode(), name.encode()), cmap, re.S)


def _font(data: bytes) -> _Font:
    """A font from its ``ToUnicode`` CMap."""
    to_unicode: dict[int, str] = {}
    for section in _section("bfrange", data):
        for start, end, first in _BFRANGE.findall(section):
            base = int(first, 16)
            for offset, gid in enumerate(range(int(start, 16), int(end, 16) + 1)):
                to_unicode[gid] = chr(base + offset)
    for section in _section("bfchar", data):
        for gid, text in _BFCHAR.findall(section):
            to_unicode[int(gid, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be", "replace")
    glyph_of: dict[str, int] = {}
    for gid, text in sorted(to_unicode.items()):
        if len(text) == 1:
            glyph_of.setdefault(text, gid)
    return _Font(to_unicode, glyph_of)


def _split_text(data: bytes, fonts: dict[bytes, _Font],
                advances: _Advances) -> list[bytes | _Slot]:
    """A content stream as literal bytes and the slots inside its ``TJ`` arrays."""
    parts: list[bytes | _Slot] = []
    done = 0
    font: _Font | None = None
    size = b""
    for op in _TEXT_OPS.finditer(data):
        if op.group(1) is not None:
            font, size = fonts.get(op.group(1)), op.group(2)
            continue
        body = op.group(3)
        if font is None:
            continue
        items = [(m.start(), m.end(), m.group(1), m.group(2)) for m in _TJ_ITEMS.finditer(body)]
        key = (id(font), size)
        advances.observe(key, [(hexa, number) for _, _, hexa, number in items])
        chars = []  # (index of the TJ item showing it, character)
        for index, (_, _, hexa, _) in enumerate(items):
            for i in range(0, len(hexa or b""), 4):
                text = font.to_unicode.get(int(hexa[i:i + 4], 16), "\0")
                if MARK in text and len(text) != 1:
                    raise NotPersonalisable("a placeholder is printed with a ligature")
                chars += [(index, char) for char in text]
        text = "".join(char for _, char in chars)
        if MARK not in text:
            continue
        spans = list(PLACEHOLDER_RE.finditer(text))
        if sum(m.group(0).count(MARK) for m in spans) != text.count(MARK):
            raise NotPersonalisable(f"a placeholder is split across text runs, or the "
                                    f"questionnaire's own text has a {MARK}: {text!r}")
        base = op.start(3)
        for match in spans:
            first, last = chars[match.start()][0], chars[match.end() - 1][0]
            if int(match.group(1)) == GLYPH_SLOT:
                last = chars[-1][0]  # the glyph run goes, all of it
            if last + 1 < len(items) and items[last + 1][3] is not None:
                last += 1  # the number after the placeholder's last glyph goes with it
            parts.append(data[done:base + items[first][0]])
            parts.append(_Slot(int(match.group(1)), font, key))
            done = base + items[last][1]
    parts.append(data[done:])
    return parts


def _pieces(parts: list[bytes | _Slot]) -> list[bytes | list[bytes | _Slot]]:
    """A page's text cut at the line ends around each slot.

    Gives unchanging bytes, and the lines that hold slots (whole operators: weasyprint writes
    one a line).
    """
    pieces: list[bytes | list[bytes | _Slot]] = []
    line: list[bytes | _Slot] | None = None  # the line with a slot being gathered
    for part in parts:
        if isinstance(part, _Slot):
            if line is None:
                last = pieces[-1] if pieces else None
                before = last if isinstance(last, bytes) else b""
                if before:
                    pieces.pop()
                cut = before.rfind(b"\n") + 1
                if before[:cut]:
                    pieces.append(before[:cut])
                line = [before[cut:]]
                pieces.append(line)
            line.append(part)
        elif line is not None and b"\n" not in part:
            line.append(part)  # the next slot is on the same line
        elif line is not None:
            cut = part.index(b"\n")
            line.append(part[:cut])
            line = None
            if part[cut:]:
                pieces.append(part[cut:])
        elif part:
            pieces.append(part)
    return pieces


def _fill(text: str, values: dict[int, str], quote: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        slot = int(match.group(1))
        if slot not in values:
            raise NotPersonalisable(f"no value for placeholder {match.group(0)!r}")
        return escape(values[slot]) if quote else values[slot]
    return PLACEHOLDER_RE.sub(value, text)


def _has_mark(obj: Any) -> bool:
    import pydyf

    if isinstance(obj, dict):
        return any(_has_mark(value) for value in obj.values())
    if isinstance(obj, list):
        return any(_has_mark(value) for value in obj)
    return isinstance(obj, pydyf.String) and MARK in str(obj.string)


def _substitute(obj: Any, values: dict[int, str]) -> Any:
    """A copy of a pydyf object with the placeholders in its strings replaced."""
    import pydyf

    if isinstance(obj, dict):
        return pydyf.Dictionary({key: _substitute(value, values) for key, value in obj.items()})
    if isinstance(obj, list):
        return pydyf.Array(_substitute(value, values) for value in obj)
    if isinstance(obj, pydyf.String) and MARK in str(obj.string):
        return pydyf.String(_fill(str(obj.string), values))
    return obj


def _number(reference: Any) -> int:
    """The object number in a pydyf reference (``b"12 0 R"``)."""
    return int(bytes(reference).split()[0])


def _resolve(objects: list[Any], value: Any) -> Any:
    """The object a pydyf reference points to, or the value itself."""
    return objects[_number(value)] if isinstance(value, bytes) else value


def _raw(stream: Any) -> bytes:
    """A pydyf stream's data, uncompressed."""
    import pydyf

    data: bytes = pydyf.Stream(stream.stream).data
    return data[data.index(b"\nstream\n") + 8:-len(b"\nendstream")]


def _head(stream: Any) -> bytes:
    """A pydyf stream's dictionary without length and filter, ending before ``>>``."""
    import pydyf

    extra = {k: v for k, v in stream.extra.items() if k not in ("Length", "Filter")}
    return bytes(pydyf.Dictionary(extra).data)[:-2]


# zlib levels: once per round for what never changes; per copy (the cross-reference stream
# only: the lines with slots are a few bytes each and stay uncompressed) a faster one.
ONCE_LEVEL, COPY_LEVEL = 9, 3


def _stream(head: bytes, data: bytes, level: int | None) -> bytes:
    if level is not None:
        data = zlib.compress(data, level)
        head += b"/Filter/FlateDecode"
    return head + b"/Length %d>>\nstream\n%s\nendstream" % (len(data), data)


OBJECTS_PER_STREAM = 1000


class SharedLayout:
    """One laid-out questionnaire with placeholders; writes each panellist's copy from it.

    Built from weasyprint's PDF objects (pydyf) before they are written, so nothing is parsed
    back. Objects that never change are serialised and compressed once; non-stream objects go
    into compressed object streams, as weasyprint writes them.
    """

    def __init__(self, pdf: Any) -> None:
        if pdf.info:
            pdf.add_object(pdf.info)
        self.root = pdf.catalog.number
        self.info = pdf.info.number if pdf.info else None
        self.metadata: dict[int, tuple[bytes, str]] = {}
        self.strings: dict[int, Any] = {}
        self.lines: dict[int, list[bytes | _Slot]] = {}
        self.advances = _Advances()
        # xref[number]: (type, field 2, field 3) of the cross-reference stream's entries.
        xref: list[tuple[int, int, int]] = [(0, 0, 65535)] * len(pdf.objects)
        fonts: dict[int, _Font] = {}
        statics = self._cut_pages(pdf, fonts, xref)
        unchanging, packed = self._sort(pdf.objects, fonts)
        self.advances.freeze()
        if not self.lines:
            raise NotPersonalisable("neither the code nor an own rating was found as text on the "
                                    "laid-out pages")
        statics += unchanging + _object_streams(packed, xref)
        xref.append((0, 0, 0))  # the cross-reference stream itself, set by each copy
        self.size = len(xref)
        self.prefix, self.table = _prefix(statics, xref)
        self.predicted = b"".join(_predict(self.table, row) for row in range(len(xref)))

    def _cut_pages(self, pdf: Any, fonts: dict[int, _Font],
                   xref: list[tuple[int, int, int]]) -> list[tuple[int, bytes]]:
        """Cut each page whose text holds slots into pieces at the lines around each slot.

        The pieces without a slot are serialised (and returned) once; each line with a slot is
        kept in ``lines`` to be written in every copy. New objects are numbered after
        weasyprint's, in ``xref``.
        """
        import pydyf

        objects = pdf.objects
        statics: list[tuple[int, bytes]] = []
        for page in [objects[number] for number in pdf.pages["Kids"][::3]]:
            number = _number(page["Contents"])
            text = _split_text(_raw(objects[number]), self._fonts(objects, page, fonts),
                               self.advances)
            pieces = _pieces(text)
            if len(pieces) == 1 and isinstance(pieces[0], bytes):
                continue
            references = []
            for index, piece in enumerate(pieces):
                own = number if index == 0 else len(xref)  # the first piece takes its number
                if index:
                    xref.append((0, 0, 0))
                references.append(b"%d 0 R" % own)
                if isinstance(piece, bytes):
                    statics.append((own, b"%d 0 obj\n%s\nendobj\n"
                                    % (own, _stream(b"<<", piece, ONCE_LEVEL))))
                else:
                    self.lines[own] = piece
            page["Contents"] = pydyf.Array(references)
            objects[number].free = "f"  # its pieces replace it
        return statics

    def _sort(self, objects: list[Any], fonts: dict[int, _Font]
              ) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        """The other objects: (streams serialised once, the rest for object streams).

        Metadata and strings with a placeholder are kept to be personalised; a placeholder in
        a drawing (form XObject) cannot be.
        """
        import pydyf

        statics: list[tuple[int, bytes]] = []
        packed: list[tuple[int, bytes]] = []
        for obj in objects[1:]:
            number = obj.number
            if obj.free == "f":
                continue
            if not isinstance(obj, pydyf.Stream):
                if _has_mark(obj):
                    self.strings[number] = obj
                else:
                    packed.append((number, bytes(obj.data)))
                continue
            if obj.extra.get("Type") == "/Metadata":
                xml = _raw(obj).decode("utf-8")
                if MARK in xml:
                    self.metadata[number] = (_head(obj), xml)
                    continue
            if obj.extra.get("Subtype") == "/Form":
                drawing = _split_text(_raw(obj), self._fonts(objects, obj.extra, fonts),
                                      self.advances)
                if len(drawing) > 1:
                    raise NotPersonalisable("a placeholder is in a drawing, not in the text")
            statics.append((number, b"%d 0 obj\n%s\nendobj\n" % (number, obj.data)))
        return statics, packed

    @staticmethod
    def _fonts(objects: list[Any], owner: Any, cache: dict[int, _Font]) -> dict[bytes, _Font]:
        """The fonts of a page or form XObject by resource name."""
        names = {}
        resources = _resolve(objects, owner.get("Resources", {}))
        for name, reference in _resolve(objects, resources.get("Font", {})).items():
            number = _number(reference)
            if number not in cache:
                cmap = objects[number].get("ToUnicode")
                if cmap is None:
                    raise NotPersonalisable("a font of the questionnaire has no Unicode map")
                cache[number] = _font(_raw(_resolve(objects, cmap)))
            names[str(name).lstrip("/").encode()] = cache[number]
        return names

    def personalise(self, values: dict[int, str], seed: str) -> bytes:
        """The PDF with each slot saying ``values[slot]``."""
        bodies: list[tuple[int, bytes]] = []
        for number, parts in self.lines.items():
            chunks = []
            for part in parts:
                if isinstance(part, bytes):
                    chunks.append(part)
                elif part.slot in values:
                    chunks.append(self.advances.tj(part.key, part.font.glyphs(values[part.slot])))
                else:
                    raise NotPersonalisable(f"no value for slot {part.slot}")
            bodies.append((number, _stream(b"<<", b"".join(chunks), None)))
        for number, (head, xml) in self.metadata.items():
            data = _fill(xml, values, quote=True).encode("utf-8")
            bodies.append((number, _stream(head, data, None)))
        for number, obj in self.strings.items():
            bodies.append((number, bytes(_substitute(obj, values).data)))
        return self._write(bodies, seed)

    def _write(self, bodies: list[tuple[int, bytes]], seed: str) -> bytes:
        out = [self.prefix]
        position = len(self.prefix)
        table = bytearray(self.table)
        for number, body in bodies:
            chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
            table[number * ENTRY:(number + 1) * ENTRY] = _entry(1, position, 0)
            out.append(chunk)
            position += len(chunk)
        table[-ENTRY:] = _entry(1, position, 0)
        # The table goes through the PNG "Up" predictor (each entry as its difference from the
        # one before), which makes it compress to a third; only the rows around the entries
        # this copy changed need predicting again.
        predicted = bytearray(self.predicted)
        changed = {number for number, _ in bodies} | {self.size - 1}
        for row in changed | {number + 1 for number in changed if number + 1 < self.size}:
            predicted[row * (ENTRY + 1):(row + 1) * (ENTRY + 1)] = _predict(table, row)
        identifier = hashlib.md5(seed.encode() + bytes(table)).hexdigest().encode()
        info = b"/Info %d 0 R" % self.info if self.info is not None else b""
        head = (b"<</Type/XRef/Size %d/W[1 4 2]/Root %d 0 R%s/ID[<%s><%s>]"
                b"/DecodeParms<</Predictor 12/Columns %d>>"
                % (self.size, self.root, info, identifier, identifier, ENTRY))
        out.append(b"%d 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n"
                   % (self.size - 1, _stream(head, bytes(predicted), COPY_LEVEL), position))
        return b"".join(out)


ENTRY = 7  # bytes of a cross-reference stream entry: /W [1 4 2]


def _object_streams(packed: list[tuple[int, bytes]],
                    xref: list[tuple[int, int, int]]) -> list[tuple[int, bytes]]:
    """Compressed object streams holding ``packed``, numbered after the objects so far.

    Each member's cross-reference entry is set; each stream's own entry is added to ``xref``
    and set when the stream is placed in the file.
    """
    streams = []
    for start in range(0, len(packed), OBJECTS_PER_STREAM):
        chunk = packed[start:start + OBJECTS_PER_STREAM]
        number = len(xref)
        xref.append((0, 0, 0))
        offsets, position = [], 0
        for index, (member, data) in enumerate(chunk):
            offsets.append(b"%d %d" % (member, position))
            position += len(data) + 1
            xref[member] = (2, number, index)
        index_line = b" ".join(offsets) + b"\n"
        body = _stream(b"<</Type/ObjStm/N %d/First %d" % (len(chunk), len(index_line)),
                       index_line + b"\n".join(data for _, data in chunk), ONCE_LEVEL)
        streams.append((number, b"%d 0 obj\n%s\nendobj\n" % (number, body)))
    return streams


def _prefix(statics: list[tuple[int, bytes]],
            xref: list[tuple[int, int, int]]) -> tuple[bytes, bytearray]:
    """The start of every copy (header and unchanging objects) and its cross-reference table.

    Unchanging objects come first, so their offsets are the same in every copy: the start of
    the file and of the cross-reference table are made once.
    """
    prefix = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
    position = len(prefix[0])
    for number, serialised in statics:
        xref[number] = (1, position, 0)
        prefix.append(serialised)
        position += len(serialised)
    return b"".join(prefix), bytearray(b"".join(_entry(*entry) for entry in xref))


def _predict(table: bytes | bytearray, row: int) -> bytes:
    """One row of a cross-reference table through the PNG "Up" predictor (filter byte 2)."""
    above = table[(row - 1) * ENTRY:row * ENTRY] if row else bytes(ENTRY)
    here = table[row * ENTRY:(row + 1) * ENTRY]
    return b"\x02" + bytes((a - b) & 0xFF for a, b in zip(here, above, strict=True))


def _entry(kind: int, second: int, third: int) -> bytes:
    return kind.to_bytes(1, "big") + second.to_bytes(4, "big") + third.to_bytes(2, "big")
