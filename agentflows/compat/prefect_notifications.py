"""An email notification block from Prefect core alone, for the stale-approval automation.

Prefect 3.9 core ships no SMTP notification block (`prefect-email` has credentials and a task, not a
`NotificationBlock`), and the generic `AppriseNotificationBlock` is abstract: it is not registered as a
block type, so the server's automation actions cannot load it. `SlackWebhook` is registered and, for a
URL that is not a Slack webhook, hands it to Apprise unchanged (`block_initialization`: "delegate to the
base behavior"); Apprise's `mailto://` speaks plain SMTP. So a `SlackWebhook` document holding a
`mailto://` URL is an email block that the server's `SendNotification` action can use.

Contract test: `tests/compat/test_prefect_notifications_compat.py`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from prefect.blocks.notifications import SlackWebhook

EMAIL_BLOCK_TYPE = SlackWebhook
"""The registered block type that carries an Apprise `mailto://` URL (see the module docstring)."""


def mailto_url(host: str, port: int, sender: str, recipient: str) -> str:
    """Apprise's URL for plain SMTP to `host:port` (no TLS, no login: a local sink)."""
    query = urlencode({"from": sender, "to": recipient, "secure": "no"})
    return f"mailto://{host}:{port}?{query}"


def email_block(host: str, port: int, sender: str, recipient: str) -> SlackWebhook:
    return EMAIL_BLOCK_TYPE(url=mailto_url(host, port, sender, recipient))
