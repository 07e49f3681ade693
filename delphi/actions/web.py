"""links and serve: private links to answer on the web, and the study as the server sees it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from delphi.actions.rounds import questionnaire_context
from delphi.core.models import Manifest, PanelReturn
from delphi.core.web import Answers, LinkEvent, link_url, live_links, new_token, token_digest
from delphi.errors import Problem, RoundStateError
from delphi.render.context import Personal, QuestionnaireContext
from delphi.render.web import (
    MessagePage,
    Page,
    Pages,
    QuestionnairePage,
    ReviewPage,
    SentPage,
)
from delphi.store.intake import ImportReport, check_form, import_form, read_log
from delphi.store.returns_csv import return_cells
from delphi.store.study import Study
from delphi.store.web import WebStore

__all__ = ["MessagePage", "Page", "QuestionnairePage", "ReviewPage", "SentPage", "WebRound",
           "Links", "links", "issue_link", "base_url"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
WEB_SOURCE = "web"


def base_url(folder: Study) -> str:
    """``web.base_url`` of study.yaml, else the address ``delphi serve`` listens on by default."""
    web = folder.settings.web
    return web.base_url if web else f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def _now() -> datetime:
    return datetime.now().astimezone()


def _invited(manifest: Manifest, codes: Collection[str], option: str) -> list[str]:
    """Codes as the manifest spells them; a code not invited is an error naming it."""
    known = {c.upper(): c for c in manifest.invited}
    unknown = [c for c in codes if c.upper() not in known]
    if unknown:
        raise RoundStateError(f"{option}{unknown[0]!r}: not invited to round {manifest.round}")
    return [known[c.upper()] for c in codes]


def issue_link(folder: Study, round_no: int, code: str, via: str,
               now: datetime | None = None) -> str:
    """A new private link for one panellist and round; only its hash is written down."""
    return _issue(folder, round_no, [code], via, now)[code]


def _issue(folder: Study, round_no: int, codes: Sequence[str], via: str,
           now: datetime | None, revoke: Sequence[str] = ()) -> dict[str, str]:
    when = now or _now()
    url = base_url(folder)
    events = [LinkEvent(time=when, action="revoked", code=c, reason=f"revoked by {via}")
              for c in revoke]
    out: dict[str, str] = {}
    for code in codes:
        token = new_token()
        events.append(LinkEvent(time=when, action="issued", code=code,
                                sha256=token_digest(token), via=via))
        out[code] = link_url(url, token)
    WebStore(folder, round_no).append_links(events)
    return out


@dataclass(frozen=True)
class Links:
    """The outcome of :func:`links`: the links issued (code -> URL) and the ones revoked."""

    study: Study
    round: int
    base_url: str
    configured: bool
    links: dict[str, str]
    revoked: list[str]
    log: Path


def links(study: Path | str = ".", round: int | None = None, codes: Sequence[str] = (),
          revoke: Sequence[str] = (), now: datetime | None = None) -> Links:
    """Issue private links (every invited panellist, or ``codes``), or revoke panellists' links.

    Panellists who have withdrawn get no link (``delphi panel withdraw`` revoked theirs).

    Each call issues new links; links issued before keep working until revoked. With
    ``revoke`` and no ``codes``, links are only revoked.
    """
    folder = Study(study).validated()
    round_no = folder.latest_round(round)
    manifest = folder.manifest(round_no)
    stop = _invited(manifest, revoke, "--revoke ")
    people = folder.roster.by_code()
    chosen = _invited(manifest, codes, "") if codes else (
        [] if stop else [c for c in manifest.invited if not people[c].is_withdrawn])
    for code in chosen:
        if (gone := people[code].withdrawn) is not None:
            raise RoundStateError(f"{code!r}: withdrew from the study on {gone.date}; a "
                                  "withdrawn panellist gets no link")
    issued = _issue(folder, round_no, chosen, "links", now, revoke=stop)
    store = WebStore(folder, round_no)
    return Links(folder, round_no, base_url(folder), folder.settings.web is not None, issued,
                 stop, store.link_log)


@dataclass
class Returned:
    """A panellist's return on file for the round, as form values, and when it came."""

    answers: Answers
    when: str | None


@dataclass
class WebRound:
    """The study as ``delphi serve`` sees it: one round, its questionnaire, links and drafts.

    The questionnaire's context is built once; links, drafts and returns are read from the
    study folder on each request, so links issued, revoked or returns imported while the server
    runs take effect at once.
    """

    root: Path
    round: int
    context: QuestionnaireContext
    personal: dict[str, Personal]
    key: bytes
    base_url: str
    pages: Pages
    _store: WebStore
    later: list[int] = field(default_factory=list)  # rounds after this one when loaded
    _stamp: object = None
    _live: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, study: Path | str = ".", round: int | None = None) -> WebRound:
        """The round to serve (default: the latest with a questionnaire)."""
        folder = Study(study).validated()
        round_no = folder.latest_round(round)
        context, personals = questionnaire_context(folder, round_no)
        store = WebStore(folder, round_no)
        return cls(folder.root, round_no, context, {p.code: p for p in personals},
                   store.form_key(), base_url(folder), Pages(folder.root, folder.language),
                   store, [r for r in folder.rounds() if r > round_no])

    def closed(self) -> bool:
        """Whether a later round was built while serving this one (its answers are in)."""
        return [r for r in Study(self.root).round_numbers() if r > self.round] != self.later

    def fields(self) -> dict[str, tuple[str, str]]:
        """Each answer field of the questionnaire's form: name -> (kind, answer key).

        A rating or choice (one per dimension) is a ``rating`` field under its answer key; an
        open question's text box is ``open``; a comment is ``comment`` under its item id.
        """
        out: dict[str, tuple[str, str]] = {}
        for section in self.context.sections:
            for item in section.items:
                for row in item.rows:
                    out[row.field] = ("rating", row.key)
                if item.text_field:
                    out[item.text_field] = ("open", item.id)
                    continue
                out[item.comment_field] = ("comment", item.id)
        return out

    def html(self, template: str, page: Page, code: str | None = None) -> str:
        """A page as HTML; with ``code``, the page of that panellist's questionnaire."""
        if code is None:
            return self.pages.render(template, page)
        return self.pages.render(template, page, self.context, self.personal[code])

    def code_of(self, digest: str) -> str | None:
        """The panellist whose live link has this token digest, if any."""
        stamp = self._store.link_log_stamp()
        if stamp != self._stamp:
            self._live = live_links(self._store.link_events())
            self._stamp = stamp
        code = self._live.get(digest)
        return code if code in self.personal else None

    def draft(self, code: str) -> Answers | None:
        """The panellist's saved draft."""
        return self._store.draft(code)

    def save_draft(self, code: str, answers: Answers) -> None:
        """Keep the panellist's draft."""
        self._store.save_draft(code, answers)

    def returned(self, code: str) -> Returned | None:
        """The panellist's return on file for this round (from any source), if any."""
        folder = Study(self.root)
        found: PanelReturn | None = next((r for r in folder.returns(self.round)
                                          if r.code == code), None)
        if found is None:
            return None
        when = None
        for entry in read_log(folder, self.round):
            if code in entry.get("codes", []) and entry.get("action") in ("imported",
                                                                          "replaced"):
                when = entry.get("time")
        cells = return_cells(found, folder.manifest(self.round), folder.settings)
        answers = Answers(ratings={k: v for k, v in cells.items() if v != ""},
                          comments=dict(found.comments), suggestions=found.suggestions or "")
        return Returned(answers, when)

    def problems(self, code: str, answers: Answers) -> list[Problem]:
        """What an import would refuse in these answers."""
        return check_form(Study(self.root), self.round, code, answers.ratings, answers.comments,
                          answers.suggestions or None, source=WEB_SOURCE)

    def submit(self, code: str, answers: Answers, replace: bool,
               now: datetime | None = None) -> ImportReport:
        """Send the answers as the panellist's return, exactly as ``delphi import`` stores one.

        The draft is forgotten once the return is stored.
        """
        report = import_form(Study(self.root), self.round, code, answers.ratings,
                             answers.comments, answers.suggestions or None, replace=replace,
                             now=now, source=WEB_SOURCE)
        self._store.drop_draft(code)
        return report
