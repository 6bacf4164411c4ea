"""Email tool tasks: an approved email goes to the outbox first, then leaves over SMTP exactly once.

The outbox row is written in one transaction with the reviewer's decision, under an idempotency
key derived from (flow run, contact, action); the `Message-ID` is derived from the same key. The
sender reads the row, sends only if it is still pending and marks it sent. A retried or re-run
task therefore finds the row already sent and does nothing. The recipient is always the CRM
contact's address, never anything a model or a web page produced.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlparse

from prefect import task
from sqlalchemy import select
from sqlalchemy.orm import Session

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.crm import Contact, OutboxMessage, OutboxStatus
from agentflows.settings import get_settings


class EmailDeliveryError(RuntimeError):
    """The SMTP server refused or could not be reached; the outbox row stays pending for a retry."""


def message_id_for(key: str) -> str:
    """A stable `Message-ID` for an idempotency key, so a resend is recognisably the same message."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@agentflows>"


def add_to_outbox(
    session: Session,
    *,
    key: str,
    contact_id: int,
    subject: str,
    body: str,
    flow_run_id: str | None,
    headers: dict[str, str],
) -> OutboxMessage:
    """Put one message in the outbox inside the caller's transaction (or return the one under `key`)."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ValueError(f"contact {contact_id} does not exist; nothing was queued")
    message = OutboxMessage(
        idempotency_key=key,
        message_id=message_id_for(key),
        flow_run_id=flow_run_id,
        contact_id=contact_id,
        to_address=contact.email,
        subject=subject,
        body=body,
        headers=headers,
    )
    session.add(message)
    session.flush()
    return message


def _smtp_send(message: OutboxMessage) -> None:
    settings = get_settings()
    url = urlparse(settings.smtp_url)
    if url.scheme not in {"smtp", "smtps"} or not url.hostname:
        raise EmailDeliveryError(f"AGENTFLOWS_SMTP_URL must look like smtp://host:port, got scheme {url.scheme!r}")
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message.message_id or make_msgid()
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.body)
    smtp_cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    port = url.port or (465 if url.scheme == "smtps" else 25)
    try:
        with smtp_cls(url.hostname, port, timeout=30) as smtp:
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise EmailDeliveryError(
            f"could not send via {url.hostname}:{port}: {type(exc).__name__}: {exc}. "
            "Check AGENTFLOWS_SMTP_URL; the message stays in the outbox and is sent on retry."
        ) from exc


def deliver_sync(key: str) -> OutboxMessage:
    """Send the outbox message under `key` unless it was sent already; return its final row."""
    with session_scope() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        if message is None:
            raise LookupError(f"no outbox message with key {key!r}")
        if message.status == OutboxStatus.SENT:
            return message
        message.attempts += 1
        try:
            _smtp_send(message)
        except EmailDeliveryError as exc:
            message.last_error = str(exc)
            session.commit()
            raise
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.last_error = None
        return message


@task(name="send-email", retries=3, retry_delay_seconds=[5, 30, 120])
async def send_email(key: str) -> str:
    """Deliver an outbox message; returns its Message-ID. Safe to retry: a sent row is not resent."""
    message = await asyncio.to_thread(deliver_sync, key)
    return message.message_id
