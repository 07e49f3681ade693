"""delphi links and delphi serve, driven in-process over HTTP (Starlette's test client)."""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

with warnings.catch_warnings():  # starlette 1.x would rather have httpx2, not on PyPI's mirror
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from delphi.actions import compute_round, links
from delphi.core.rounds import plan_round
from delphi.store.study import Study
from delphi.web.app import create_app, server_config
from delphi.web.security import FailureLimiter
from tests.conftest import PANEL_YAML, Result, tree_digest

Make = Callable[..., Path]
Run = Callable[..., Result]

# Round 1 without consensus on 1.1 and 1.2, and the groups apart on 1.2 (divergence shown).
ROUND_1 = """\
code,1.1,1.2,5.1,5.2,comment:1.1,suggestions
E1,8,2,7,5,Nice,
E2,2,5,7,4,,Ask about housing
U1,5,8,9,3,,
"""
NAMES = [line.split("name: ")[1].split(",")[0] for line in PANEL_YAML.splitlines()[1:]]
EMAILS = re.findall(r"[\w.]+@example\.org", PANEL_YAML)


@pytest.fixture
def study(make_study: Make) -> Path:
    """The tiny study at round 2: round 1 returned and analysed, round 2's manifest written."""
    root = make_study(returns=ROUND_1)
    folder = Study(root)
    plan = plan_round(folder.settings, folder.bank, folder.roster, 2, [compute_round(folder, 1)])
    folder.write_manifest(plan.manifest)
    return root


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def serve(study: Path) -> Callable[..., TestClient]:
    def make(limiter: FailureLimiter | None = None, root: Path = study) -> TestClient:
        return TestClient(create_app(root, limiter=limiter), follow_redirects=False)

    return make


def form_of(html: str, action_suffix: str = "") -> dict[str, str]:
    """The hidden fields of the page's form (the form token, the answers' digest)."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert "form_token" in fields
    return fields


def post(client: TestClient, url: str, data: dict[str, str], **headers: str) -> httpx.Response:
    return client.post(url, data=data, headers=headers)


def test_links_are_random_per_panellist_and_round_and_kept_only_as_hashes(
        study: Path, cli: Run) -> None:
    result = cli("links", "--study", str(study), "--json")
    assert result.exit_code == 0, result.stderr
    urls = json.loads(result.stdout)
    assert list(urls) == ["E1", "E2", "U1", "U2"]
    tokens = [u.rsplit("/", 1)[1] for u in urls.values()]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", t) for t in tokens)  # 32 x 6 = 192 bits
    assert len(set(tokens)) == 4
    assert all(u.startswith("http://127.0.0.1:8765/q/") for u in urls.values())
    assert "web.base_url is not set" in result.stderr
    again = json.loads(cli("links", "--study", str(study), "--json").stdout)
    assert set(again.values()).isdisjoint(urls.values())
    round_1 = json.loads(cli("links", "--study", str(study), "--round", "1", "--json").stdout)
    assert set(round_1.values()).isdisjoint(urls.values())
    # Only hashes are written down, nowhere the tokens themselves.
    for path in study.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert not any(t.encode() in text for t in tokens), path
    log = (study / "rounds/round-2/web/links.jsonl").read_text()
    assert len(log.splitlines()) == 8
    create_app(study)  # makes the key that signs the forms, readable by its owner only
    assert (study / "rounds/round-2/web/form-key").stat().st_mode & 0o077 == 0
    plain = cli("links", "--study", str(study), "E2")
    assert re.fullmatch(r"E2  http://127\.0\.0\.1:8765/q/[\w-]{32}\n", plain.stdout)


def test_links_use_the_base_url_and_refuse_unknown_codes(study: Path, cli: Run) -> None:
    text = (study / "study.yaml").read_text()
    (study / "study.yaml").write_text(text + "web:\n  base_url: https://example.org/delphi/\n")
    urls = json.loads(cli("links", "--study", str(study), "--json").stdout)
    assert urls["E1"].startswith("https://example.org/delphi/q/")
    bad = cli("links", "--study", str(study), "X9")
    assert bad.exit_code == 2 and "'X9': not invited to round 2" in bad.stderr
    (study / "study.yaml").write_text(text + "web:\n  base_url: ftp://example.org\n")
    assert cli("links", "--study", str(study)).exit_code == 2


def test_a_link_opens_that_panellists_questionnaire_with_the_pdf_feedback(
        study: Path, serve: Callable[..., TestClient]) -> None:
    urls = links(study).links
    client = serve()
    page = client.get(path_of(urls["E1"]))
    assert page.status_code == 200
    html = page.text
    assert "Round 2 questionnaire · your code <strong>E1</strong>" in html
    assert "First statement" in html and "Second statement" in html
    # Feedback from round 1: own rating, median, IQR, the groups' divergence, the chart.
    assert "Your rating in round 1</dt><dd>8</dd>" in html
    assert "Group response (median)</dt><dd>5.0</dd>" in html
    assert "Consensus level (IQR)</dt><dd>3.0</dd>" in html
    assert "The stakeholder groups differed on this item" in html
    assert html.count("<svg") == 2
    assert html.count("<fieldset") == 2 and html.count("<legend>") == 2
    u1 = client.get(path_of(urls["U1"])).text
    assert "Your rating in round 1</dt><dd>5</dd>" in u1 and "your code <strong>U1" in u1
    assert "no rating" in client.get(path_of(urls["U2"])).text


class Controls(HTMLParser):
    """Every form control and how it is labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.in_label = 0
        self.label_for: set[str] = set()
        self.controls: list[tuple[dict[str, str | None], bool]] = []
        self.fieldsets = self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "textarea", "select") and a.get("type") != "hidden":
            self.controls.append((a, self.in_label > 0))
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def test_every_control_has_a_label_and_no_page_names_anyone(
        study: Path, serve: Callable[..., TestClient]) -> None:
    urls = links(study).links
    client = serve()
    pages = []
    for url in urls.values():
        html = client.get(path_of(url)).text
        controls = Controls()
        controls.feed(html)
        assert controls.fieldsets == controls.legends == 2
        assert controls.controls
        for attrs, wrapped in controls.controls:
            assert wrapped or attrs.get("id") in controls.label_for, attrs
        pages.append(html)
        data = {**form_of(html), "rating_1~1": "4", "action": "review"}
        assert post(client, path_of(url), data).status_code == 303
        pages.append(client.get(path_of(url) + "/review").text)
    pages.append(client.get("/nothing").text)
    for html in pages:
        for name in NAMES:
            assert name not in html
        for email in EMAILS:
            assert email not in html


def test_any_other_path_or_token_gets_the_same_404(study: Path, cli: Run) -> None:
    urls = links(study).links
    old = links(study, round=1).links["E1"]  # round 1's link, round 2 served
    revoked = links(study, codes=["E2"]).links["E2"]
    assert cli("links", "--study", str(study), "--revoke", "E2").exit_code == 0
    client = TestClient(create_app(study), follow_redirects=False)
    good = path_of(urls["E1"])
    token = good.rsplit("/", 1)[1]
    requests = [("GET", "/"), ("GET", "/q"), ("GET", "/q/"), ("GET", "/q/" + "A" * 32),
                ("GET", "/q/short"), ("GET", path_of(old)), ("GET", path_of(revoked)),
                ("GET", path_of(urls["E2"])), ("GET", good + "/"), ("GET", good + "/other"),
                ("PUT", good), ("DELETE", good), ("GET", good + "/send"),
                ("POST", good + "/review"), ("GET", "/favicon.ico"), ("GET", "/static/x.css"),
                ("GET", f"/q/{token.upper()}"), ("GET", "/Q/" + token)]
    bodies = set()
    for method, path in requests:
        response = client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "Dedicated" not in response.text and "Tiny study" not in response.text
        bodies.add(response.text)
    assert len(bodies) == 1
    assert client.get(good).status_code == 200


def test_security_headers_on_every_response(study: Path,
                                            serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E1"])
    client = serve()
    html = client.get(url).text
    responses = [client.get(url), client.get("/"), client.head(url),
                 post(client, url, {"form_token": "forged"}),
                 post(client, url, {**form_of(html), "action": "save"})]
    assert [r.status_code for r in responses] == [200, 404, 200, 403, 303]
    for response in responses:
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "form-action 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers
    # The inline stylesheet is the only style allowed, by its hash.
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    import base64
    import hashlib
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in responses[0].headers["content-security-policy"]
    assert "<script" not in html and " style=" not in html


def test_every_post_needs_this_links_form_token(study: Path,
                                               serve: Callable[..., TestClient]) -> None:
    urls = links(study).links
    e1, e2 = path_of(urls["E1"]), path_of(urls["E2"])
    client = serve()
    before = tree_digest(study)
    e2_token = form_of(client.get(e2).text)["form_token"]
    e1_fields = form_of(client.get(e1).text)
    answer = {"rating_1~1": "7", "action": "save"}
    attempts = [
        post(client, e1, answer),  # no token
        post(client, e1, {**answer, "form_token": "0" * 64}),
        post(client, e1, {**answer, "form_token": e2_token}),  # another panellist's form
        post(client, e1, {**answer, **e1_fields}, origin="https://evil.example"),
        post(client, e1, {**answer, **e1_fields}, **{"sec-fetch-site": "cross-site"}),
        post(client, e1, {**answer, **e1_fields}, origin="null",
             **{"sec-fetch-site": "cross-site"}),  # a sandboxed frame elsewhere
        client.post(e1, json={**answer, **e1_fields}),
        post(client, e1 + "/send", {**e1_fields, "answers": "x"}),  # the questionnaire's
    ]                                                              # token does not send
    assert [r.status_code for r in attempts] == [403] * 8
    assert "This form could not be accepted" in attempts[0].text
    assert tree_digest(study) == before
    assert tree_digest(study) == before
    ok = post(client, e1, {**answer, **e1_fields}, origin="http://testserver",
              **{"sec-fetch-site": "same-origin"})
    assert ok.status_code == 303
    # What browsers send under Referrer-Policy: no-referrer.
    ok = post(client, e1, {**answer, **e1_fields}, origin="null",
              **{"sec-fetch-site": "same-origin"})
    assert ok.status_code == 303


def test_drafts_are_kept_on_the_server_for_another_device(
        study: Path, serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E1"])
    phone = serve()
    fields = form_of(phone.get(url).text)
    saved = post(phone, url, {**fields, "rating_1~1": "7", "rating_1~2": "",
                              "comment_1~1": "Line one\r\nline two\r\n", "suggestions": " ",
                              "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == url + "?saved"
    assert "saved as a draft" in phone.get(saved.headers["location"]).text
    laptop = serve()  # another client, no shared state but the server's
    html = laptop.get(url).text
    assert 'name="rating_1~1" value="7" checked' in html
    assert 'name="rating_1~2" value="" checked' in html
    assert ">Line one\nline two</textarea>" in html
    assert "You have a draft saved" in html
    draft = json.loads((study / "rounds/round-2/web/drafts/E1.json").read_text())
    assert draft["ratings"] == {"1.1": "7"} and draft["comments"] == {"1.1": "Line one\nline two"}
    assert not (study / "rounds/round-2/returns").exists()
    # A section's own button brings the panellist back to that section.
    section = post(phone, url, {**fields, "rating_1~1": "6", "action": "save:org"})
    assert section.headers["location"] == url + "?saved=org#saved-org"
    html = phone.get(url + "?saved=org").text
    assert '<div class="actions section-actions" id="saved-org">' \
           '<p class="saved" role="status">Saved as a draft.</p>' in html
    assert post(phone, url, {**fields, "action": "save:nowhere"}).status_code == 400


def send(client: TestClient, url: str, answers: dict[str, str], replace: bool = False
         ) -> httpx.Response:
    fields = form_of(client.get(url).text)
    reviewed = post(client, url, {**fields, **answers, "action": "review"})
    assert reviewed.status_code == 303, reviewed.text
    assert reviewed.headers["location"] == url + "/review"
    review = client.get(url + "/review")
    data = form_of(review.text)
    if replace:
        data["replace"] = "yes"
    return post(client, url + "/send", data)


def test_a_sent_return_is_imported_like_delphi_import(study: Path, cli: Run,
                                                      serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E1"])
    client = serve()
    fields = form_of(client.get(url).text)
    post(client, url, {**fields, "rating_1~1": "7", "comment_1~2": "Why?\r\nBecause.",
                       "action": "review"})
    review = client.get(url + "/review")
    assert "You rated <strong>1 of 2</strong>" in review.text
    assert "Your rating: <strong>7</strong>" in review.text
    assert 'href="' + url + '#item-1~2">1.2</a>' in review.text
    assert not (study / "rounds/round-2/returns").exists()  # nothing sent yet
    sent = post(client, url + "/send", form_of(review.text))
    assert sent.status_code == 303 and sent.headers["location"] == url + "/sent"
    receipt = client.get(url + "/sent")
    assert "Your answers to round 2 were received on" in receipt.text
    returns = (study / "rounds/round-2/returns/returns.csv").read_text()
    assert returns == 'code,1.1,1.2,comment:1.2,suggestions\nE1,7,,"Why?\nBecause.",\n'
    log = [json.loads(line) for line in
           (study / "rounds/round-2/returns/import-log.jsonl").read_text().splitlines()]
    assert [(e["source"], e["codes"], e["action"]) for e in log] == [("web", ["E1"],
                                                                      "imported")]
    assert not (study / "rounds/round-2/web/drafts/E1.json").exists()
    status = json.loads(cli("status", "--study", str(study), "--json").stdout)
    assert status["overall"]["returned"] == 1
    assert "E1" not in [o["code"] for o in status["outstanding"]]
    analysis = json.loads(cli("analyse", "--study", str(study), "--json").stdout)
    assert analysis["round"] == 2 and analysis["items"][0]["n"] == 1
    # The page now says so, and shows what was sent.
    again = client.get(url).text
    assert "You sent your answers on" in again
    assert 'name="rating_1~1" value="7" checked' in again


def test_an_invalid_value_is_refused_whole(study: Path,
                                           serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E1"])
    client = serve()
    fields = form_of(client.get(url).text)
    before = tree_digest(study)
    for bad in ({"rating_1~1": "12"}, {"rating_1~1": "7.5"}, {"rating_5~1": "3"},
                {"comment_9~9": "hi"}, {"action": "delete"}):
        response = post(client, url, {**fields, "rating_1~2": "3", "action": "save", **bad})
        assert response.status_code == 400, bad
        assert "Your answers were not saved" in response.text
        assert tree_digest(study) == before
    twice = client.post(url, content=f"form_token={fields['form_token']}&rating_1~1=1&"
                        "rating_1~1=9", headers={"content-type":
                                                 "application/x-www-form-urlencoded"})
    assert twice.status_code == 400 and "sent twice" in twice.text
    huge = post(client, url, {**fields, "comment_1~1": "x" * 600_000, "action": "save"})
    assert huge.status_code == 413 and "too long" in huge.text
    response = post(client, url, {**fields, "rating_1~1": "12", "action": "save"})
    assert "item 1.1: rating 12 is outside the scale 1-9" in response.text
    assert tree_digest(study) == before


def test_a_second_return_replaces_the_first_only_when_confirmed(
        study: Path, serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["U1"])
    client = serve()
    assert send(client, url, {"rating_1~1": "3"}).status_code == 303
    returns = study / "rounds/round-2/returns/returns.csv"
    first = returns.read_text()
    refused = send(client, url, {"rating_1~1": "9"})
    assert refused.status_code == 400
    assert "Tick the box to replace" in refused.text and returns.read_text() == first
    review = client.get(url + "/review").text
    assert "You have already sent answers for this round" in review
    assert 'name="replace" value="yes" required' in review
    assert send(client, url, {"rating_1~1": "9"}, replace=True).status_code == 303
    assert "U1,9," in returns.read_text()
    history = list((study / "rounds/round-2/returns/history").iterdir())
    assert len(history) == 1 and "U1,3," in history[0].read_text()
    log = [json.loads(line) for line in
           (study / "rounds/round-2/returns/import-log.jsonl").read_text().splitlines()]
    assert [(e["source"], e["action"], e.get("replaced")) for e in log] == [
        ("web", "imported", None), ("web", "replaced", ["U1"])]


def test_answers_changed_on_another_device_after_review_are_not_sent(
        study: Path, serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E2"])
    phone, laptop = serve(), serve()
    fields = form_of(phone.get(url).text)
    post(phone, url, {**fields, "rating_1~1": "3", "action": "review"})
    review = form_of(phone.get(url + "/review").text)
    post(laptop, url, {**fields, "rating_1~1": "4", "action": "save"})
    stale = post(phone, url + "/send", review)
    assert stale.status_code == 409 and "were changed" in stale.text
    assert not (study / "rounds/round-2/returns").exists()


def test_failed_look_ups_are_rate_limited(study: Path,
                                          serve: Callable[..., TestClient]) -> None:
    url = path_of(links(study).links["E1"])
    clock = Clock()
    client = serve(FailureLimiter(limit=3, window=60, clock=clock))
    assert [client.get(f"/q/{'x' * 31}{i}").status_code for i in range(3)] == [404] * 3
    assert client.get("/elsewhere").status_code == 404  # not a token: not counted
    blocked = client.get(f"/q/{'y' * 32}")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 60
    assert client.get(url).status_code == 429  # a good link too, until the window passes
    clock.now += 61
    assert client.get(url).status_code == 200


def test_a_revoked_link_stops_working_and_a_new_one_works(
        study: Path, cli: Run, serve: Callable[..., TestClient]) -> None:
    first = links(study).links
    second = links(study, codes=["E1"]).links["E1"]
    client = serve()
    assert client.get(path_of(first["E1"])).status_code == 200  # both live
    assert client.get(path_of(second)).status_code == 200
    result = cli("links", "--study", str(study), "--revoke", "E1", "E1", "--json")
    assert result.exit_code == 0 and "Revoked every earlier link of E1" in result.stderr
    third = json.loads(result.stdout)["E1"]
    assert client.get(path_of(first["E1"])).status_code == 404
    assert client.get(path_of(second)).status_code == 404
    assert client.get(path_of(third)).status_code == 200
    assert client.get(path_of(first["E2"])).status_code == 200


def test_routes_live_under_the_base_urls_path(study: Path) -> None:
    with (study / "study.yaml").open("a") as handle:
        handle.write("web:\n  base_url: https://example.org/delphi\n")
    url = links(study).links["E1"]
    client = TestClient(create_app(study), base_url="https://example.org",
                        follow_redirects=False)
    assert client.get(path_of(url)).status_code == 200
    assert path_of(url).startswith("/delphi/q/")
    assert client.get(path_of(url).replace("/delphi", "")).status_code == 404
    fields = form_of(client.get(path_of(url)).text)
    saved = post(client, path_of(url), {**fields, "action": "save"},
                 origin="https://example.org")
    assert saved.status_code == 303 and saved.headers["location"].startswith("/delphi/q/")


def test_serve_listens_on_127_0_0_1_by_default_without_a_server_header(
        study: Path, cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen = {}

    def run(self: uvicorn.Server, sockets: object = None) -> None:
        seen["config"] = self.config

    monkeypatch.setattr(uvicorn.Server, "run", run)
    result = cli("serve", "--study", str(study))
    assert result.exit_code == 0, result.stderr
    assert "Serving round 2 of \"Tiny study\" (4 panellists invited) on " \
           "http://127.0.0.1:8765" in result.stdout
    config = seen["config"]
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.server_header is False and config.access_log is False
    assert cli("serve", "--study", str(study), "--host", "0.0.0.0", "--port", "9000"
               ).exit_code == 0
    assert (seen["config"].host, seen["config"].port) == ("0.0.0.0", 9000)
    old = cli("serve", "--study", str(study), "--round", "1")
    assert old.exit_code == 0 and "Serving round 1" in old.stdout
    assert "warning: round 1 is not the latest (round 2 has a questionnaire)" in old.stderr


@contextmanager
def served(study: Path) -> Iterator[str]:
    """``delphi serve`` on a free port of 127.0.0.1, as the command runs it: its address."""
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(study), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_real_uvicorn_server_sends_no_server_header(study: Path) -> None:
    url = path_of(links(study).links["E1"])
    with served(study) as address:
        response = httpx.get(address + url)
        assert response.status_code == 200
        assert "server" not in response.headers
        assert httpx.get(address + "/").status_code == 404


def test_a_web_return_and_an_import_at_the_same_moment_both_land(
        study: Path, serve: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from delphi import actions
    from delphi.store import intake

    url = path_of(links(study).links["E1"])
    client = serve()
    fields = form_of(client.get(url).text)
    post(client, url, {**fields, "rating_1~1": "7", "action": "review"})
    review = form_of(client.get(url + "/review").text)
    late = tmp_path / "late.csv"
    late.write_text("code,1.1,1.2\nE2,3,4\n")
    # Each intake pauses between reading the returns on file and writing them back: without
    # the round's lock, the two would read the same file and one return would be lost.
    conflicts = intake._conflicts

    def slow(*args: object, **kwargs: object) -> object:
        threading.Event().wait(0.3)
        return conflicts(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "_conflicts", slow)
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def web() -> None:
        start.wait()
        outcome["web"] = post(client, url + "/send", review).status_code

    def imported() -> None:
        start.wait()
        outcome["import"] = actions.import_returns(study=study, files=[late], round=2).added

    threads = [threading.Thread(target=web), threading.Thread(target=imported)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == {"web": 303, "import": ["E2"]}
    rows = (study / "rounds/round-2/returns/returns.csv").read_text().splitlines()
    assert rows[1:] == ["E1,7,,", "E2,3,4,"]
    log = (study / "rounds/round-2/returns/import-log.jsonl").read_text()
    assert '"source": "web"' in log and "late.csv" in log


def test_a_round_built_while_serving_closes_the_served_one(
        study: Path, serve: Callable[..., TestClient], cli: Run) -> None:
    url = path_of(links(study).links["E1"])
    client = serve()
    fields = form_of(client.get(url).text)
    round_3 = study / "rounds/round-3/questionnaire.yaml"
    round_3.parent.mkdir(parents=True)
    round_3.write_text((study / "rounds/round-2/questionnaire.yaml").read_text()
                       .replace("round: 2", "round: 3"))
    closed = client.get(url)
    assert closed.status_code == 410 and "Round 2 is closed" in closed.text
    refused = post(client, url, {**fields, "rating_1~1": "7", "action": "save"})
    assert refused.status_code == 410
    assert not (study / "rounds/round-2/web/drafts").exists()
    assert client.get("/q/" + "x" * 32).status_code == 404  # unknown links stay unknown


def test_a_withdrawn_panellists_link_stops_working(study: Path, cli: Run) -> None:
    urls = links(study).links
    client = TestClient(create_app(study), follow_redirects=False)
    assert client.get(path_of(urls["E2"])).status_code == 200
    result = cli("panel", "withdraw", "E2", "--study", str(study))
    assert result.exit_code == 0, result.stderr
    assert "Their private link to answer on the web no longer works." in result.stdout
    assert client.get(path_of(urls["E2"])).status_code == 404  # the running server too
    assert client.get(path_of(urls["E1"])).status_code == 200
    assert "E2" not in links(study).links  # no new link for them
    refused = cli("links", "E2", "--study", str(study))
    assert refused.exit_code == 2 and "a withdrawn panellist gets no link" in refused.stderr
    assert client.get(path_of(urls["E2"])).status_code == 404


def test_every_kind_of_answer_is_shown_and_taken_on_the_web(
        tmp_path: Path, cli: Run) -> None:
    from tests.conftest import build_tree, write_manifest
    from tests.test_answer_kinds_seen import ITEMS, OTHERS, PANEL, STUDY

    root = build_tree(tmp_path / "kinds", {"study.yaml": STUDY, "questionnaires/items.yaml": ITEMS,
                                           "panels/panel.yaml": PANEL})
    write_manifest(root)
    build_tree(root, {"rounds/round-1/returns/returns.csv": OTHERS.replace(
        "\nA3", "\nA1,7,X,yes,Continuity of care\nA3")})
    folder = Study(root)
    plan = plan_round(folder.settings, folder.bank, folder.roster, 2, [compute_round(folder, 1)])
    folder.write_manifest(plan.manifest)
    url = path_of(links(root).links["A1"])
    client = TestClient(create_app(root), follow_redirects=False)
    html = client.get(url).text
    # Each dimension its own group; feedback per dimension, the unsure share, the choice, the
    # panellist's own open answer.
    assert '<fieldset class="answer-row"><legend class="dimension">Importance</legend>' in html
    assert '<legend class="dimension">Feasibility</legend>' in html
    assert "Your rating in round 1</dt><dd>7</dd>" in html
    assert "Your rating in round 1</dt><dd>Cannot say</dd>" in html
    assert "Your choice in round 1</dt><dd>Make it mandatory</dd>" in html
    assert "Your answer in round 1</dt><dd>Continuity of care</dd>" in html
    assert 'name="rating_1~1/feasibility" value="5"' in html  # its own 1-5 scale
    assert 'name="rating_1~1/feasibility" value="6"' not in html
    assert 'name="rating_1~1/importance" value="X"' in html
    assert '<input type="radio" name="rating_2~1" value="no"> Leave it optional' in html
    assert '<textarea id="answer_3~1" name="answer_3~1"' in html
    controls = Controls()
    controls.feed(html)
    assert controls.fieldsets == controls.legends == 5  # 3 statements, 2 dimensions
    for attrs, wrapped in controls.controls:
        assert wrapped or attrs.get("id") in controls.label_for, attrs
    fields = form_of(html)
    bad = post(client, url, {**fields, "rating_2~1": "maybe", "action": "save"})
    assert bad.status_code == 400 and "maybe" in bad.text
    answers = {"rating_1~1/importance": "X", "rating_1~1/feasibility": "4",
               "rating_2~1": "no", "answer_3~1": "Waiting lists\r\nby area", "action": "review"}
    assert post(client, url, {**fields, **answers}).status_code == 303
    review = client.get(url + "/review").text
    assert "Importance: Your rating: <strong>Cannot say</strong>" in review
    assert "Feasibility: Your rating: <strong>4</strong>" in review
    assert "Your choice: <strong>Leave it optional</strong>" in review
    assert "Waiting lists\nby area" in review
    assert post(client, url + "/send", form_of(review)).status_code == 303
    rows = (root / "rounds/round-2/returns/returns.csv").read_text()
    assert rows.startswith("code,1.1/importance,1.1/feasibility,2.1,3.1")
    assert 'A1,X,4,no,"Waiting lists\nby area"' in rows
    analysis = json.loads(cli("analyse", "--study", str(root), "--json").stdout)
    assert analysis["response"]["returned"] == 1
