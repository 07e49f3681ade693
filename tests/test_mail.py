"""Sending and reminding against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import hashlib
import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as Message
from email.policy import default
from pathlib import Path

import pypdf
import pytest
from aiosmtpd.controller import Controller

from delphi import actions
from delphi.store.study import Study
from tests.conftest import PANEL_YAML, STUDY_YAML, Result, build_tree, tree_digest

Run = Callable[..., Result]
Make = Callable[..., Path]

PANEL = PANEL_YAML + (
    "  - {code: E3, name: Eve Example, email: eve@example.org, group: expert}\n"
    "  - {code: U3, name: Fay Example, email: fay@example.org, group: user}\n")


class Recorder:
    """An SMTP handler that keeps every message and can refuse or delay addresses."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: set[str] = set()
        self.busy_once: set[str] = set()
        self.connections = 0  # each connection says EHLO once
        self.mails = 0
        self.drop_at_mail: set[int] = set()  # hang up when the n-th MAIL FROM comes (1-based)
        self.drop_in_data: set[str] = set()  # hang up on these addresses' data, keeping none

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]  # noqa: N802
        self.mails += 1
        if self.mails in self.drop_at_mail:
            server.transport.close()
            return "421 4.4.2 Closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.busy_once:
            self.busy_once.discard(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        if set(envelope.rcpt_tos) & self.drop_in_data:
            self.drop_in_data -= set(envelope.rcpt_tos)
            server.transport.close()
            return "421 4.4.2 Closing"
        self.messages.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=default))
        return "250 Message accepted for delivery"

    def to(self) -> list[str]:
        return [m["To"] for m in self.messages]


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny study of six panellists with round 1's questionnaires built (once)."""
    from typer.testing import CliRunner

    from delphi.cli import app
    from tests.conftest import ITEMS_YAML

    root = build_tree(tmp_path_factory.mktemp("mail") / "study", {
        "study.yaml": STUDY_YAML, "questionnaires/items.yaml": ITEMS_YAML,
        "panels/panel.yaml": PANEL})
    result = CliRunner().invoke(app, ["new-round", "--study", str(root), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def study(built: Path, tmp_path: Path, smtp: tuple[Recorder, int]) -> Path:
    copy = tmp_path / "study"
    shutil.copytree(built, copy)
    _, port = smtp
    (copy / "study.yaml").write_text(STUDY_YAML + (
        f"mail: {{host: 127.0.0.1, port: {port}, security: none, "
        "sender: 'Delphi team <delphi@example.org>', reminder_gap_days: 3}\n"))
    return copy


def attachment_code(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    from io import BytesIO

    info = pypdf.PdfReader(BytesIO(part.get_payload(decode=True))).metadata
    return str(info["/delphicode"])


def test_send_delivers_each_panellist_their_own_pdf(study: Path, smtp: tuple[Recorder, int],
                                                     cli: Run) -> None:
    handler, _ = smtp
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 0, result.stderr
    assert handler.to() == ["Ann Example <ann@example.org>", "Ben Example <ben@example.org>",
                            "Cat Example <cat@example.org>", "Eve Example <eve@example.org>",
                            "Fay Example <fay@example.org>"]
    for message, code in zip(handler.messages, ["E1", "E2", "U1", "E3", "U3"], strict=True):
        assert attachment_code(message) == code  # the right PDF to the right person
        assert message["Subject"] == f"Tiny study: round 1 questionnaire ({code})"
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert code in body
        assert all(other not in body for other in ("Ann", "Ben", "Cat", "Eve", "Fay")
                   if other not in message["To"])
    assert "Print bundle for 1 postal panellist: /" in result.stdout
    bundle = study / "rounds/round-1/post/round-1-postal-bundle.pdf"
    pages = pypdf.PdfReader(bundle).pages
    assert len(pages) == 2  # U2's cover letter, then U2's questionnaire
    letter = pages[0].extract_text()
    assert "Dan Example" in letter and "1 Example Road" in letter and "U2" in letter

    again = cli("send", "--study", str(study), "--yes")
    assert again.exit_code == 0
    assert len(handler.messages) == 5  # running it again sends nothing
    assert "0 questionnaires to e-mail, 5 not again" in again.stdout


def test_interrupted_run_never_sends_twice(study: Path, smtp: tuple[Recorder, int]) -> None:
    handler, _ = smtp
    run = actions.plan_mail(study, "questionnaire")
    calls = []

    def stop_after_two(code: str, error: str | None) -> None:
        calls.append(code)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        actions.run_mail(run, on_done=stop_after_two)
    assert len(handler.messages) == 2
    outcome = actions.run_mail(actions.plan_mail(study, "questionnaire"))
    assert sorted(outcome.sent) == ["E3", "U1", "U3"]
    assert sorted(handler.to()) == sorted(set(handler.to()))  # nobody twice
    assert len(handler.messages) == 5


def test_a_run_killed_between_handing_over_and_logging_is_not_resent(
        study: Path, smtp: tuple[Recorder, int], cli: Run) -> None:
    handler, _ = smtp
    log = study / "rounds/round-1/mail-log.jsonl"
    log.write_text(json.dumps({"time": "2026-01-01T10:00:00+00:00", "kind": "questionnaire",
                               "code": "E1", "status": "pending", "message_id": "<x@y>",
                               "to": "ann@example.org"}) + "\n")
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 0
    assert "E1: an earlier run was interrupted while mailing them" in result.stderr
    assert "Ann Example <ann@example.org>" not in handler.to()
    resent = cli("send", "--study", str(study), "--yes", "--resend", "E1")
    assert resent.exit_code == 0
    assert handler.to().count("Ann Example <ann@example.org>") == 1


def test_refused_address_is_recorded_and_the_run_completes(study: Path,
                                                           smtp: tuple[Recorder, int],
                                                           cli: Run) -> None:
    handler, _ = smtp
    handler.refuse.add("ben@example.org")
    handler.busy_once.add("cat@example.org")  # transient: retried
    from delphi.mail import smtp as smtp_module

    original = smtp_module.Mailer.__init__

    def fast(self, settings, attempts=4, backoff=0.01, sleep=lambda s: None):  # type: ignore[no-untyped-def]
        original(self, settings, attempts=attempts, backoff=backoff, sleep=sleep)

    smtp_module.Mailer.__init__ = fast  # type: ignore[method-assign]
    try:
        result = cli("send", "--study", str(study), "--yes")
    finally:
        smtp_module.Mailer.__init__ = original  # type: ignore[method-assign]
    assert result.exit_code == 2
    assert "failed: E2: ben@example.org: 550 5.1.1 No such user here" in result.stderr
    assert "Cat Example <cat@example.org>" in handler.to()
    assert len(handler.messages) == 4
    entries = [json.loads(line) for line in
               (study / "rounds/round-1/mail-log.jsonl").read_text().splitlines()]
    assert [e["status"] for e in entries if e["code"] == "E2"] == ["pending", "failed"]
    handler.refuse.clear()
    retry = cli("send", "--study", str(study), "--yes")
    assert retry.exit_code == 0
    assert handler.to().count("Ben Example <ben@example.org>") == 1


def test_reminders_reach_exactly_those_without_a_return(study: Path,
                                                        smtp: tuple[Recorder, int],
                                                        cli: Run) -> None:
    handler, _ = smtp
    assert cli("send", "--study", str(study), "--yes").exit_code == 0
    sent = len(handler.messages)
    (study / "rounds/round-1/returns").mkdir()
    (study / "rounds/round-1/returns/in.csv").write_text("code,1.1\nE1,7\nU1,3\n")
    preview = cli("remind", "--study", str(study), "--dry-run")
    assert "to be reminded: E2, E3, U3" in preview.stdout
    assert "by post, no return yet: U2" in preview.stdout
    assert len(handler.messages) == sent  # a dry run connects to nothing
    assert sorted(p.name for p in (study / "rounds/round-1/outbox").iterdir()) == [
        "E2-reminder.eml", "E3-reminder.eml", "U3-reminder.eml"]

    result = cli("remind", "--study", str(study), "--yes")
    assert result.exit_code == 0, result.stderr
    reminded = handler.messages[sent:]
    assert sorted(attachment_code(m) for m in reminded) == ["E2", "E3", "U3"]
    assert all(m["Subject"].startswith("Reminder: Tiny study") for m in reminded)
    again = cli("remind", "--study", str(study), "--yes")
    assert "to be reminded: nobody" in again.stdout  # not twice within the gap
    assert len(handler.messages) == sent + 3


def test_at_most_two_reminders(study: Path, smtp: tuple[Recorder, int]) -> None:
    handler, _ = smtp
    actions.run_mail(actions.plan_mail(study, "questionnaire"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for week in range(4):
        when = start + timedelta(days=7 * week)
        run = actions.plan_mail(study, "reminder", now=when)
        actions.run_mail(run, now=lambda when=when: when)  # type: ignore[misc]
    reminders = [m for m in handler.messages if m["Subject"].startswith("Reminder")]
    assert len(reminders) == 2 * 5  # five e-mail panellists without a return, twice each
    log = [json.loads(line) for line in
           (study / "rounds/round-1/mail-log.jsonl").read_text().splitlines()]
    second = [m for m in reminders if "last reminder" in
              m.get_body(("plain",)).get_content()]  # type: ignore[union-attr]
    assert len(second) == 5
    assert {e["kind"] for e in log} == {"questionnaire", "reminder"}


def test_withdrawn_panellists_are_never_mailed_or_reminded(study: Path,
                                                           smtp: tuple[Recorder, int],
                                                           cli: Run) -> None:
    handler, _ = smtp
    assert cli("panel", "withdraw", "E2", "--study", str(study)).exit_code == 0
    sent = cli("send", "--study", str(study), "--yes")
    assert sent.exit_code == 0, sent.stderr
    assert "E2: withdrew on" in sent.stdout
    assert sorted(attachment_code(m) for m in handler.messages) == ["E1", "E3", "U1", "U3"]
    resend = cli("send", "--study", str(study), "--yes", "--resend", "E2")
    assert resend.exit_code == 2 and "withdrawn panellists are never mailed again" in \
        resend.stderr

    # withdrawing after the questionnaire went out: not reminded in this round either
    assert cli("panel", "withdraw", "E3", "--study", str(study)).exit_code == 0
    assert cli("panel", "withdraw", "U2", "--study", str(study)).exit_code == 0
    preview = cli("remind", "--study", str(study), "--dry-run")
    assert "to be reminded: E1, U1, U3" in preview.stdout
    assert "by post" not in preview.stdout  # U2, the postal panellist, withdrew
    result = cli("remind", "--study", str(study), "--yes")
    assert result.exit_code == 0, result.stderr
    reminded = [m for m in handler.messages if m["Subject"].startswith("Reminder")]
    assert sorted(attachment_code(m) for m in reminded) == ["E1", "U1", "U3"]


def test_dry_run_writes_eml_and_touches_no_log(study: Path, smtp: tuple[Recorder, int],
                                               cli: Run) -> None:
    handler, _ = smtp
    result = cli("send", "--study", str(study), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert handler.messages == []
    outbox = study / "rounds/round-1/outbox"
    eml = email.message_from_bytes((outbox / "E1-questionnaire.eml").read_bytes(),
                                 policy=default)
    assert eml["To"] == "Ann Example <ann@example.org>"
    assert attachment_code(eml) == "E1"
    assert not (study / "rounds/round-1/mail-log.jsonl").exists()


def test_send_without_mail_settings_or_pdfs(make_study: Make, cli: Run) -> None:
    root = make_study(returns=None)
    before = tree_digest(root)
    result = cli("send", "--study", str(root), "--yes")
    assert result.exit_code == 2
    assert "no questionnaire PDF for E1, E2, U1, U2" in result.stderr
    assert tree_digest(root) == before
    assert Study(root).settings.mail is None


def _fast_mailer(monkeypatch: pytest.MonkeyPatch) -> None:
    from delphi.mail import smtp as smtp_module

    original = smtp_module.Mailer.__init__

    def fast(self, settings, attempts=4, backoff=0.01, sleep=lambda s: None):  # type: ignore[no-untyped-def]
        original(self, settings, attempts=attempts, backoff=backoff, sleep=sleep)

    monkeypatch.setattr(smtp_module.Mailer, "__init__", fast)


def test_a_refused_connection_leaves_nobody_pending(study: Path, smtp: tuple[Recorder, int],
                                                    cli: Run,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing reached the server, so nobody 'may have gone out': the re-run sends to all."""
    handler, port = smtp
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    text = (study / "study.yaml").read_text()
    (study / "study.yaml").write_text(text.replace(f"port: {port}", f"port: {closed}"))
    _fast_mailer(monkeypatch)
    refused = cli("send", "--study", str(study), "--yes")
    assert refused.exit_code == 2
    assert f"error: cannot reach the SMTP server 127.0.0.1:{closed}" in refused.stderr
    entries = [json.loads(line) for line in
               (study / "rounds/round-1/mail-log.jsonl").read_text().splitlines()]
    assert [e["status"] for e in entries] == ["pending", "failed"]
    (study / "study.yaml").write_text(text)
    again = cli("send", "--study", str(study), "--yes")
    assert again.exit_code == 0, again.stderr
    assert "may have gone out" not in again.stderr
    assert len(handler.messages) == 5


def test_a_questionnaire_of_0_bytes_is_not_mailed(study: Path, smtp: tuple[Recorder, int],
                                                  cli: Run) -> None:
    handler, _ = smtp
    (study / "rounds/round-1/questionnaires/E2.pdf").write_bytes(b"")
    before = tree_digest(study)
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 2
    assert "error: no questionnaire PDF for E2 (missing, empty or not a PDF) in " \
           "rounds/round-1/questionnaires" in result.stderr
    assert handler.messages == [] and tree_digest(study) == before


def test_a_name_with_a_line_break_never_reaches_a_header(study: Path, cli: Run) -> None:
    panel = study / "panels/panel.yaml"
    panel.write_text(panel.read_text().replace("name: Ben Example",
                                               'name: "Ben\\nBcc: all@example.org"'))
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: panels/panel.yaml:3: panellists[1].name: must be one line of text; it holds "
        "the control character '\\n' ('Ben\\nBcc: all@example.org')"), result.stderr


def test_the_last_guard_refuses_a_header_with_a_line_break() -> None:
    from delphi.errors import DelphiError
    from delphi.mail.messages import header_text

    assert header_text("Ann Example", "name") == "Ann Example"
    with pytest.raises(DelphiError, match=r"E1's name holds a control character \('\\r'\)"):
        header_text("Ann\rBcc: x", "E1's name")


def body_of(message: Message) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr,no-any-return]


def link_in(message: Message) -> str:
    found = re.search(r"https://delphi\.example\.org/q/[\w-]{32}", body_of(message))
    assert found, body_of(message)
    return found.group(0)


def test_delivery_web_mails_a_private_link_that_opens_the_questionnaire(
        study: Path, smtp: tuple[Recorder, int], cli: Run) -> None:
    from delphi.web.app import create_app
    from tests.test_web import TestClient

    handler, _ = smtp
    panel = study / "panels/panel.yaml"
    panel.write_text(panel.read_text().replace("group: expert}\n  - {code: U3",
                                               "group: expert, delivery: web}\n  - {code: U3"))
    with (study / "study.yaml").open("a") as handle:
        handle.write("web: {base_url: 'https://delphi.example.org'}\n")
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 0, result.stderr
    assert "5 questionnaires to e-mail (1 with a private link)" in result.stdout
    by_code = {m["Subject"].rsplit("(", 1)[1].rstrip(")"): m for m in handler.messages}
    e3 = by_code["E3"]
    assert not any(p.get_content_type() == "application/pdf" for p in e3.walk())
    assert "your web browser" in body_of(e3) and "attached" not in body_of(e3)
    url = link_in(e3)
    assert attachment_code(by_code["E1"]) == "E1" and "/q/" not in body_of(by_code["E1"])
    log = [json.loads(line) for line in
           (study / "rounds/round-1/mail-log.jsonl").read_text().splitlines()]
    e3_sent = [e for e in log if e["code"] == "E3" and e["status"] == "sent"][0]
    assert e3_sent["link"] is True and e3_sent["file"] == ""
    assert url.rsplit("/", 1)[1] not in (study / "rounds/round-1/mail-log.jsonl").read_text()
    client = TestClient(create_app(study))
    page = client.get(url.replace("https://delphi.example.org", ""))
    assert page.status_code == 200 and "your code <strong>E3</strong>" in page.text
    # A reminder carries a new link; the first keeps working.
    assert cli("remind", "--study", str(study), "--yes").exit_code == 0
    reminder = [m for m in handler.messages[5:] if "(E3)" in m["Subject"]][0]
    second = link_in(reminder)
    assert second != url
    for link in (url, second):
        assert client.get(link.replace("https://delphi.example.org", "")).status_code == 200


def test_send_as_both_and_a_dry_run_makes_no_live_link(
        study: Path, smtp: tuple[Recorder, int], cli: Run) -> None:
    handler, _ = smtp
    with (study / "study.yaml").open("a") as handle:
        handle.write("web: {base_url: 'https://delphi.example.org'}\n")
    dry = cli("send", "--study", str(study), "--dry-run", "--as", "link")
    assert dry.exit_code == 0, dry.stderr
    eml = email.message_from_bytes(
        (study / "rounds/round-1/outbox/E1-questionnaire.eml").read_bytes(), policy=default)
    assert "https://delphi.example.org/q/<made when the message is sent>" in body_of(eml)
    assert not (study / "rounds/round-1/web/links.jsonl").exists()
    assert cli("send", "--study", str(study), "--as", "nonsense").exit_code == 2
    result = cli("send", "--study", str(study), "--yes", "--as", "both")
    assert "5 questionnaires to e-mail (5 with a private link)" in result.stdout
    links = [link_in(m) for m in handler.messages]
    assert len(set(links)) == 5
    assert [attachment_code(m) for m in handler.messages] == ["E1", "E2", "U1", "E3", "U3"]
    assert "also attached as a PDF" in body_of(handler.messages[0])
    events = [json.loads(line) for line in
              (study / "rounds/round-1/web/links.jsonl").read_text().splitlines()]
    assert [(e["code"], e["via"]) for e in events] == [
        (c, "questionnaire") for c in ("E1", "E2", "U1", "E3", "U3")]


def _statuses(study: Path) -> list[tuple[str, str]]:
    return [(e["code"], e["status"]) for e in map(json.loads, (
        study / "rounds/round-1/mail-log.jsonl").read_text().splitlines())]


def test_one_connection_carries_a_whole_run(study: Path, smtp: tuple[Recorder, int]) -> None:
    handler, _ = smtp
    outcome = actions.run_mail(actions.plan_mail(study, "questionnaire"))
    assert len(outcome.sent) == len(handler.messages) == 5
    assert handler.connections == 1


def test_a_connection_the_server_drops_is_opened_again(study: Path,
                                                        smtp: tuple[Recorder, int]) -> None:
    """The server hangs up before the 3rd and 5th messages (idle timeout, per-connection
    limit): each goes over a new connection, nobody gets it twice, nobody is left out."""
    handler, _ = smtp
    handler.drop_at_mail = {3, 6}  # the 5th message is the 6th MAIL FROM, after the retry
    waits: list[float] = []
    outcome = actions.run_mail(actions.plan_mail(study, "questionnaire"), sleep=waits.append)
    assert sorted(outcome.sent) == ["E1", "E2", "E3", "U1", "U3"]
    assert not outcome.failed and not outcome.uncertain
    assert sorted(handler.to()) == sorted(set(handler.to())) and len(handler.messages) == 5
    assert handler.connections == 3
    assert waits == []  # a dropped idle connection is reopened at once, without backing off
    assert [s for _, s in _statuses(study)] == ["pending", "sent"] * 5


def test_a_drop_while_the_data_goes_leaves_that_message_pending(
        study: Path, smtp: tuple[Recorder, int], cli: Run) -> None:
    """The server may have kept a message whose data was on the way: it is never sent again
    on its own, the others go on over a new connection, and the coordinator is told."""
    handler, _ = smtp
    handler.drop_in_data = {"ben@example.org"}
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 2
    assert "E2: the connection dropped while the message was handed over" in result.stderr
    assert handler.connections == 2
    assert "Ben Example <ben@example.org>" not in handler.to() and len(handler.messages) == 4
    assert ("E2", "pending") in _statuses(study) and ("E2", "sent") not in _statuses(study)
    again = cli("send", "--study", str(study), "--yes")
    assert again.exit_code == 0
    assert "E2: an earlier run was interrupted while mailing them" in again.stderr
    assert len(handler.messages) == 4


# ---------------------------------------------------------------- the print bundle, built once

BUNDLE = "rounds/round-1/post/round-1-postal-bundle.pdf"
RECORD = "rounds/round-1/post/round-1-postal-bundle.json"


def _send_dry(study: Path, **options: object) -> tuple[actions.MailOutcome, list[int]]:
    """A dry ``send``; its outcome, and the sizes of the bundles it built (none if reused)."""
    builds: list[int] = []
    outcome = actions.run_mail(actions.plan_mail(study, "questionnaire"), dry_run=True,
                               on_bundle_start=builds.append, **options)  # type: ignore[arg-type]
    return outcome, builds


def _letter(study: Path, page: int = 0) -> str:
    return pypdf.PdfReader(study / BUNDLE).pages[page].extract_text()


def test_the_bundle_is_built_once_and_used_again(study: Path, smtp: tuple[Recorder, int],
                                                 cli: Run) -> None:
    first = cli("send", "--study", str(study), "--yes")
    assert first.exit_code == 0, first.stderr
    assert "Print bundle for 1 postal panellist:" in first.stdout
    assert "used again" not in first.stdout and "built again" not in first.stdout
    record = json.loads((study / RECORD).read_text())
    assert [p["code"] for p in record["parts"]] == ["U2"]
    assert record["pages"] == 2
    bundle = (study / BUNDLE).read_bytes()

    again = cli("send", "--study", str(study), "--yes", "--resend", "E1")
    assert again.exit_code == 0, again.stderr
    assert (f"{BUNDLE} (2 pages), unchanged since it was built {record['built'][:10]} "
            f"{record['built'][11:16]}: used again.") in again.stdout
    assert (study / BUNDLE).read_bytes() == bundle
    assert json.loads((study / RECORD).read_text()) == record

    remind = cli("remind", "--study", str(study), "--yes")  # lists U2 by post, builds nothing
    assert remind.exit_code == 0, remind.stderr
    assert "by post, no return yet: U2" in remind.stdout and "Print bundle" not in remind.stdout
    assert json.loads((study / RECORD).read_text()) == record

    outcome, builds = _send_dry(study)
    assert builds == [] and outcome.bundle_reused and outcome.bundle_pages == 2


def test_progress_of_the_bundle_and_its_record(study: Path) -> None:
    done: list[str] = []
    outcome = actions.run_mail(actions.plan_mail(study, "questionnaire"), dry_run=True,
                               on_bundle_start=lambda total: done.append(f"of {total}"),
                               on_bundle_done=done.append)
    assert done == ["of 1", "U2"]
    assert not outcome.bundle_reused and outcome.bundle_rebuilt == []
    record = json.loads((study / RECORD).read_text())
    assert record["sha256"] == hashlib.sha256((study / BUNDLE).read_bytes()).hexdigest()
    questionnaire = (study / "rounds/round-1/questionnaires/U2.pdf").read_bytes()
    assert record["parts"][0]["questionnaire"] == hashlib.sha256(questionnaire).hexdigest()


def test_a_changed_questionnaire_builds_the_bundle_again(study: Path) -> None:
    _send_dry(study)
    pdfs = study / "rounds/round-1/questionnaires"
    shutil.copy(pdfs / "E1.pdf", pdfs / "U2.pdf")  # as 'new-round --force' would rewrite it
    outcome, builds = _send_dry(study)
    assert builds == [1]
    assert outcome.bundle_rebuilt == ["the questionnaire of U2 changed"]
    assert "E1" in pypdf.PdfReader(study / BUNDLE).pages[1].extract_text()
    assert _send_dry(study)[1] == []  # and then it is used again


def test_a_changed_postal_list_builds_the_bundle_again(study: Path) -> None:
    _send_dry(study)
    panel = study / "panels/panel.yaml"
    panel.write_text(panel.read_text().replace(
        "{code: E3, name: Eve Example, email: eve@example.org, group: expert}",
        "{code: E3, name: Eve Example, group: expert, delivery: post, address: 2 Side Street}"))
    outcome, builds = _send_dry(study)
    assert builds == [2] and outcome.bundle_pages == 4
    assert outcome.bundle_rebuilt == ["E3 now by post"]
    assert "Eve Example" in _letter(study, 2)

    panel.write_text(panel.read_text().replace("delivery: post, address: 1 Example Road",
                                               "email: dan@example.org"))
    outcome, builds = _send_dry(study)
    assert builds == [1] and outcome.bundle_rebuilt == ["U2 no longer by post"]
    assert "Eve Example" in _letter(study)


@pytest.mark.parametrize("damage", ["edited", "removed", "record"])
def test_a_damaged_or_removed_bundle_is_built_again(study: Path, damage: str) -> None:
    _send_dry(study)
    bundle, record = study / BUNDLE, study / RECORD
    if damage == "edited":
        bundle.write_bytes(bundle.read_bytes()[:-200])
    elif damage == "removed":
        bundle.unlink()
    else:
        record.write_text('{"built": "yesterday"')
    outcome, builds = _send_dry(study)
    assert builds == [1]
    assert outcome.bundle_rebuilt == [{
        "edited": "the earlier one was changed after it was built",
        "removed": "the earlier one was removed",
        "record": f"its record {RECORD} could not be read"}[damage]]
    assert json.loads(record.read_text())["sha256"] == hashlib.sha256(
        bundle.read_bytes()).hexdigest()
    assert len(pypdf.PdfReader(bundle).pages) == 2


def test_the_letters_keep_the_date_the_bundle_was_built(study: Path) -> None:
    """A bundle used again keeps its letters' date; one built again gets the day's date."""
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    _send_dry(study, now=lambda: monday)
    assert "January 4, 2027" in _letter(study)
    outcome, builds = _send_dry(study, now=lambda: monday + timedelta(days=2))
    assert builds == [] and outcome.bundle_built == monday
    assert "January 4, 2027" in _letter(study)

    outcome, builds = _send_dry(study, now=lambda: monday + timedelta(days=2),
                                deadline="2027-01-20")
    assert builds == [1]
    assert outcome.bundle_rebuilt == ["the deadline changed (was none, now 'January 20, 2027')"]
    letter = " ".join(_letter(study).split())
    assert "January 6, 2027" in letter and "by January 20, 2027" in letter


def test_resend_to_a_postal_panellist_says_to_print_theirs(study: Path, cli: Run) -> None:
    result = cli("send", "--study", str(study), "--yes", "--resend", "U2")
    assert result.exit_code == 2
    assert ("--resend U2: U2 is sent the questionnaire by post (delivery: post), not by e-mail; "
            "print rounds/round-1/questionnaires/U2.pdf for them") in " ".join(
                result.stderr.split())


def test_a_changed_logo_on_the_letters_builds_the_bundle_again(study: Path) -> None:
    """A file the cover letters show (a study's own letter with its logo) is part of the key."""
    from delphi.render.bundle import COVER_LETTER

    letter = (Path(actions.__file__).parent.parent / "templates" / COVER_LETTER).read_text()
    (study / "templates").mkdir()
    (study / "templates" / COVER_LETTER).write_text(letter.replace(
        '<div class="body">', '<div class="body"><img src="templates/logo.svg" alt="">'))
    logo = study / "templates/logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
                    '<rect width="20" height="10" fill="navy"/></svg>')
    _send_dry(study)
    assert json.loads((study / RECORD).read_text())["used"] == {
        "templates/logo.svg": hashlib.sha256(logo.read_bytes()).hexdigest()}
    assert _send_dry(study)[1] == []
    logo.write_text(logo.read_text().replace("navy", "teal"))
    outcome, builds = _send_dry(study)
    assert builds == [1]
    assert outcome.bundle_rebuilt == ["templates/logo.svg, which the cover letters show, changed"]

    record = study / RECORD  # a record naming a device or a file outside is not read
    for hostile in ("/dev/zero", "../../../../../../dev/zero"):
        data = json.loads(record.read_text())
        data["used"] = {hostile: "0" * 64}
        record.write_text(json.dumps(data))
        outcome, builds = _send_dry(study)
        assert outcome.bundle_rebuilt == [f"{hostile}, which the cover letters show, changed"]


def test_a_postal_questionnaire_that_cannot_be_read_stops_the_run_before_anything_goes(
        study: Path, smtp: tuple[Recorder, int], cli: Run) -> None:
    handler, _ = smtp
    (study / "rounds/round-1/questionnaires/U2.pdf").write_bytes(b"%PDF-1.7\nnot really\n")
    before = tree_digest(study)
    result = cli("send", "--study", str(study), "--yes")
    assert result.exit_code == 2
    assert "rounds/round-1/questionnaires/U2.pdf: not a PDF the print bundle can take" in (
        " ".join(result.stderr.split()))
    assert handler.messages == [] and tree_digest(study) == before


def test_a_dry_runs_bundle_serves_a_real_run_of_the_same_day_only(study: Path) -> None:
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    _send_dry(study, now=lambda: monday)
    real = actions.run_mail(actions.plan_mail(study, "questionnaire"),
                            now=lambda: monday + timedelta(days=2))
    assert not real.bundle_reused
    assert real.bundle_rebuilt == ["the earlier one was a dry run's of 2027-01-04"]
    assert "January 6, 2027" in _letter(study)

    record = study / RECORD  # a dry run, then the real run on the same day: built once
    record.write_text(record.read_text().replace('"dry_run": false', '"dry_run": true'))
    again = actions.run_mail(actions.plan_mail(study, "questionnaire", resend=["E1"]),
                             now=lambda: monday + timedelta(days=2, hours=3))
    assert again.bundle_reused and json.loads(record.read_text())["dry_run"] is False
    later, builds = _send_dry(study, now=lambda: monday + timedelta(days=5))
    assert later.bundle_reused and builds == []


_KILL = {
    # killed inside the record's write: the new bundle is in place, no record claims it
    "record": "postal.atomic_write = lambda files: os.kill(os.getpid(), signal.SIGKILL)",
    # killed while the bundle's temporary file is written: the old bundle stays, no record
    "bundle": "def killed(path, data):\n"
              "    path.with_name(f'.{path.name}.pid{os.getpid()}.tmp').write_bytes(data[:99])\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n"
              "postal.write_bytes = killed",
}


@pytest.mark.parametrize("where", sorted(_KILL))
def test_a_run_killed_while_writing_the_bundle_is_repaired_by_the_next(study: Path,
                                                                        where: str) -> None:
    _send_dry(study)
    pdfs = study / "rounds/round-1/questionnaires"
    shutil.copy(pdfs / "E1.pdf", pdfs / "U2.pdf")
    script = ("import os, signal\nfrom delphi import actions\nfrom delphi.store import postal\n"
              + _KILL[where] + "\nactions.run_mail(actions.plan_mail("
              + repr(str(study)) + ", 'questionnaire'), dry_run=True)\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert not (study / RECORD).exists()  # nothing claims a bundle it does not describe
    post = study / "rounds/round-1/post"
    assert len(list(post.glob(".*.tmp"))) == (0 if where == "record" else 1)

    outcome, builds = _send_dry(study)
    assert builds == [1]
    assert outcome.bundle_rebuilt == ["nothing recorded what the earlier one was built from"]
    assert list(post.glob(".*.tmp")) == []  # the dead run's, removed
    assert "E1" in pypdf.PdfReader(study / BUNDLE).pages[1].extract_text()
    assert _send_dry(study)[1] == []


def test_why_a_bundle_is_built_again() -> None:
    from delphi.core.mailing import BundlePart, BundleRecord, bundle_changes

    def part(code: str, letter: str = "l", questionnaire: str = "q") -> BundlePart:
        return BundlePart(code=code, letter=letter, questionnaire=questionnaire)

    codes = [f"P{n}" for n in range(1, 9)]
    before = BundleRecord(built=datetime(2027, 1, 4, tzinfo=UTC), date=datetime(2027, 1, 4).date(),
                          deadline=None, parts=[part(c) for c in codes], sha256="s", pages=16)
    assert bundle_changes(before, None, [part(c) for c in codes], 1) == []
    assert bundle_changes(before, None, [part(c) for c in reversed(codes)], 1) == [
        "the roster order of the postal panellists changed"]
    assert bundle_changes(before, None, [part(c) for c in [*codes[1:7], "Q1"]], 1) == [
        "Q1 now by post", "P1 and P8 no longer by post"]
    assert bundle_changes(before, None, [part(c, questionnaire=c) for c in codes[:5]]
                          + [part(c) for c in codes[5:]], 1) == [
        "the questionnaires of P1, P2, P3 and 2 more changed"]
    assert bundle_changes(before, None, [part("P1", letter="x")] + [part(c) for c in codes[1:]],
                          1) == ["the cover letter of P1 changed"]
    assert bundle_changes(before, "12 January", [part(c, letter="x") for c in codes], 1) == [
        "the deadline changed (was none, now '12 January')"]  # not also every letter
    assert bundle_changes(before, None, [part(c, letter="x") for c in codes], 1) == [
        "the cover letters of all 8 changed"]
    assert bundle_changes(before, None, [part(c) for c in codes], 2) == [
        "this version of delphi makes it differently"]


def test_the_bundle_draws_what_the_questionnaires_fields_show(study: Path) -> None:
    """Printed, a postal questionnaire has the same circles to tick as on screen, no fields."""
    from pypdf.generic import ContentStream

    _send_dry(study)
    questionnaire = pypdf.PdfReader(study / "rounds/round-1/questionnaires/U2.pdf").pages[0]
    bundle = pypdf.PdfReader(study / BUNDLE)
    assert "/AcroForm" not in bundle.trailer["/Root"]
    assert all("/Annots" not in page for page in bundle.pages)
    printed = bundle.pages[1]
    placed: list[tuple[float, ...]] = []
    matrix: list[float] = []
    for operands, operator in ContentStream(printed.get_contents(), bundle).operations:
        if operator == b"cm":
            matrix = [float(v) for v in operands]
        elif operator == b"Do" and str(operands[0]).startswith("/DelphiWidget"):
            form = printed["/Resources"]["/XObject"][operands[0]].get_object()
            x0, y0, x1, y1 = (float(v) for v in form["/BBox"])
            a, _, _, d, e, f = matrix
            placed.append(tuple(round(v, 2) for v in (a * x0 + e, d * y0 + f, a * x1 + e,
                                                      d * y1 + f)))
            assert b" c " in form.get_data()  # a circle: the radio button's "off" drawing
    buttons = [a.get_object() for a in questionnaire["/Annots"]]
    buttons = [b for b in buttons if b.get("/AS") == "/Off"]
    assert len(buttons) == len(placed) >= 9  # a rating's nine circles at least
    assert sorted(placed) == sorted(tuple(round(v, 2) for v in (
        min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])))
        for r in ([float(v) for v in b["/Rect"]] for b in buttons))


def test_joined_pages_share_what_is_the_same_and_keep_cycles(built: Path) -> None:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    from delphi.render.joined import PrintJoin

    one = (built / "rounds/round-1/questionnaires/U2.pdf").read_bytes()
    single, twice = PrintJoin(), PrintJoin()
    single.add(one)
    twice.add(one)
    twice.add(one)
    alone, both = single.finish(), twice.finish()
    pages = len(pypdf.PdfReader(io.BytesIO(one)).pages)
    assert len(pypdf.PdfReader(io.BytesIO(both)).pages) == twice.pages == 2 * pages
    assert len(both) < 1.1 * len(alone)  # fonts, drawings, even the content: stored once

    writer = pypdf.PdfWriter()  # an object that refers to itself through another
    page = writer.add_blank_page(100, 100)
    loop = DictionaryObject({NameObject("/Name"): TextStringObject("loop")})
    reference = writer._add_object(loop)
    loop[NameObject("/Back")] = writer._add_object(DictionaryObject({NameObject("/To"): reference}))
    page[NameObject("/PieceInfo")] = reference
    made = io.BytesIO()
    writer.write(made)
    join = PrintJoin()
    join.add(made.getvalue())
    read = pypdf.PdfReader(io.BytesIO(join.finish())).pages[0]
    info = read["/PieceInfo"]
    assert info["/Name"] == "loop"
    assert info["/Back"]["/To"].get_object()["/Name"] == "loop"
    assert read.raw_get("/PieceInfo").idnum == info["/Back"].raw_get("/To").idnum


def test_an_earlier_open_answer_is_printed_in_its_box(tmp_path: Path) -> None:
    """The reader draws an earlier open answer on screen; the bundle lays it out for paper."""
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    from delphi.i18n import load_language
    from delphi.render.bundle import postal_bundle

    writer = pypdf.PdfWriter()
    page = writer.add_blank_page(400, 300)

    def field(name: str, value: str, rect: tuple[float, ...]) -> DictionaryObject:
        return DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(
                "/Widget"), NameObject("/F"): NumberObject(4), NameObject("/FT"): NameObject(
                "/Tx"), NameObject("/T"): TextStringObject(name), NameObject(
                "/V"): TextStringObject(value), NameObject("/Ff"): NumberObject(4097),
            NameObject("/DA"): TextStringObject("/Helv 8 Tf 0.2 0.2 0.2 rg"),
            NameObject("/Rect"): ArrayObject(FloatObject(v) for v in rect)})

    page[NameObject("/Annots")] = ArrayObject([
        writer._add_object(field("own_3~1", "Crème brûlée — Ελληνικά — Русский",
                                 (50, 200, 350, 240))),
        writer._add_object(field("delphi_code", "ZZ99", (1, 1, 3, 3)))])  # hidden identity
    questionnaire = io.BytesIO()
    writer.write(questionnaire)
    made = postal_bundle(tmp_path, [("<p>Dear panellist</p>", questionnaire.getvalue(),
                                     "U2.pdf")], load_language("en"))
    printed = pypdf.PdfReader(io.BytesIO(made.pdf)).pages[1]
    assert "/Annots" not in printed
    text = printed.extract_text()
    assert "Crème brûlée — Ελληνικά — Русский" in text and "ZZ99" not in text


def test_a_logo_the_letters_link_to_but_is_missing_does_not_rebuild_every_run(
        study: Path) -> None:
    """A file the letters link to that is not there is recorded as such: the bundle is used
    again while it stays away, and built again when it comes."""
    from delphi.render.bundle import COVER_LETTER

    letter = (Path(actions.__file__).parent.parent / "templates" / COVER_LETTER).read_text()
    (study / "templates").mkdir()
    (study / "templates" / COVER_LETTER).write_text(letter.replace(
        '<div class="body">', '<div class="body"><img src="templates/logo.svg" alt="">'))
    _send_dry(study)
    assert json.loads((study / RECORD).read_text())["used"] == {"templates/logo.svg": None}
    outcome, builds = _send_dry(study)
    assert builds == [] and outcome.bundle_reused
    (study / "templates/logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"/>')
    outcome, builds = _send_dry(study)
    assert builds == [1]
    assert outcome.bundle_rebuilt == ["templates/logo.svg, which the cover letters show, is "
                                      "there now"]
