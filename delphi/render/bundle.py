"""The print bundle of a round, one PDF for the postal panellists.

Per postal panellist, in roster order: a cover letter for a window envelope, then their own
questionnaire.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delphi.core.models import Panellist
from delphi.render.pdf import Renderer, make_environment
from delphi.store.study import write_bytes

COVER_LETTER = "cover-letter.html.j2"


def postal_bundle(study_root: Path, panellists: Sequence[Panellist], questionnaires: Path,
                  out: Path, **context: Any) -> int:
    """Write the bundle to ``out``; returns its number of pages.

    The questionnaires' form fields are dropped from the bundle: it is for printing, and the
    same field names repeated for many panellists would tie their answers together on screen.
    """
    import pypdf
    import weasyprint

    renderer = Renderer(study_root, tagged=False)
    letter = make_environment(study_root).get_template(COVER_LETTER)
    writer = pypdf.PdfWriter()
    for p in panellists:
        address = "\n".join(part.strip() for part in (p.address or "").split(","))
        html = letter.render(panellist=p, address=address, **context)
        cover = weasyprint.HTML(string=html, base_url=renderer.base_url,
                                url_fetcher=renderer.fetcher).write_pdf()
        writer.append(pypdf.PdfReader(io.BytesIO(cover)))
        writer.append(pypdf.PdfReader(questionnaires / f"{p.code}.pdf"), import_outline=False)
    writer._root_object.pop("/AcroForm", None)  # printing only: no shared fields
    for page in writer.pages:
        page.pop("/Annots", None)
    buffer = io.BytesIO()
    writer.write(buffer)
    write_bytes(out, buffer.getvalue())
    return len(writer.pages)
