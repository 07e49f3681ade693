"""What keeps private links private: response headers, failed-look-up limits, forged forms."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def security_headers(style_hash: str) -> list[tuple[bytes, bytes]]:
    """Headers sent with every response.

    The pages load nothing: their one stylesheet is inline and allowed by its hash, charts are
    inline SVG, forms post to the same origin. ``no-referrer`` keeps the token in the address
    from leaking to any other site; ``no-store`` keeps answers out of shared caches.
    """
    policy = (f"default-src 'none'; style-src '{style_hash}'; img-src data:; "
              "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return [(name.encode(), value.encode()) for name, value in (
        ("content-security-policy", policy),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    )]


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and no ``server`` header."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers
        self.names = {name for name, _ in headers} | {b"server"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, adding the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() not in self.names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class FailureLimiter:
    """At most ``limit`` failed link look-ups per client within ``window`` seconds.

    A client over the limit gets "too many requests" for every link, good or bad, until its
    oldest failure leaves the window: guessing tokens (192 bits) is hopeless anyway, and this
    keeps a scanner from trying many.
    """

    def __init__(self, limit: int = 20, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def blocked(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or ``None`` if it may now."""
        with self._lock:
            now = self.clock()
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return None
            return max(1.0, failures[0] + self.window - now)

    def fail(self, client: str) -> None:
        """Count one failed look-up by ``client``."""
        with self._lock:
            now = self.clock()
            if client not in self._failures and len(self._failures) >= self.max_clients:
                for known in list(self._failures):  # forget clients with nothing recent
                    if not self._recent(known, now):
                        del self._failures[known]
                if len(self._failures) >= self.max_clients:
                    self._failures.pop(next(iter(self._failures)))
            failures = self._recent(client, now)
            failures.append(now)
            self._failures[client] = failures


def same_origin(headers: dict[str, str], public_url: str, scheme: str) -> bool:
    """Whether a POST comes from a page of this site (by ``Sec-Fetch-Site`` and ``Origin``).

    Browsers send ``Sec-Fetch-Site``; under ``Referrer-Policy: no-referrer`` they send
    ``Origin: null`` with a form, so that says nothing. A request without these headers (a
    script, an old browser) is judged by its form token alone.
    """
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin", "null").lower()
    if origin == "null":
        return True
    public = urlsplit(public_url)
    allowed = {f"{public.scheme}://{public.netloc}".lower()}
    if "host" in headers:
        allowed.add(f"{scheme}://{headers['host']}".lower())
    return origin in allowed
