"""The pages of ``delphi serve`` as HTML: their documented contexts and their rendering.

Every template gets ``page``; the questionnaire, review and sent pages also get ``q`` and ``me``,
the same context as the PDF questionnaire (:mod:`delphi.render.context`). Templates come from
the same Jinja2 environment as the PDF's (autoescaping, strict about undefined names; a study
may override them in its ``templates/web/`` folder).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from delphi.core.web import Answers
from delphi.i18n import Language, load_language
from delphi.render.context import ItemView, Personal, QuestionnaireContext
from delphi.render.templates import environment

STYLESHEET = "web/web.css"


class Page(BaseModel):
    """What every page has: its title, language (and its direction) and the inline stylesheet."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    title: str
    language: str
    dir: str = "ltr"
    style: Markup


class MessagePage(Page):
    """A page with a heading and a few paragraphs (not found, too many attempts, refused)."""

    heading: str
    paragraphs: list[str]
    back_url: str | None = None
    back_label: str = ""


class QuestionnairePage(Page):
    """The questionnaire form: the answers to show, where it posts, notices and errors."""

    action: str
    form_token: str
    answers: Answers
    notices: list[str]
    errors: list[str]
    saved_section: str | None = None  # the section whose "Save draft" was pressed


class ReviewPage(Page):
    """The answers about to be sent, and the form that sends them."""

    action: str
    form_url: str
    form_token: str
    answers: Answers
    answers_digest: str
    total: int
    unanswered: list[ItemView]
    returned_when: str | None  # None: no earlier return; "" an earlier one of unknown time
    errors: list[str]


class SentPage(Page):
    """The receipt."""

    message: str
    form_url: str


class Pages:
    """The web pages of one study, rendered from its templates."""

    def __init__(self, study_root: Path | None, language: Language | None = None) -> None:
        self.language = language or load_language()
        self.env: Environment = environment(study_root, language=self.language)
        loader = self.env.loader
        assert loader is not None
        self.style = Markup(loader.get_source(self.env, STYLESHEET)[0])
        digest = hashlib.sha256(str(self.style).encode("utf-8")).digest()
        self.style_hash = "sha256-" + base64.b64encode(digest).decode("ascii")

    def render(self, template: str, page: Page, q: QuestionnaireContext | None = None,
               me: Personal | None = None) -> str:
        """One page as HTML."""
        return self.env.get_template(f"web/{template}.html.j2").render(page=page, q=q, me=me)
