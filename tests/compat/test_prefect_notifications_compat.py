"""Contracts with Prefect that `agentflows/compat/prefect_notifications.py` relies on."""

from __future__ import annotations

import time

from prefect.blocks.core import Block

from agentflows.compat.prefect_notifications import EMAIL_BLOCK_TYPE, email_block
from agentflows.smtp_sink import SmtpSink


def test_the_block_type_is_registered_so_the_server_can_load_it():
    """The server's SendNotification action loads a block by its schema's key: it must resolve to the class."""
    assert Block.get_block_class_from_key(EMAIL_BLOCK_TYPE.get_block_type_slug()) is EMAIL_BLOCK_TYPE
    assert "notify" in EMAIL_BLOCK_TYPE.get_block_capabilities()


def test_a_mailto_url_in_the_block_sends_plain_smtp():
    with SmtpSink(port=0) as sink:
        block = email_block(sink.host, sink.port, sender="from@agentflows.example", recipient="to@agentflows.example")
        block.notify("the body", subject="the subject")
        deadline = time.monotonic() + 5
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        (message,) = sink.messages
    assert message["Subject"] == "the subject"
    assert message["To"] == "to@agentflows.example"
    assert "the body" in (message.get_body(("plain",)) or message).get_content()
