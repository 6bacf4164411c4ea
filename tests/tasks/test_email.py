"""Email tasks: the outbox sends each approved message exactly once, to the CRM's address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutboxMessage, OutboxStatus
from agentflows.prefect_server import free_port
from agentflows.settings import get_settings
from tasks.email import EmailDeliveryError, add_to_outbox, deliver_sync, message_id_for


def _queue(key: str) -> Contact:
    with session_scope() as s:
        contact = s.scalar(select(Contact).limit(1))
        add_to_outbox(
            s,
            key=key,
            contact_id=contact.id,
            subject="Hello",
            body="Body text",
            flow_run_id=None,
            headers={"X-Test": "1"},
        )
        add_to_outbox(s, key=key, contact_id=contact.id, subject="Other", body="Other", flow_run_id=None, headers={})
    return contact


def test_delivered_once_even_when_asked_twice(seeded_db, smtp_sink):
    contact = _queue("send-1")
    deliver_sync("send-1")
    deliver_sync("send-1")
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    assert message["To"] == contact.email and message["Subject"] == "Hello"
    assert message["Message-ID"] == message_id_for("send-1")
    with session_scope() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "send-1"))
    assert row.status == OutboxStatus.SENT and row.attempts == 1


def test_smtp_down_keeps_the_message_pending(seeded_db, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    _queue("send-2")
    with pytest.raises(EmailDeliveryError, match="stays in the outbox"):
        deliver_sync("send-2")
    with session_scope() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "send-2"))
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and "ConnectionRefused" in row.last_error


def test_unknown_contact_queues_nothing(seeded_db):
    with pytest.raises(ValueError, match="contact 999999 does not exist"), session_scope() as s:
        add_to_outbox(s, key="k", contact_id=999_999, subject="s", body="b", flow_run_id=None, headers={})
    with session_scope() as s:
        assert s.scalar(select(OutboxMessage)) is None


class CutOffSink:
    """An SMTP server that takes the message and then drops the connection before its 250: to the
    sender the send was cut off mid-conversation, as when its process dies or the network fails."""

    def __init__(self) -> None:
        import socketserver
        import threading

        self.messages: list[bytes] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 cut-off sink\r\n")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) and chunk != b".\r\n":
                            data += chunk
                        sink.messages.append(data)
                        return  # gone before answering 250
                    self.wfile.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_send_cut_off_mid_conversation_is_never_repeated(seeded_db, smtp_sink, monkeypatch):
    from typer.testing import CliRunner

    from agentflows.cli import app
    from tasks.email import DeliveryUncertainError

    cut = CutOffSink()
    monkeypatch.setenv("AGENTFLOWS_SMTP_URL", f"smtp://127.0.0.1:{cut.port}")
    get_settings.cache_clear()
    _queue("send-cut")
    with pytest.raises(DeliveryUncertainError, match="may have been delivered"):
        deliver_sync("send-cut")
    assert len(cut.messages) == 1, "the message went out once"

    monkeypatch.setenv("AGENTFLOWS_SMTP_URL", smtp_sink.url)  # a healthy server again: still no second copy
    get_settings.cache_clear()
    with pytest.raises(DeliveryUncertainError, match="agentflows outbox resend send-cut"):
        deliver_sync("send-cut")
    assert smtp_sink.messages == [] and len(cut.messages) == 1
    with session_scope() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "send-cut"))
    assert row.status == OutboxStatus.SENDING and row.attempts == 1

    listed = CliRunner().invoke(app, ["outbox", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and "send-cut" in listed.output and "sending" in listed.output
    resent = CliRunner().invoke(app, ["outbox", "resend", "send-cut"])  # a person checked: it did not arrive
    assert resent.exit_code == 0, resent.output
    deliver_sync("send-cut")
    assert len(smtp_sink.messages) == 1 and smtp_sink.messages[0]["Message-ID"] == message_id_for("send-cut")
    again = CliRunner().invoke(app, ["outbox", "resend", "send-cut"])
    assert again.exit_code == 2 and "is not sent again" in again.output


def test_two_senders_at_once_send_one_message(seeded_db, smtp_sink):
    from concurrent.futures import ThreadPoolExecutor

    from tasks.email import DeliveryUncertainError

    _queue("send-race")

    def attempt() -> str:
        try:
            return deliver_sync("send-race").status.value
        except DeliveryUncertainError:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(8)))
    assert len(smtp_sink.messages) == 1, outcomes
    assert "sent" in outcomes


def test_a_subject_with_a_line_break_is_refused_before_any_connection(seeded_db, smtp_sink):
    with session_scope() as s:
        contact = s.scalar(select(Contact).limit(1))
        add_to_outbox(
            s,
            key="send-crlf",
            contact_id=contact.id,
            subject="Hello\r\nBcc: x@evil.example",
            body="Body text",
            flow_run_id=None,
            headers={},
        )
    with pytest.raises(EmailDeliveryError, match="cannot be sent as written"):
        deliver_sync("send-crlf")
    assert smtp_sink.messages == []
    with session_scope() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "send-crlf"))
    assert row.status == OutboxStatus.PENDING, "refused for certain, not left in doubt"
