"""A local SMTP sink: accepts every message on loopback and keeps it as an `.eml` file.

`make demo` sends approved emails here instead of to real people; tests read what arrived.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class _Handler:
    directory: Path | None
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                name = f"{len(list(self.directory.glob('*.eml'))) + 1:05d}.eml"
                (self.directory / name).write_bytes(raw)
        return "250 Message accepted for delivery"


class SmtpSink:
    """`with SmtpSink(port=0) as sink: ... sink.messages` (port 0 picks a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8025, directory: Path | None = None) -> None:
        self.handler = _Handler(directory)
        if port == 0:
            from agentflows.prefect_server import free_port

            port = free_port()
        self.controller = Controller(self.handler, hostname=host, port=port)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
