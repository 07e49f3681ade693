"""E-mail messages from the package's (or the study's) plain-text templates."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

from delphi.core.models import Panellist
from delphi.errors import DelphiError


def mail_environment(study_root: Path) -> Environment:
    """Plain-text mail templates: ``templates/mail/`` of the study first, then the package.

    These templates make text/plain e-mail, not HTML, so they are not HTML-escaped.
    """
    loaders: list[Any] = []
    if (study_root / "templates" / "mail").is_dir():
        loaders.append(FileSystemLoader(study_root / "templates" / "mail"))
    loaders.append(PackageLoader("delphi", "templates/mail"))
    # HTML-escape only HTML templates: these make text/plain mail, where &amp; would be wrong.
    escape_html_only = select_autoescape(enabled_extensions=("html", "htm", "xml"),
                                         default_for_string=False, default=False)
    return Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                       keep_trailing_newline=True, autoescape=escape_html_only)


def header_text(value: str, what: str) -> str:
    """A value checked for a mail header: one line, no control characters.

    A line break in a header would start a header of the sender's choosing (header injection);
    the roster's checks refuse it already, this is the last guard.
    """
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise DelphiError(f"{what} holds a control character ({bad!r}) and cannot go into a "
                          f"mail header: {value[:60]!r}")
    return value


def build_message(env: Environment, template: str, sender: str, panellist: Panellist,
                  attachment: Path | None, attachment_name: str, link: str | None = None,
                  **context: Any) -> EmailMessage:
    """A message to one panellist: their own questionnaire attached, their private link, or both.

    The template gets ``link`` (``None`` without one) and ``attached`` (whether the PDF is).
    """
    text = env.get_template(template).render(panellist=panellist, sender=sender, link=link,
                                              attached=attachment is not None, **context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise DelphiError(f"mail template {template}: the first line must be 'Subject: ...'")
    message = EmailMessage()
    message["Subject"] = header_text(first.removeprefix("Subject:").strip(),
                                     f"mail template {template}: the subject")
    message["From"] = header_text(sender, "study.yaml: mail.sender")
    message["To"] = formataddr((header_text(panellist.name, f"{panellist.code}'s name"),
                                header_text(panellist.email or "", f"{panellist.code}'s email")))
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(sender)[1].partition("@")[2] or "delphi.invalid"
    message["Message-ID"] = make_msgid(idstring=panellist.code, domain=domain)
    message.set_content(body.lstrip("\n"))
    if attachment is not None:
        message.add_attachment(attachment.read_bytes(), maintype="application", subtype="pdf",
                               filename=attachment_name)
    return message
