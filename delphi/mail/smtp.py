"""Handing messages to an SMTP server: STARTTLS, SSL or plain, retries with backoff.

User name and password come from ``DELPHI_SMTP_USER`` and ``DELPHI_SMTP_PASSWORD`` only.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType

from delphi.core.models import MailSettings
from delphi.errors import DelphiError

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError,
             TimeoutError, OSError)


class PermanentFailure(Exception):
    """The server refused this message for good (a bad address, say)."""


class NotSent(DelphiError):
    """The message never reached the server (no connection, login refused): it was not sent."""


class Mailer:
    """One SMTP connection, reopened when it drops; use as a context manager."""

    def __init__(self, settings: MailSettings, attempts: int = 4, backoff: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.user = os.environ.get("DELPHI_SMTP_USER")
        self.password = os.environ.get("DELPHI_SMTP_PASSWORD")
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=30, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=30)
            if s.security == "starttls":
                smtp.starttls(context=context)
        if self.user:
            try:
                smtp.login(self.user, self.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise DelphiError("the SMTP server refused the user name and password in "
                                  f"DELPHI_SMTP_USER / DELPHI_SMTP_PASSWORD ({exc.smtp_code})"
                                  ) from None
        return smtp

    def close(self) -> None:
        """Say goodbye to the server, if connected."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None

    def send(self, message: EmailMessage) -> None:
        """Hand one message over; retry transient failures, raise PermanentFailure otherwise.

        Raises :class:`NotSent` when the message never reached the server (the connection or
        the login was refused), and a plain :class:`DelphiError` when it may have.
        """
        delay = self.backoff
        reached = False
        for attempt in range(1, self.attempts + 1):
            try:
                if self._smtp is None:
                    try:
                        self._smtp = self._connect()
                    except DelphiError as exc:
                        raise NotSent(exc.problems) from None
                reached = True
                refused = self._smtp.send_message(message)
                if refused:
                    raise PermanentFailure("; ".join(f"{a}: {c} {m.decode(errors='replace')}"
                                                     for a, (c, m) in refused.items()))
                return
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [c for c, _ in exc.recipients.values()]
                detail = "; ".join(f"{a}: {c} {m.decode(errors='replace')}"
                                   for a, (c, m) in exc.recipients.items())
                if all(500 <= c < 600 for c in codes) or attempt == self.attempts:
                    raise PermanentFailure(detail) from None
            except smtplib.SMTPResponseException as exc:
                if 500 <= exc.smtp_code < 600 or attempt == self.attempts:
                    error = exc.smtp_error
                    text = error.decode(errors="replace") if isinstance(error, bytes) else error
                    raise PermanentFailure(f"{exc.smtp_code} {text}") from None
                self._drop()
            except TRANSIENT as exc:
                self._drop()
                if attempt == self.attempts:
                    where = f"{self.settings.host}:{self.settings.port}"
                    if not reached:
                        raise NotSent(f"cannot reach the SMTP server {where} ({exc}); nothing "
                                      "more was sent, run the command again to go on") from None
                    raise DelphiError(f"lost the SMTP server {where} while sending ({exc}); "
                                      "the message may have gone out; run the command again to "
                                      "go on") from None
            except smtplib.SMTPException as exc:  # e.g. the server cannot do STARTTLS
                self._drop()
                if not reached:
                    raise NotSent(f"the SMTP server {self.settings.host}:{self.settings.port} "
                                  f"refused the connection ({exc}); nothing was sent; check "
                                  "mail: in study.yaml") from None
                raise PermanentFailure(str(exc)) from None
            self.sleep(delay)
            delay *= 2

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
        self._smtp = None
