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
