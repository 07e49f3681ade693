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
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from typing_extensions import Buffer

from delphi.core.models import MailSettings
from delphi.errors import DelphiError

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError,
             TimeoutError, OSError)


class PermanentFailure(Exception):
    """The server refused this message for good (a bad address, say)."""


class NotSent(DelphiError):
    """The message never reached the server (no connection, login refused): it was not sent."""


class _Connection(smtplib.SMTP):
    """An SMTP connection that knows whether it has carried a message yet.

    ``in_data`` says whether the message on the way got as far as ``DATA``, after which the
    server may have delivered it.
    """

    used = False
    in_data = False

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        self.in_data = True
        code, reply = super().data(msg)
        self.in_data = False
        self.used = True
        return code, reply


class _SSLConnection(_Connection, smtplib.SMTP_SSL):
    """The same over SSL from the first byte."""


class MaybeSent(DelphiError):
    """The connection dropped while the message's data was on the way: it may have gone out."""


class Mailer:
    """One SMTP connection for a whole run, reopened when it drops; use as a context manager.

    Every message goes over the same connection. When the server has closed it in between
    (an idle timeout, a limit of messages per connection), the next message finds out before
    anything of it was accepted, and goes again at once over a new connection. A drop while
    the message's own data was on the way is another matter: the server may have delivered
    it, so it is not sent again (:class:`MaybeSent`).
    """

    def __init__(self, settings: MailSettings, attempts: int = 4, backoff: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.user = os.environ.get("DELPHI_SMTP_USER")
        self.password = os.environ.get("DELPHI_SMTP_PASSWORD")
        self._smtp: _Connection | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _connect(self) -> _Connection:
        s = self.settings
        context = ssl.create_default_context()
        if s.security == "ssl":
            smtp: _Connection = _SSLConnection(s.host, s.port, timeout=30, context=context)
        else:
            smtp = _Connection(s.host, s.port, timeout=30)
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

        Raises :class:`NotSent` when the server did not take the message (the connection or
        the login was refused, or the connection kept dropping before the message's data),
        and :class:`MaybeSent` when the connection dropped while its data was on the way.
        """
        delay = self.backoff
        reached = False
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            last = attempt == self.attempts
            stale = self._smtp is not None and self._smtp.used
            if self._smtp is not None:
                self._smtp.in_data = False  # a refusal inside DATA earlier was an answer
            try:
                smtp = self._connection()
                reached = True
                self._send_once(smtp, message)
                return
            except smtplib.SMTPRecipientsRefused as exc:
                self._recipients_refused(exc, last)
            except smtplib.SMTPResponseException as exc:
                self._response_refused(exc, last)
            except TRANSIENT as exc:
                if self._transient(exc, stale, reached, last):
                    attempt -= 1  # the server had closed a connection idle since the last
                    continue      # message: open a new one at once, not counted as a try
            except smtplib.SMTPException as exc:  # e.g. the server cannot do STARTTLS
                self._refused(exc, reached)
            self.sleep(delay)
            delay *= 2

    def _connection(self) -> _Connection:
        """The open connection, or a new one; :class:`NotSent` if the server refuses it."""
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except DelphiError as exc:
                raise NotSent(exc.problems) from None
        return self._smtp

    @staticmethod
    def _send_once(smtp: _Connection, message: EmailMessage) -> None:
        """Send the message once; :class:`PermanentFailure` if some recipient was refused."""
        refused = smtp.send_message(message)
        if refused:
            raise PermanentFailure("; ".join(f"{a}: {c} {m.decode(errors='replace')}"
                                             for a, (c, m) in refused.items()))

    @staticmethod
    def _recipients_refused(exc: smtplib.SMTPRecipientsRefused, last: bool) -> None:
        """Every recipient refused: for good on a 5xx refusal or the last try, else retry."""
        codes = [c for c, _ in exc.recipients.values()]
        detail = "; ".join(f"{a}: {c} {m.decode(errors='replace')}"
                           for a, (c, m) in exc.recipients.items())
        if all(500 <= c < 600 for c in codes) or last:
            raise PermanentFailure(detail) from None

    def _response_refused(self, exc: smtplib.SMTPResponseException, last: bool) -> None:
        """A refusing reply: for good on a 5xx or the last try, else drop the connection."""
        if 500 <= exc.smtp_code < 600 or last:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else error
            raise PermanentFailure(f"{exc.smtp_code} {text}") from None
        self._drop()

    def _transient(self, exc: BaseException, stale: bool, reached: bool, last: bool) -> bool:
        """A dropped or failed connection: whether to retry at once, not counted as a try.

        Raises :class:`MaybeSent` when the message's data was on the way, and :class:`NotSent`
        on the last try; otherwise the caller retries (after a pause unless this returns True).
        """
        during_data = self._smtp is not None and self._smtp.in_data
        self._drop()
        where = f"{self.settings.host}:{self.settings.port}"
        if during_data:
            raise MaybeSent(f"lost the SMTP server {where} while handing the message "
                            f"over ({exc}); it may have gone out") from None
        if stale and isinstance(exc, smtplib.SMTPServerDisconnected):
            return True
        if last:  # nothing of this message was accepted
            verb = "lost" if reached else "cannot reach"
            raise NotSent(f"{verb} the SMTP server {where} ({exc}); nothing more was "
                          "sent, run the command again to go on") from None
        return False

    def _refused(self, exc: smtplib.SMTPException, reached: bool) -> NoReturn:
        """Any other SMTP error: :class:`NotSent` before the server was reached, else for good."""
        self._drop()
        if not reached:
            raise NotSent(f"the SMTP server {self.settings.host}:{self.settings.port} "
                          f"refused the connection ({exc}); nothing was sent; check "
                          "mail: in study.yaml") from None
        raise PermanentFailure(str(exc)) from None

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
        self._smtp = None
