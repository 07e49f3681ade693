"""The print bundle of a round, one PDF for the postal panellists.

Per postal panellist, in roster order: a cover letter for a window envelope, then their own
questionnaire.
"""

from __future__ import annotations

import html as markup
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delphi.core.fields import OWN_TEXT_PREFIX
from delphi.core.models import Panellist
from delphi.errors import DelphiError, Problem
from delphi.i18n import Language
from delphi.render.fonts import check_printable
from delphi.render.pdf import study_fetcher
from delphi.render.templates import environment

if TYPE_CHECKING:
    from delphi.render.joined import FieldText

COVER_LETTER = "cover-letter.html.j2"
# How bundles are made: raise it when a bundle from the same letters and questionnaires would
# come out differently, so that bundles made before are built again (2: fields drawn in).
MAKING = 2
_SIZE = re.compile(r"([0-9.]+)\s+Tf")  # in a field's default appearance: /Helv 8 Tf
_RGB = re.compile(r"([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+rg")


@dataclass(frozen=True)
class Bundle:
    """The print bundle as a PDF, its number of pages, and the files its letters used."""

    pdf: bytes
    pages: int
    used: frozenset[Path]  # images or stylesheets the cover letters fetched (a study's logo)


def cover_letters(study_root: Path, panellists: Sequence[Panellist], language: Language,
                  **context: Any) -> list[str]:
    """Each postal panellist's cover letter as HTML, checked to be printable with the fonts."""
    letter = environment(study_root, language=language).get_template(COVER_LETTER)
    pages = []
    for p in panellists:
        address = "\n".join(part.strip() for part in (p.address or "").split(","))
        html = letter.render(panellist=p, address=address, language=language.tag,
                             dir=language.direction, **context)
        check_printable(html, f"the cover letter to {p.code}")
        pages.append(html)
    return pages


def postal_bundle(study_root: Path, parts: Iterable[tuple[str, bytes, str]],
                  language: Language, on_done: Callable[[], None] = lambda: None) -> Bundle:
    """The bundle of (cover letter, questionnaire) parts, in order; ``on_done`` after each.

    A part is a cover letter's HTML (in ``language``), laid out here, and the bytes of the
    questionnaire PDF that follows it, with the name of its file for messages.

    The bundle is for printing: what the questionnaires' form fields show (the radio buttons'
    circles, a panellist's earlier open answer) is drawn into the pages and the fields
    themselves are left out, since the same field names repeated for many panellists would tie
    their answers together on screen.
    Objects the questionnaires share (their fonts, the buttons' drawings) are kept once.
    """
    import weasyprint
    from pypdf.errors import PyPdfError

    from delphi.render.joined import PrintJoin

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file: our message says it
    confined, base_url = study_fetcher(study_root)
    joined = PrintJoin(_earlier_answers(confined, base_url, language))
    fetcher = _recording(confined)
    for html, questionnaire, name in parts:
        joined.add(weasyprint.HTML(string=html, base_url=base_url,
                                   url_fetcher=fetcher).write_pdf())
        try:
            joined.add(questionnaire)
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DelphiError(Problem(
                f"not a PDF the print bundle can take ({type(exc).__name__}: "
                f"{str(exc)[:120]}); write it again with 'delphi new-round --force' for its "
                "round; nothing was sent", file=name)) from None
        on_done()
    return Bundle(joined.finish(), joined.pages, frozenset(fetcher.used))


def _recording(inner: Any) -> Any:
    """A weasyprint URL fetcher that fetches as ``inner`` does and notes each file fetched."""
    from weasyprint.urls import URLFetcher

    class Recording(URLFetcher):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.used: set[Path] = set()

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                from urllib.parse import unquote, urlparse

                self.used.add(Path(unquote(urlparse(url).path)))
            return inner.fetch(url, headers)

    return Recording()


def _earlier_answers(fetcher: Any, base_url: str, language: Language) -> FieldText:
    """Draws a panellist's earlier open answers (``own_*`` fields) for the printed page.

    On screen the reader draws them, with fonts for whatever script they are in; on paper
    they are laid out here, in the field's box, size and colour, as the reader would show them
    (what does not fit the box is cut, as on screen). Other fields without an appearance
    (the hidden identity fields) are left out.
    """
    import weasyprint

    def draw(name: str, value: str, width: float, height: float, appearance: str
             ) -> bytes | None:
        if not name.startswith(OWN_TEXT_PREFIX) or width < 1 or height < 1:
            return None
        size = float(found.group(1)) if (found := _SIZE.search(appearance)) else 0.0
        rgb = _RGB.search(appearance)
        colour = ", ".join(f"{float(v) * 100:.1f}%" for v in rgb.groups()) if rgb else "0, 0, 0"
        page = (f'<!DOCTYPE html><html lang="{language.tag}" dir="{language.direction}"><head>'
                f"<style>@page {{ size: {width:.3f}pt {height:.3f}pt; margin: 0 }} body {{ "
                f"margin: 0; padding: 2pt; font-family: 'DejaVu Sans', sans-serif; "
                f"font-size: {size or 9:.2f}pt; line-height: 1.15; color: rgb({colour}); "
                "white-space: pre-wrap; overflow-wrap: anywhere }</style></head>"
                f"<body>{markup.escape(value)}</body></html>")
        pdf: bytes = weasyprint.HTML(string=page, base_url=base_url,
                                     url_fetcher=fetcher).write_pdf()
        return pdf

    return draw
