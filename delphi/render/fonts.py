"""Every character of a document must be printable by an installed font, checked before any PDF.

weasyprint lays text out with Pango, which takes each character from the stylesheet's font
(DejaVu Sans) or, failing that, from any installed font that has it (fontconfig's fallback).
A character no installed font has is printed as an empty box, silently. So before a PDF is
written, the text of its HTML is checked against the characters the installed fonts cover, as
fontconfig reports them (``fc-list``), or, where fontconfig's tools are not installed, as the
fonts' own character maps say (fontTools, over the usual font folders).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from delphi.core.fields import decode_id
from delphi.errors import DelphiError, Problem
from delphi.render.templates import VOID_ELEMENTS

# Characters that print nothing of their own: spaces, line breaks, controls, format characters
# (direction marks, joiners, soft hyphens) and variation selectors.
SILENT_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}
VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))

FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
             "/Library/Fonts", "/System/Library/Fonts", "~/Library/Fonts",
             os.path.join(os.environ.get("WINDIR", "C:\\Windows"), "Fonts")]

INSTALL_HINT = ("install a font that has it and run the command again: on Debian or Ubuntu "
                "'apt-get install fonts-noto-core' (most scripts) or 'fonts-noto-cjk' (Chinese, "
                "Japanese, Korean); elsewhere any font with these characters (fontconfig finds "
                "fonts in ~/.local/share/fonts after 'fc-cache')")


def _ranges(charset: str) -> Iterator[range]:
    """Fontconfig's ``%{charset}``: hexadecimal code points and ranges, ``20-7e a0 ...``."""
    for part in charset.split():
        low, _, high = part.partition("-")
        try:
            yield range(int(low, 16), int(high or low, 16) + 1)
        except ValueError:
            continue


def _from_fontconfig() -> set[int] | None:
    executable = shutil.which("fc-list")
    if executable is None:
        return None
    try:
        output = subprocess.run([executable, "--format", "%{charset}\n"], capture_output=True,
                                text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    covered: set[int] = set()
    for line in output.splitlines():
        for span in _ranges(line):
            covered.update(span)
    return covered or None


def _from_font_files() -> set[int]:
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    covered: set[int] = set()
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            suffix = path.suffix.lower()
            try:
                if suffix in (".ttf", ".otf"):
                    fonts = [TTFont(path, lazy=True)]
                elif suffix in (".ttc", ".otc"):
                    fonts = list(TTCollection(path, lazy=True))
                else:
                    continue
                for font in fonts:
                    covered.update(font.getBestCmap() or {})
            except (OSError, TTLibError, KeyError, AssertionError, ValueError):
                continue
    return covered


@functools.cache
def covered_characters() -> frozenset[int]:
    """The code points some installed font can print (read once per process)."""
    return frozenset(_from_fontconfig() or _from_font_files())


def _silent(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in SILENT_CATEGORIES
            or any(code in r for r in VARIATION_SELECTORS))


def unprintable(text: str, covered: frozenset[int] | None = None) -> list[str]:
    """The distinct characters of ``text`` that no installed font has, in order of appearance."""
    covered = covered_characters() if covered is None else covered
    missing: dict[str, None] = {}
    for char in text:
        if char not in missing and ord(char) not in covered and not _silent(char):
            missing[char] = None
    return list(missing)


class _Texts(HTMLParser):
    """The printed text of an HTML document, with the item (``id="item-..."``) it belongs to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.hidden = 0
        self.texts: list[tuple[str | None, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        element = dict(attrs).get("id")
        item = decode_id(element[5:]) if element and element.startswith("item-") else None
        self.stack.append((tag, item))
        if tag in ("style", "script", "title"):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, _ = self.stack.pop()
            if name in ("style", "script", "title"):
                self.hidden -= 1
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.hidden or not data.strip():
            return
        item = next((i for _, i in reversed(self.stack) if i is not None), None)
        self.texts.append((item, data))


def _name(char: str) -> str:
    return f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')})"


def check_printable(html: str, what: str, extra: Iterable[str] = ()) -> None:
    """Refuse, before any PDF is made, a document with characters no installed font has.

    ``what`` names the document (``the round-2 questionnaire``); each problem names the item
    (or quotes the text) and the characters. ``extra`` is text printed besides the HTML's (the
    panellists' own values).
    """
    covered = covered_characters()
    if not covered:
        return  # no fonts found at all: weasyprint will say so itself
    parser = _Texts()
    parser.feed(html)
    texts = parser.texts + [(None, text) for text in extra]
    by_place: dict[str, list[str]] = {}
    for item, text in texts:
        missing = unprintable(text, covered)
        if not missing:
            continue
        place = f"item {item}" if item else f"in {' '.join(text.split())[:60]!r}"
        found = by_place.setdefault(place, [])
        found += [c for c in missing if c not in found]
    if by_place:
        problems = [Problem(f"{what}: {place}: no installed font can print "
                            f"{', '.join(_name(c) for c in chars)}")
                    for place, chars in by_place.items()]
        problems.append(Problem(f"{INSTALL_HINT}; nothing was written"))
        raise DelphiError(problems)

