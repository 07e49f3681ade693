"""Questionnaire HTML (Jinja2, autoescaped) and fillable PDF (weasyprint), laid out once a round.

Templates come from the study's ``templates/`` folder when it has one (``questionnaire.html.j2``
and ``questionnaire.css``), else from the package. The renderer fetches nothing from the
network and reads no file outside the study folder and the package. Template and stylesheet
are parsed once per process, not once per panellist.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from delphi.core.fields import OWN_TEXT_PREFIX, READ_ONLY_FIELDS, own_text_field
from delphi.i18n import Language, load_language
from delphi.render.context import Personal, QuestionnaireContext
from delphi.render.fonts import check_printable
from delphi.render.lean import compact, font_configuration, form_css, lean_finisher
from delphi.render.personalise import (
    NotPersonalisable,
    Placeholders,
    SharedLayout,
    UnprovenVersions,
    check_slots,
    placeholders,
    slot_values,
    unproven_versions,
)
from delphi.render.tags import lean_tags
from delphi.render.templates import PACKAGE_DIR, environment, study_text

TEMPLATE = "questionnaire.html.j2"
STYLESHEET = "questionnaire.css"


def stylesheet_text(study_root: Path | None) -> str:
    """The questionnaire's CSS: the study's override if it has one, else the package's."""
    if study_root is not None and (study_root / "templates" / STYLESHEET).is_file():
        return study_text(study_root, study_root / "templates" / STYLESHEET)
    return (PACKAGE_DIR / "templates" / STYLESHEET).read_text(encoding="utf-8")


def study_fetcher(study_root: Path | None) -> tuple[Any, str]:
    """A URL fetcher confined to the package and the study folder, and the base URL.

    What weasyprint reads a study's HTML with: the base URL is where its relative links start.
    """
    root = study_root.resolve() if study_root is not None else None
    roots = [PACKAGE_DIR] + ([root] if root else [])
    return _confined_fetcher(roots), str(root or PACKAGE_DIR) + os.sep


def _confined_fetcher(roots: Iterable[Path]) -> Any:
    """A weasyprint URL fetcher that only serves data: URLs and files under ``roots``."""
    from weasyprint.urls import URLFetcher

    allowed = [r.resolve() for r in roots]

    class ConfinedFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file:"):
                from urllib.parse import unquote, urlparse

                path = Path(unquote(urlparse(url).path)).resolve()
                if any(path.is_relative_to(root) for root in allowed):
                    return super().fetch(url, headers)
            raise ValueError(f"delphi does not fetch {url!r}: only files inside the study "
                             "folder or the package may be used")

    return ConfinedFetcher(allowed_protocols=("file", "data"))


def _radio_kids_unnamed(document: Any, pdf: Any, texts: Mapping[str, str] | None = None) -> None:
    """Weasyprint finisher: one field per radio group; identity fields read-only.

    Weasyprint gives every radio button (a kid of its group) the group's own name and lists it
    among the form's top-level fields, so readers see ``rating_1~1.rating_1~1`` and may treat
    each button as a field of its own. A kid widget needs no name: drop it, and keep only
    fields without a parent at the top level.

    ``texts`` gives the values of the read-only ``own_*`` fields (a panellist's own earlier
    answers to open questions): set here, not in the HTML, so that they are never laid out as
    page text and a shared layout can fill them per copy.
    """
    import pydyf

    acroform = pdf.catalog.get("AcroForm")
    if not acroform:
        return
    kids = set()
    for obj in pdf.objects:
        if not isinstance(obj, dict) or obj.get("Subtype") != "/Widget":
            continue
        name = getattr(obj.get("T"), "string", None)
        if "Parent" in obj:
            obj.pop("T", None)
            obj.pop("TU", None)
            kids.add(obj.reference)  # type: ignore[attr-defined]  # a pydyf.Dictionary
        elif name in READ_ONLY_FIELDS:
            obj["Ff"] = 1  # ReadOnly: the panellist's code, round and study
        elif isinstance(name, str) and name.startswith(OWN_TEXT_PREFIX):
            obj["Ff"] = 1 + (1 << 12)  # ReadOnly, Multiline
            obj["V"] = pydyf.String((texts or {}).get(name, ""))
    acroform["Fields"] = type(acroform["Fields"])(
        ref for ref in acroform["Fields"] if ref not in kids)


def _finish(document: Any, pdf: Any, texts: Mapping[str, str] | None = None) -> None:
    """Weasyprint finisher: radio groups as one field each, own texts, then the lean steps."""
    _radio_kids_unnamed(document, pdf, texts)
    lean_finisher(pdf, buttons=not texts)
    lean_tags(pdf)
    compact(pdf)


def _own_texts(context: QuestionnaireContext, me: Personal | Placeholders) -> dict[str, str]:
    """The ``own_*`` fields' values for ``me``, by field name."""
    return {own_text_field(item_id): me.texts.get(item_id, "")
            for item_id in context.text_items()}


class _Captured(Exception):
    def __init__(self, layout: SharedLayout) -> None:
        self.layout = layout


class Renderer:
    """Renders questionnaires; build one per process and reuse it for every panellist."""

    def __init__(self, study_root: Path | None = None, tagged: bool = True,
                 language: Language | str | None = None) -> None:
        import weasyprint

        self.study_root = study_root.resolve() if study_root is not None else None
        if language is None or isinstance(language, str):
            language = load_language(language or "en", self.study_root)
        self.language = language
        self.template = environment(self.study_root, language=language).get_template(TEMPLATE)
        self.fetcher, self.base_url = study_fetcher(self.study_root)
        fonts = font_configuration()
        own = weasyprint.CSS(string=stylesheet_text(self.study_root), url_fetcher=self.fetcher,
                             base_url=self.base_url, font_config=fonts)
        # Radio buttons drawn by their widgets, or in the page when a field shows an earlier
        # answer (lean_finisher says why); chosen per questionnaire by its own-text fields.
        self.stylesheets = {buttons: [own, weasyprint.CSS(string=form_css(buttons),
                                                          url_fetcher=self.fetcher,
                                                          font_config=fonts)]
                            for buttons in (True, False)}
        self.options: dict[str, Any] = {"pdf_forms": True, "custom_metadata": True,
                                        "font_config": fonts}
        if tagged:
            self.options["pdf_variant"] = "pdf/ua-1"

    def html(self, context: QuestionnaireContext, me: Personal | Placeholders) -> str:
        """The questionnaire as HTML."""
        return self.template.render(q=context, me=me)

    def pdf(self, context: QuestionnaireContext, me: Personal) -> bytes:
        """The questionnaire laid out for ``me`` alone, as a fillable PDF."""
        import weasyprint

        html = self.html(context, me)
        check_printable(html, f"the round-{context.round} questionnaire")
        document = weasyprint.HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher)
        texts = _own_texts(context, me)
        return document.write_pdf(  # type: ignore[no-any-return]
            stylesheets=self.stylesheets[not texts], finisher=lambda d, p: _finish(d, p, texts),
            **self.options)

    def shared_layout(self, context: QuestionnaireContext,
                      personals: Sequence[Personal]) -> SharedLayout:
        """The round's questionnaire laid out once, for these panellists' copies.

        Raises :class:`NotPersonalisable` when the template's placeholders cannot be found.
        """
        import weasyprint

        unproven = unproven_versions()
        if unproven is not None:
            raise unproven
        me = placeholders(context, personals)
        html = self.html(context, me)
        check_printable(html, f"the round-{context.round} questionnaire")
        check_slots(html)
        texts = _own_texts(context, me)
        document = weasyprint.HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher)

        def capture(document: Any, pdf: Any) -> None:
            _finish(document, pdf, texts)
            # Only NotPersonalisable (the template's doing) means "lay each out on its own";
            # anything else raised here is a fault in delphi and must be seen.
            raise _Captured(SharedLayout(pdf))  # weasyprint need not write this PDF

        try:
            document.write_pdf(stylesheets=self.stylesheets[not texts], finisher=capture,
                               **self.options)
        except _Captured as captured:
            return captured.layout
        raise AssertionError("the finisher always raises")


def personalised(renderer: Renderer, layout: SharedLayout, context: QuestionnaireContext,
                 me: Personal) -> bytes:
    """``me``'s questionnaire from the round's shared layout (laid out alone if need be)."""
    try:
        return layout.personalise(slot_values(context, me), seed=me.code)
    except NotPersonalisable:
        return renderer.pdf(context, me)


def questionnaire(renderer: Renderer, context: QuestionnaireContext, me: Personal) -> bytes:
    """One panellist's questionnaire, made the way :func:`render_all` makes it."""
    try:
        layout = renderer.shared_layout(context, [me])
    except NotPersonalisable:
        return renderer.pdf(context, me)
    return personalised(renderer, layout, context, me)


# ----------------------------------------------------------------- parallel rendering

_worker: tuple[Renderer, QuestionnaireContext] | None = None

Save = Callable[[str, bytes], None]


def _init_worker(study_root: Path | None, context: QuestionnaireContext) -> None:
    global _worker
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    _worker = (Renderer(study_root, language=context.language), context)


def _render_one(me: Personal) -> tuple[str, bytes]:
    assert _worker is not None
    renderer, context = _worker
    return me.code, renderer.pdf(context, me)


SLOTS_HINT = ("The questionnaire template's opening comment says how to print the code and own "
              "ratings so that a round is laid out once")


def render_all(study_root: Path | None, context: QuestionnaireContext,
               personals: list[Personal], save: Save, workers: int | None = None,
               on_start: Callable[[int], None] = lambda total: None) -> str | None:
    """Every panellist's questionnaire PDF, handed to ``save(code, pdf)`` as it is made.

    The questionnaire is laid out once and each copy personalised from that layout. If the
    template does not allow it, every questionnaire is laid out on its own, on ``workers``
    processes (default: the number of cores); the reason is returned, as a sentence to show.
    ``on_start`` is called when the first copy is about to be made.
    """
    if not personals:
        return None
    renderer = Renderer(study_root, language=context.language)
    try:
        layout = renderer.shared_layout(context, personals)
    except NotPersonalisable as reason:
        on_start(len(personals))
        _render_each(study_root, context, personals, save, workers)
        return str(reason) if isinstance(reason, UnprovenVersions) else f"{reason}. {SLOTS_HINT}"
    on_start(len(personals))
    _copies(renderer, layout, context, personals, save)
    return None


def _copies(renderer: Renderer, layout: SharedLayout, context: QuestionnaireContext,
            personals: list[Personal], save: Save) -> None:
    """Each panellist's copy from the shared layout, handed to ``save`` in roster order.

    One process: a copy costs about a millisecond (2,000 copies of 100 statements: 2.2 s).
    Copies made on forked processes took twice the CPU (each copy's bytes sent back to be
    saved) and no less time on two cores, so they were taken out (benchmarks/README.md).
    """
    for me in personals:
        save(me.code, personalised(renderer, layout, context, me))


def _render_each(study_root: Path | None, context: QuestionnaireContext,
                 personals: list[Personal], save: Save, workers: int | None) -> None:
    """Lay out every panellist's questionnaire on its own, on ``workers`` processes."""
    workers = min(workers or os.cpu_count() or 1, max(len(personals), 1))
    if workers <= 1:
        _init_worker(study_root, context)
        for me in personals:
            save(*_render_one(me))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(study_root, context)) as pool:
        futures = [pool.submit(_render_one, me) for me in personals]
        for future in as_completed(futures):
            save(*future.result())
