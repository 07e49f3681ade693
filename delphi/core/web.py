"""Answering on the web, the pure part: private links and a panellist's unsent answers.

A private link carries a token of 192 random bits for one panellist and one round. Only the
token's SHA-256 is ever written down: the round's link log records each link issued and each
revocation, and :func:`live_links` replays it. A panellist may hold several live links for a
round (one printed by ``delphi links``, one in each message); revoking a panellist stops all
of them. Answers typed on the web are kept as a :class:`Answers` draft until sent; their values
are the text a returns file holds (a rating ``"7"``, ``""`` for no answer), so the same checks
as ``delphi import`` apply when they are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

TOKEN_BYTES = 24  # 192 random bits, 32 characters in a URL
LINK_PATH = "q"  # a link is <base_url>/q/<token>


class LinkEvent(BaseModel):
    """One line of a round's link log: a link issued (by its hash) or a panellist's revoked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: datetime
    action: Literal["issued", "revoked"]
    code: str
    sha256: str | None = None
    via: str | None = Field(None, description="what issued the link: links, send, remind")
    reason: str | None = None


def new_token() -> str:
    """A fresh private token: 192 bits from the operating system's random source."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is kept; the token itself is never kept."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def live_links(events: Iterable[LinkEvent]) -> dict[str, str]:
    """Digest -> code of every link issued and not revoked after (the log in file order)."""
    live: dict[str, str] = {}
    for event in events:
        if event.action == "issued" and event.sha256:
            live[event.sha256] = event.code
        elif event.action == "revoked":
            live = {digest: code for digest, code in live.items() if code != event.code}
    return live


def link_url(base_url: str, token: str) -> str:
    """A panellist's private link."""
    return f"{base_url.rstrip('/')}/{LINK_PATH}/{token}"


def base_path(base_url: str) -> str:
    """The path part of ``web.base_url`` (``""`` at a host's root): where routes live."""
    return urlsplit(base_url).path.rstrip("/")


def form_token(key: bytes, digest: str, purpose: str) -> str:
    """The anti-forgery token of a form: bound to one link (by its digest) and one purpose."""
    return hmac.new(key, f"{purpose}:{digest}".encode(), hashlib.sha256).hexdigest()


def form_token_ok(key: bytes, digest: str, purpose: str, given: str) -> bool:
    """Whether ``given`` is the form token of this link and purpose (constant time)."""
    return hmac.compare_digest(form_token(key, digest, purpose), given)


class Answers(BaseModel):
    """A panellist's answers as the web form holds them: a draft, or what is about to be sent.

    Keys are item ids; values are the text of a returns file's cells.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ratings: dict[str, str] = Field(default_factory=dict)
    comments: dict[str, str] = Field(default_factory=dict)
    suggestions: str = ""
    saved: datetime | None = None

    def digest(self) -> str:
        """A fingerprint of the answers (not of when they were saved)."""
        payload = json.dumps(self.model_dump(mode="json", exclude={"saved"}), sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    def answered(self) -> int:
        """How many items have an answer."""
        return sum(1 for v in self.ratings.values() if v != "")
