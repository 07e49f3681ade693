"""The print bundle of a round, one PDF for the postal panellists.

Per postal panellist, in roster order: a cover letter for a window envelope, then their own
questionnaire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delphi.core.models import Panellist
from delphi.i18n import Language
from delphi.render.fonts import check_printable
from delphi.render.pdf import Renderer, make_environment

COVER_LETTER = "cover-letter.html.j2"


@dataclass(frozen=True)
class Bundle:
    """The print bundle as a PDF, and its number of pages."""

    pdf: bytes
    pages: int


def cover_letters(study_root: Path, panellists: Sequence[Panellist], language: Language,
                  **context: Any) -> list[str]:
    """Each postal panellist's cover letter as HTML, checked to be printable with the fonts."""
    letter = make_environment(study_root, language).get_template(COVER_LETTER)
    pages = []
    for p in panellists:
        address = "\n".join(part.strip() for part in (p.address or "").split(","))
        html = letter.render(panellist=p, address=address, language=language.tag,
                             dir=language.direction, **context)
        check_printable(html, f"the cover letter to {p.code}")
        pages.append(html)
    return pages


def postal_bundle(study_root: Path, parts: Iterable[tuple[str, bytes]], language: Language,
                  on_done: Callable[[], None] = lambda: None) -> Bundle:
    """The bundle of (cover letter, questionnaire) parts, in order; ``on_done`` after each.

    A part is a cover letter's HTML (in ``language``), laid out here, and the bytes of the
    questionnaire PDF that follows it.

    The bundle is for printing: what the questionnaires' form fields show (the radio buttons'
    circles) is drawn into the pages and the fields themselves are left out, since the same
    field names repeated for many panellists would tie their answers together on screen.
    Objects the questionnaires share (their fonts, the buttons' drawings) are kept once.
    """
    import weasyprint

    from delphi.render.joined import PrintJoin

    renderer = Renderer(study_root, tagged=False, language=language)
    joined = PrintJoin()
    for html, questionnaire in parts:
        joined.add(weasyprint.HTML(string=html, base_url=renderer.base_url,
                                   url_fetcher=renderer.fetcher).write_pdf())
        joined.add(questionnaire)
        on_done()
    return Bundle(joined.finish(), joined.pages)
