"""E-mail messages: headers from checked text, the rendered template's body, the PDF."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path

from delphi.core.models import Panellist
from delphi.errors import DelphiError


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


def build_message(text: str, template: str, sender: str, panellist: Panellist,
                  attachment: Path | None, attachment_name: str) -> EmailMessage:
    """A message to one panellist: their own questionnaire attached, their private link, or both.

    ``text`` is the rendered ``template`` (which gets ``link``, ``None`` without one, and
    ``attached``, whether the PDF is): its first line is ``Subject: ...``, the rest the body.
    """
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
