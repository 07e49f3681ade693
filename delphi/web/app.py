"""``delphi serve``: the ASGI application behind the panellists' private links.

Routes (under the path of ``web.base_url``, if it has one):

- ``GET  /q/<token>``         the questionnaire, filled with the draft or the return on file
- ``POST /q/<token>``         save the answers as a draft, or save them and go on to review
- ``GET  /q/<token>/review``  the answers about to be sent, and the button that sends them
- ``POST /q/<token>/send``    send: the same checks, store and log as ``delphi import``
- ``GET  /q/<token>/sent``    the receipt

Anything else, and any unknown, revoked or other round's token, gets the same 404 page. Every
POST carries a form token bound to the link; failed look-ups are limited per client.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from delphi.actions.web import (
    MessagePage,
    Page,
    QuestionnairePage,
    ReviewPage,
    SentPage,
    WebRound,
)
from delphi.core.web import LINK_PATH, Answers, base_path, form_token, form_token_ok, token_digest
from delphi.errors import DelphiError
from delphi.i18n import Language
from delphi.web.forms import (
    ACTION_FIELD,
    DIGEST_FIELD,
    FORM_TOKEN_FIELD,
    REPLACE_FIELD,
    FormError,
    answers_from,
    parse_fields,
)
from delphi.web.security import FailureLimiter, SecurityHeaders, same_origin, security_headers

MAX_BODY = 512 * 1024
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
FORM_TYPE = "application/x-www-form-urlencoded"

Handler = Callable[[Request], Awaitable[Response]]


def _when(moment: datetime | str | None, language: Language) -> str:
    """A time as a panellist reads it: ``23 November 2026 at 14:05``, in the panel's language."""
    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return ""
    return language._("%(date)s at %(time)s", date=language.date(moment.date()),
                      time=f"{moment:%H:%M}")


class Site:
    """The handlers, with what they share: the round, the pages, the limiter."""

    def __init__(self, web: WebRound, limiter: FailureLimiter,
                 clock: Callable[[], datetime], on_event: Callable[[str], None]) -> None:
        self.web = web
        self.language = web.pages.language
        self.style = web.pages.style
        self.limiter = limiter
        self.clock = clock
        self.on_event = on_event
        self.prefix = base_path(web.base_url)
        self.submitting = Lock()  # one return at a time from this server

    # ------------------------------------------------------------------ plumbing

    def _page(self, title: str) -> dict[str, Any]:
        return {"title": title, "language": self.language.tag, "dir": self.language.direction,
                "style": self.style}

    def _html(self, template: str, page: Page, status: int = 200, code: str | None = None
              ) -> HTMLResponse:
        return HTMLResponse(self.web.html(template, page, code), status_code=status)

    def message(self, status: int, title: str, heading: str, *paragraphs: str,
                headers: dict[str, str] | None = None) -> HTMLResponse:
        """A page that names no study and no panellist."""
        page = MessagePage(**self._page(title), heading=heading, paragraphs=list(paragraphs))
        response = self._html("message", page, status)
        response.headers.update(headers or {})
        return response

    def not_found(self) -> HTMLResponse:
        """The one 404 page: the same for every path, token and method."""
        _ = self.language._
        return self.message(
            404, _("Page not found"), _("This page does not exist"),
            _("If you followed a link to a questionnaire, check that you opened the whole link "
              "from the message you received."),
            _("If it still does not work, the link may have been replaced by a newer one: use "
              "the link in the latest message about the study, or ask the study coordinator "
              "for a new one."))

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return self.not_found()

    async def _study_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DelphiError)
        for problem in exc.problems:
            self.on_event(f"error: {problem}")
        _ = self.language._
        return self.message(503, _("Not available"),
                            _("The questionnaire is not available just now"),
                            _("Please try again in a few minutes. Answers saved as a draft are "
                              "kept."))

    def _urls(self, token: str) -> tuple[str, str, str, str]:
        base = f"{self.prefix}/{LINK_PATH}/{token}"
        return base, f"{base}/review", f"{base}/send", f"{base}/sent"

    async def _who(self, request: Request) -> tuple[str, str, str] | Response:
        """(code, digest, token) of a live link, or the response for a client who has none."""
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.blocked(client)
        if wait is not None:
            _ = self.language._
            return self.message(429, _("Too many attempts"), _("Too many attempts"),
                                _("Too many links that do not work were opened from your "
                                  "network. Please wait a few minutes and try again."),
                                headers={"Retry-After": str(int(wait) + 1)})
        token = request.path_params["token"]
        digest = token_digest(token)
        code = await run_in_threadpool(self.web.code_of, digest) \
            if TOKEN_SHAPE.match(token) else None
        if code is None:
            self.limiter.fail(client)
            self.on_event(f"unknown link opened from {client}")
            return self.not_found()
        if await run_in_threadpool(self.web.closed):
            _ = self.language._
            return self.message(410, _("Closed"),
                                _("Round %(round)s is closed", round=self.web.round),
                                _("This round of the study has ended, so answers can no longer "
                                  "be given or changed here. Thank you for taking part."),
                                _("If you have been sent a link to a newer round, please use "
                                  "that one."))
        return code, digest, token

    async def _form(self, request: Request, digest: str, purpose: str
                    ) -> dict[str, str] | Response:
        """The posted fields, if the request is a form this site made for this link."""
        _ = self.language._
        refused = self.message(
            403, _("Form not accepted"), _("This form could not be accepted"),
            _("It may have expired or come from another site. Go back, reload the page and try "
              "again; answers you saved as a draft are kept."))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE or not same_origin(
                {k.lower(): v for k, v in request.headers.items()}, self.web.base_url,
                request.url.scheme):
            return refused
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return self.message(413, _("Too long"), _("Your answers are too long to save"),
                                    _("Please shorten your comments and try again."))
        try:
            fields = parse_fields(bytes(body))
        except FormError as exc:
            return self.message(400, _("Form not accepted"), _("This form could not be read"),
                                str(exc))
        if not form_token_ok(self.web.key, digest, purpose, fields.get(FORM_TOKEN_FIELD, "")):
            return refused
        return fields

    # ------------------------------------------------------------------ questionnaire

    def _questionnaire(self, code: str, digest: str, token: str, answers: Answers | None,
                       errors: list[str], saved: str | None, status: int = 200
                       ) -> HTMLResponse:
        draft = self.web.draft(code)
        returned = self.web.returned(code)
        _, language = self.language._, self.language
        notices = []
        if saved is not None and draft is not None:
            notices.append(_("Your answers were saved as a draft (%(when)s). Open your link on "
                             "any device to go on; nothing is sent until you review your "
                             "answers and confirm.", when=_when(draft.saved, language)))
        elif draft is not None and not errors:
            notices.append(_("You have a draft saved %(when)s; it has not been sent yet.",
                             when=_when(draft.saved, language)))
        if returned is not None:
            notices.append(
                (_("You sent your answers on %(when)s.", when=_when(returned.when, language))
                 if returned.when else _("You sent your answers."))
                + " " + _("You can change them below and send them again; the new answers "
                          "replace the earlier ones once you confirm."))
        shown = answers or draft or (returned.answers if returned else Answers())
        form_url = self._urls(token)[0]
        page = QuestionnairePage(**self._page(_("%(title)s: round %(round)s",
                                                title=self.web.context.title,
                                                round=self.web.round)),
                                 action=form_url, form_token=form_token(self.web.key, digest,
                                                                        "answers"),
                                 answers=shown, notices=notices, errors=errors,
                                 saved_section=saved or None)
        return self._html("questionnaire", page, status, code)

    async def questionnaire(self, request: Request) -> Response:
        """GET: the form; POST: save a draft, or save and review."""
        who = await self._who(request)
        if isinstance(who, Response):
            return who
        code, digest, token = who
        if request.method != "POST":
            return await run_in_threadpool(self._questionnaire, code, digest, token, None, [],
                                           request.query_params.get("saved"))
        fields = await self._form(request, digest, "answers")
        if isinstance(fields, Response):
            return fields
        action = fields.get(ACTION_FIELD, "save")
        answers, unknown = answers_from(fields, self.web.fields(), self.clock(),
                                        (FORM_TOKEN_FIELD, ACTION_FIELD))
        return await run_in_threadpool(self._save, code, digest, token, answers, unknown,
                                       action)

    def _save(self, code: str, digest: str, token: str, answers: Answers, unknown: list[str],
              action: str) -> Response:
        errors = [f"{name!r} is not a question of this questionnaire" for name in unknown]
        verb, _, section = action.partition(":")
        sections = {s.id for s in self.web.context.sections}
        if verb not in ("save", "review") or (section and section not in sections):
            errors.append(f"unknown action {action!r}")
        errors += [p.message for p in self.web.problems(code, answers)]
        if errors:
            return self._questionnaire(code, digest, token, answers, errors, None, 400)
        self.web.save_draft(code, answers)
        self.on_event(f"{code}: draft saved ({answers.answered()} answered)")
        form_url, review_url, _, _ = self._urls(token)
        if verb == "review":
            return RedirectResponse(review_url, status_code=303)
        where = f"={section}#saved-{section}" if section else ""
        return RedirectResponse(f"{form_url}?saved{where}", status_code=303)

    # ------------------------------------------------------------------ review and send

    def _review(self, code: str, digest: str, token: str, errors: list[str],
                status: int = 200) -> Response:
        form_url, _, send_url, _ = self._urls(token)
        draft = self.web.draft(code)
        if draft is None:
            return RedirectResponse(form_url, status_code=303)
        returned = self.web.returned(code)
        items = [i for s in self.web.context.sections for i in s.items]
        page = ReviewPage(**self._page(self.language._("Check your answers: %(title)s",
                                                       title=self.web.context.title)),
                          action=send_url, form_url=form_url,
                          form_token=form_token(self.web.key, digest, "send"), answers=draft,
                          answers_digest=draft.digest(), total=len(items),
                          unanswered=[i for i in items
                                      if not any(k in draft.ratings for k in i.answer_keys())],
                          returned_when=None if returned is None
                          else _when(returned.when, self.language),
                          errors=errors)
        return self._html("review", page, status, code)

    async def review(self, request: Request) -> Response:
        """GET: the answers about to be sent."""
        who = await self._who(request)
        if isinstance(who, Response):
            return who
        code, digest, token = who
        return await run_in_threadpool(self._review, code, digest, token, [])

    async def send(self, request: Request) -> Response:
        """POST: send the reviewed draft as the panellist's return."""
        who = await self._who(request)
        if isinstance(who, Response):
            return who
        code, digest, token = who
        fields = await self._form(request, digest, "send")
        if isinstance(fields, Response):
            return fields
        return await run_in_threadpool(self._send, code, digest, token, fields)

    def _send(self, code: str, digest: str, token: str, fields: dict[str, str]) -> Response:
        form_url, _, _, sent_url = self._urls(token)
        draft = self.web.draft(code)
        if draft is None:  # sent already (a second click), or nothing saved
            return RedirectResponse(sent_url if self.web.returned(code) else form_url,
                                    status_code=303)
        if fields.get(DIGEST_FIELD) != draft.digest():
            return self._review(code, digest, token, [self.language._(
                "Your answers were changed (on another device or in another window) after "
                "this page was shown. Please check them again.")], 409)
        with self.submitting:
            returned = self.web.returned(code)
            if returned is not None and fields.get(REPLACE_FIELD) != "yes":
                return self._review(code, digest, token, [self.language._(
                    "You have already sent answers for this round. Tick the box to replace "
                    "them with these, or go back to change your answers.")], 400)
            try:
                report = self.web.submit(code, draft, replace=returned is not None,
                                         now=self.clock())
            except DelphiError as exc:
                return self._review(code, digest, token, [p.message for p in exc.problems],
                                    409)
        what = ("replaced their return" if report.replaced else "sent their return"
                if report.added else "sent the same return again")
        self.on_event(f"{code}: {what} ({draft.answered()} answered)")
        return RedirectResponse(sent_url, status_code=303)

    def _sent(self, code: str, token: str) -> Response:
        form_url = self._urls(token)[0]
        returned = self.web.returned(code)
        if returned is None:
            return RedirectResponse(form_url, status_code=303)
        _ = self.language._
        message = (_("Your answers to round %(round)s were received on %(when)s.",
                     round=self.web.round, when=_when(returned.when, self.language))
                   if returned.when else
                   _("Your answers to round %(round)s were received.", round=self.web.round))
        page = SentPage(**self._page(_("Thank you: %(title)s", title=self.web.context.title)),
                        message=message, form_url=form_url)
        return self._html("sent", page, 200, code)

    async def sent(self, request: Request) -> Response:
        """GET: the receipt."""
        who = await self._who(request)
        if isinstance(who, Response):
            return who
        code, _, token = who
        return await run_in_threadpool(self._sent, code, token)


class Application:
    """The ASGI application, and what ``delphi serve`` says about it."""

    def __init__(self, app: ASGIApp, web: WebRound) -> None:
        self.app = app
        self.round = web.round
        self.title = web.context.title
        self.base_url = web.base_url
        self.invited = len(web.personal)
        self.later = web.later

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        await self.app(scope, receive, send)


def create_app(study: Path | str = ".", round: int | None = None, *,
               limiter: FailureLimiter | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
               on_event: Callable[[str], None] = lambda text: None) -> Application:
    """The application serving one round of a study (default: the latest with a questionnaire).

    The questionnaire's context is built now; errors in the study folder are raised here, as a
    :class:`DelphiError`, before anything listens.
    """
    web = WebRound.load(study, round)
    site = Site(web, limiter or FailureLimiter(), clock, on_event)
    link = f"{site.prefix}/{LINK_PATH}/{{token}}"
    routes = [
        Route(link, site.questionnaire, methods=["GET", "POST"]),
        Route(f"{link}/review", site.review, methods=["GET"]),
        Route(f"{link}/send", site.send, methods=["POST"]),
        Route(f"{link}/sent", site.sent, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={
        404: site._not_found, 405: site._not_found, DelphiError: site._study_error})
    app.router.redirect_slashes = False
    return Application(SecurityHeaders(app, security_headers(web.pages.style_hash)), web)


def server_config(app: ASGIApp, host: str = "127.0.0.1", port: int = 8765) -> Any:
    """Uvicorn's settings for ``delphi serve``.

    No ``server`` header; no access log (its lines would hold the private tokens); the client's
    address taken from ``X-Forwarded-For`` only when the request comes from a proxy on this
    computer.
    """
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, server_header=False, access_log=False,
                          log_level="warning", proxy_headers=True,
                          forwarded_allow_ips="127.0.0.1", lifespan="off")


def serve_forever(app: ASGIApp, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Listen on ``host:port`` until interrupted."""
    import uvicorn

    uvicorn.Server(server_config(app, host, port)).run()
