"""Jinja2 for templates a study brings with it: sandboxed, confined to the study, clear errors.

A study folder is something coordinators share and receive, so its own templates
(``templates/*.j2``, ``templates/mail/*.j2``) and stylesheet are untrusted:

- they run in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`, so ``{{ ''.__class__
  .__mro__ ... }}`` cannot reach Python's internals;
- a template or stylesheet is read only if its real path lies inside the study folder (a
  symlink to a file elsewhere is refused), and only up to :data:`TEMPLATE_BYTES`;
- a syntax error, an undefined name, a missing include or a forbidden operation is one
  :class:`DelphiError` naming the template file and line, never a traceback.

HTML templates are autoescaped; the plain-text mail templates are not (``&amp;`` in a text
e-mail would be wrong).

Every template is in the panel's language: Jinja2's i18n extension (``{% trans %}`` and
``_()``, new-style: placeholders named and escaped) over the message catalogs of
:mod:`delphi.i18n`, and ``fmt`` (one decimal) and ``pct`` (a share as a percentage) write
numbers the language's way.
"""

from __future__ import annotations

import os
import posixpath
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from delphi.errors import DelphiError, Problem
from delphi.i18n import Language, load_language

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_BYTES = 2 * 1024 * 1024  # a study's own template or stylesheet
# HTML elements without an end tag: parsers of the rendered HTML never wait for one.
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                           "meta", "source", "track", "wbr"})


def confined_file(study_root: Path, path: Path) -> Path:
    """``path`` if its real path lies inside the study folder; else a clear refusal."""
    real = path.resolve()
    if not real.is_relative_to(study_root.resolve()):
        raise DelphiError(Problem(f"is a link to {real}, outside the study folder; a study's "
                                  "templates and stylesheets must be files inside it",
                                  file=_shown(study_root, path)))
    size = real.stat().st_size
    if size > TEMPLATE_BYTES:
        raise DelphiError(Problem(f"is {size // 1024} KB, more than the "
                                  f"{TEMPLATE_BYTES // 1024} KB a template may be",
                                  file=_shown(study_root, path)))
    return real


def study_text(study_root: Path, path: Path) -> str:
    """A study's own template or stylesheet as text, confined and bounded."""
    real = confined_file(study_root, path)
    try:
        return real.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DelphiError(Problem(f"not UTF-8 text (byte {exc.start})",
                                  file=_shown(study_root, path))) from None


class StudyLoader(FileSystemLoader):
    """A study's ``templates/`` folder, read only within the study folder."""

    def __init__(self, folder: Path, study_root: Path) -> None:
        super().__init__(str(folder))
        self.study_root = study_root

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        """The template's text, if its real path lies inside the study folder."""
        for searchpath in self.searchpath:
            filename = posixpath.join(searchpath, *split_template_path(template))
            if os.path.isfile(filename):
                confined_file(self.study_root, Path(filename))
                break
        return super().get_source(environment, template)


class StudyEnvironment(SandboxedEnvironment):
    """The sandbox, with every template error turned into one problem naming file and line."""

    study_root: Path | None = None

    def handle_exception(self, source: str | None = None) -> NoReturn:
        """Any template error as one problem naming the template's file and line."""
        try:
            super().handle_exception(source)
        except TemplateError as exc:
            raise DelphiError(_problem(exc, self.study_root)) from None


def environment(study_root: Path | None, folder: str = "templates", html: bool = True,
                language: Language | None = None) -> StudyEnvironment:
    """The templates of ``folder``: the study's own first, then the package's, in ``language``.

    ``html``: autoescape (the questionnaire, report, web pages); else plain text (mail).
    """
    language = language or load_language()
    loaders: list[BaseLoader] = []
    if study_root is not None and (study_root / folder).is_dir():
        loaders.append(StudyLoader(study_root / folder, study_root))
    loaders.append(PackageLoader("delphi", folder))
    escape = True if html else select_autoescape(enabled_extensions=("html", "htm", "xml"),
                                                   default_for_string=False, default=False)
    env = StudyEnvironment(loader=ChoiceLoader(loaders), autoescape=escape,
                           undefined=StrictUndefined, keep_trailing_newline=not html,
                           extensions=["jinja2.ext.i18n"])
    env.study_root = study_root
    env.policies["ext.i18n.trimmed"] = True  # a message's line breaks are not part of it
    env.install_gettext_translations(  # type: ignore[attr-defined]  # added by the extension
        language.translations, newstyle=True)
    env.globals.update(fmt=language.number, pct=language.percent, css_content=css_content,
                       join=language.join, group_medians=lambda medians: language.join(
                           [f"{g.label} {language.number(g.median)}" for g in medians]))
    return env


def css_content(message: str, **functions: str) -> Markup:
    """A translated message as a CSS ``content`` value, its ``{name}`` parts CSS functions.

    ``css_content(_("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"),
    page="counter(page)", pages="counter(pages)")`` gives ``"Page " counter(page) " of "
    counter(pages)``, for the page margins of ``@page`` rules.
    """
    def quoted(text: str) -> str:
        return '"' + "".join(c if c.isalnum() or c in " .,:;·-–()/'" else f"\\{ord(c):x} "
                             for c in text) + '"'

    names = "|".join(re.escape(name) for name in functions)
    parts = re.split(f"\\{{({names})\\}}", str(message)) if functions else [str(message)]
    tokens = [functions[part] if index % 2 else quoted(part)
              for index, part in enumerate(parts) if index % 2 or part]
    return Markup(" ".join(tokens))


def _shown(study_root: Path | None, filename: str | Path) -> str:
    """A template's file as the user should see it: relative to the study, or the package's."""
    path = Path(filename)
    for base, prefix in ((study_root, ""), (PACKAGE_DIR.parent, "")):
        if base is None:
            continue
        try:
            return prefix + str(path.absolute().relative_to(base.absolute()))
        except ValueError:
            continue
    return str(path)


def _where(exc: TemplateError) -> tuple[str | None, int | None]:
    """The template file and line an error arose at (the innermost template frame)."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    found: tuple[str | None, int | None] = (None, None)
    for frame, line in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.endswith((".j2", ".html", ".txt")) and os.path.isfile(name):
            found = (name, line)
    return found


def _problem(exc: TemplateError, study_root: Path | None) -> Problem:
    filename, line = _where(exc)
    shown = _shown(study_root, filename) if filename else None
    if isinstance(exc, TemplateSyntaxError):
        what = f"template syntax error: {exc.message}"
    elif isinstance(exc, SecurityError):
        what = f"not allowed in a template: {exc}"
    elif isinstance(exc, UndefinedError):
        what = f"{exc.message}; the names a template may use are documented in " \
               "delphi/render/context.py"
    elif isinstance(exc, TemplateNotFound):
        what = f"includes {exc.name!r}, which is neither in the study's templates nor the " \
               "package's"
    else:
        what = f"template error: {exc}"
    return Problem(what, file=shown, line=line)
