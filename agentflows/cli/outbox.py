"""`agentflows outbox`: the approved emails, and queueing again one whose send was cut off."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail

outbox_app = typer.Typer(help="Approved emails: sent, waiting, or cut off mid-send.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def list_messages(limit: int = 50) -> None:
    """The newest outbox messages with their status (`sending` = cut off mid-send: check, then resend)."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.crm import OutboxMessage
    from agentflows.db.migrate import upgrade

    upgrade()
    with session_scope() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)).all()
    table = Table("key", "status", "attempts", "to", "subject", "message id", "last error")
    for m in rows:
        table.add_row(
            m.idempotency_key,
            m.status.value,
            str(m.attempts),
            m.to_address,
            m.subject,
            m.message_id,
            m.last_error or "",
        )
    console.print(table if rows else "the outbox is empty")


@outbox_app.command("resend")
def resend(key: Annotated[str, typer.Argument(help="The outbox key (see `agentflows outbox list`)")]) -> None:
    """Queue again a message whose send was cut off, after checking the SMTP log that it did not arrive."""
    from agentflows.db.migrate import upgrade
    from tasks.email import resend_sync

    upgrade()
    try:
        message = resend_sync(key)
    except (LookupError, ValueError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"queued {key} again (Message-ID {message.message_id}); retry its run, or it goes with the next delivery"
    )
