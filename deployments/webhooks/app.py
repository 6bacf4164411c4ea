"""`create_app()`: the receiver as a FastAPI app, built on demand rather than at import.

A factory, so that importing the package reads no settings and opens nothing: `agentflows up`
and the benchmark run `uvicorn --factory deployments.webhooks.app:create_app`, tests build one
app per receiver with their own environment. Secrets and the Prefect client are set up at
startup, once, and the recovery sweep runs for the app's lifetime. The warm flows (`deployments.warm`)
are imported at startup too, so the first visitor does not pay for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agentflows.heap import freeze_imported_heap
from agentflows.settings import Settings, get_settings
from deployments import webhook_secrets
from deployments.warm import WarmRunner
from deployments.webhooks.receiver import Receiver
from deployments.webhooks.routes import ROUTERS

log = logging.getLogger("agentflows.webhooks")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The receiver. Secrets and the Prefect client are set up at startup, once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from prefect.client.orchestration import get_client

        current = settings or get_settings()
        secrets = await asyncio.to_thread(webhook_secrets.resolve, current)
        for source, values in secrets.items():
            if not values:
                log.error("webhook source %r has no secret: its route answers 503 (see `agentflows up`)", source)
        async with get_client() as client:
            warm = WarmRunner(client, current) if current.warm_runs else None  # imports the warm flows now
            if warm is not None:
                await warm.start()  # its shared clients; runs a killed receiver left Running -> Crashed
            freeze_imported_heap()  # full GC passes no longer walk the imports: a request's tail, not its p50
            receiver = app.state.receiver = Receiver(client, current, secrets, warm)
            sweep = asyncio.create_task(receiver.recovery_loop())  # queued rows a dead receiver left behind
            yield
            sweep.cancel()
            await receiver.drain()
            if warm is not None:
                await warm.drain(timeout=10)

    app = FastAPI(title="agentflows webhooks", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    for router in ROUTERS:
        app.include_router(router)
    return app
