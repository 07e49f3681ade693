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


def build_message(env: Environment, template: str, sender: str, panellist: Panellist,
                  attachment: Path, attachment_name: str, **context: Any) -> EmailMessage:
    """A message to one panellist with their own questionnaire attached."""
    text = env.get_template(template).render(panellist=panellist, sender=sender, **context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise DelphiError(f"mail template {template}: the first line must be 'Subject: ...'")
    message = EmailMessage()
    message["Subject"] = first.removeprefix("Subject:").strip()
    message["From"] = sender
    message["To"] = formataddr((panellist.name, panellist.email or ""))
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(sender)[1].partition("@")[2] or "delphi.invalid"
    message["Message-ID"] = make_msgid(idstring=panellist.code, domain=domain)
    message.set_content(body.lstrip("\n"))
    message.add_attachment(attachment.read_bytes(), maintype="application", subtype="pdf",
                           filename=attachment_name)
    return message
