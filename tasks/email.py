"""Email tool tasks: an approved email goes to the outbox first, then leaves over SMTP exactly once.

The outbox row is written in one transaction with the reviewer's decision, under an idempotency
key derived from (flow run, contact, action); the `Message-ID` is derived from the same key. The
recipient is always the CRM contact's address, never anything a model or a web page produced.

Delivery is at most once. The row is marked `sending` and committed *before* the SMTP conversation
and `sent` after the server's 250. A refusal the server states (a reply code) or a connection that
never opened puts it back to `pending` for a retry. Anything else (the process killed mid-send, the
connection dropped after the message went out) leaves `sending`: the message may have been
delivered, so no retry sends it again; the task fails with `DeliveryUncertainError` saying how to
check and, if it was not delivered, `agentflows outbox resend KEY`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlparse

from prefect import task
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.crm import Contact, OutboxMessage, OutboxStatus
from agentflows.settings import get_settings


class EmailDeliveryError(RuntimeError):
    """The SMTP server refused or could not be reached; the outbox row stays pending for a retry."""


class DeliveryUncertainError(RuntimeError):
    """An earlier attempt may have delivered the message; it is not sent again without a person."""


def _is_uncertain(state: object) -> bool:
    """Retrying an uncertain send only fails again: say so once, at once."""
    try:
        state.result()  # type: ignore[attr-defined]
    except DeliveryUncertainError:
        return True
    except Exception:
        return False
    return False


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
    try:  # built before any connection: a header with a line break is refused here, nothing goes out
        email["From"] = settings.mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message.message_id or make_msgid()
        for name, value in message.headers.items():
            email[name] = value
        email.set_content(message.body)
    except ValueError as exc:
        raise EmailDeliveryError(f"the message cannot be sent as written ({exc}); it stays in the outbox") from exc
    smtp_cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    port = url.port or (465 if url.scheme == "smtps" else 25)
    try:
        smtp = smtp_cls(url.hostname, port, timeout=30)
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
    except (OSError, smtplib.SMTPException) as exc:  # nothing was sent yet
        raise EmailDeliveryError(
            f"could not send via {url.hostname}:{port}: {type(exc).__name__}: {exc}. "
            "Check AGENTFLOWS_SMTP_URL; the message stays in the outbox and is sent on retry."
        ) from exc
    try:
        smtp.send_message(email)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise EmailDeliveryError(  # the server answered with a refusal: it did not take the message
            f"{url.hostname}:{port} refused the message: {type(exc).__name__}: {exc}. It stays in the outbox."
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:  # mid-conversation: it may have gone out
        raise DeliveryUncertainError(_uncertain(message, f"{type(exc).__name__}: {exc}")) from exc
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()


def _uncertain(message: OutboxMessage, what: str) -> str:
    return (
        f"the send of outbox message {message.idempotency_key!r} (Message-ID {message.message_id}) was cut off "
        f"({what}), so it may have been delivered; it is not sent again automatically. Look for that Message-ID "
        f"in the SMTP server's log; if it is not there, `agentflows outbox resend {message.idempotency_key}` "
        "queues it again, then retry this run."
    )


def _row(session: Session, key: str, hint: str = "") -> OutboxMessage:
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if message is None:
        raise LookupError(f"no outbox message with key {key!r}{hint}")
    return message


def deliver_sync(key: str) -> OutboxMessage:
    """Send the outbox message under `key` at most once; return its final row."""
    with session_scope() as session:
        message = _row(session, key)
        if message.status == OutboxStatus.SENT:
            return message
        claimed = session.execute(  # atomic on any database: of two concurrent senders one gets the row
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
            )
            .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1)
        ).rowcount
        if not claimed:
            session.refresh(message)
            if message.status == OutboxStatus.SENT:
                return message
            raise DeliveryUncertainError(_uncertain(message, message.last_error or "the sending process stopped"))
    with session_scope() as session:  # the mark above is committed before any byte goes out
        message = _row(session, key)
        try:
            _smtp_send(message)
        except EmailDeliveryError as exc:
            message.status = OutboxStatus.PENDING
            message.last_error = str(exc)
            session.commit()
            raise
        except DeliveryUncertainError as exc:
            message.last_error = str(exc.__cause__ or exc)[:500]
            session.commit()
            raise
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.last_error = None
        return message


def resend_sync(key: str) -> OutboxMessage:
    """A person checked that an uncertain send did not arrive: queue it again (`agentflows outbox resend`)."""
    with session_scope() as session:
        message = _row(session, key, "; list them with `agentflows outbox list`")
        if message.status == OutboxStatus.SENT:
            raise ValueError(f"{key!r} was sent at {message.sent_at:%Y-%m-%d %H:%M} UTC; it is not sent again")
        message.status = OutboxStatus.PENDING
        return message


@task(
    name="send-email",
    retries=3,
    retry_delay_seconds=[5, 30, 120],
    retry_condition_fn=lambda task, run, state: not _is_uncertain(state),
)
async def send_email(key: str) -> str:
    """Deliver an outbox message; returns its Message-ID. Safe to retry: a sent row is not resent."""
    message = await asyncio.to_thread(deliver_sync, key)
    return message.message_id
