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
"""

from __future__ import annotations

import os
import posixpath
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

from delphi.core.feedback import fmt, pct
from delphi.errors import DelphiError, Problem

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_BYTES = 2 * 1024 * 1024  # a study's own template or stylesheet


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


def environment(study_root: Path | None, folder: str = "templates",
                html: bool = True) -> StudyEnvironment:
    """The templates of ``folder``: the study's own first, then the package's.

    ``html``: autoescape (the questionnaire, report, web pages); else plain text (mail).
    """
    loaders: list[BaseLoader] = []
    if study_root is not None and (study_root / folder).is_dir():
        loaders.append(StudyLoader(study_root / folder, study_root))
    loaders.append(PackageLoader("delphi", folder))
    escape = True if html else select_autoescape(enabled_extensions=("html", "htm", "xml"),
                                                   default_for_string=False, default=False)
    env = StudyEnvironment(loader=ChoiceLoader(loaders), autoescape=escape,
                           undefined=StrictUndefined, keep_trailing_newline=not html)
    env.study_root = study_root
    env.globals.update(fmt=fmt, pct=pct)
    return env


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
