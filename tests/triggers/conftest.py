"""Fixtures for the trigger tests: deployments on the session's Prefect server, a live receiver.

The receiver runs in a real uvicorn server on a free loopback port (in a thread), against its own
migrated SQLite database and the session's Prefect server. The deployments it starts are applied
without any runner, so the runs it creates stay Scheduled and the tests count them through the
Prefect API.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from standardwebhooks import Webhook

from agentflows.prefect_server import free_port
from agentflows.settings import get_settings
from deployments.webhook_secrets import generate_secret

SECRETS = {source: [generate_secret(), generate_secret()] for source in ("crm", "shop", "landing")}


def signed_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers made by the `standardwebhooks` library (not by this project)."""
    msg_id = msg_id or f"msg_{uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


@pytest.fixture(scope="session")
def trigger_deployments(prefect_server: str) -> dict[str, str]:
    """Every deployment of prefect.yaml applied to the session server (no runner); name -> id."""
    from deployments.serve import build_deployments

    return {d.full_name: str(d.apply()) for d in build_deployments()}


@dataclass
class LiveReceiver:
    url: str
    db_url: str

    def post(self, path: str, body: bytes, headers: dict[str, str], **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=body, headers=headers, timeout=30, **kwargs)


def count_runs(deployment_id: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async def count() -> int:
        async with get_client() as client:
            return await client.count_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )

    return asyncio.run(count())


@contextmanager
def live_receiver(db_url: str, **env: str) -> Iterator[LiveReceiver]:
    """The webhook app in uvicorn on a free port, with two secrets per source (rotation)."""
    import uvicorn

    from agentflows.db.migrate import upgrade
    from deployments.webhooks import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTFLOWS_DATABASE_URL", db_url)
        mp.setenv("AGENTFLOWS_LANDING_ALLOW_PRIVATE_WEBSITES", "true")
        mp.setenv("AGENTFLOWS_WARM_RUNS", "")  # runs stay Scheduled to be counted; the warm tests pass their own
        for source, values in SECRETS.items():
            mp.setenv(f"AGENTFLOWS_WEBHOOK_SECRET_{source.upper()}", ",".join(values))
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        upgrade(db_url)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "receiver did not start"
            time.sleep(0.05)
        try:
            yield LiveReceiver(url=f"http://127.0.0.1:{port}", db_url=db_url)
        finally:
            server.should_exit = True
            thread.join(10)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def receiver(trigger_deployments: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveReceiver]:
    """A receiver whose answers wait (up to 10 s) for the run, so every answer carries its run id."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('receiver') / 'agentflows.db'}"
    with live_receiver(db_url, AGENTFLOWS_WEBHOOK_ANSWER_WITHIN_S="10") as live:
        yield live


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]
