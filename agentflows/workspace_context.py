"""Which workspace version the code running now belongs to, for code that cannot be handed it.

A flow resolves its workspace once (`tasks.workspace.use_workspace`) and passes the version to what
it calls. One consumer is out of reach of its arguments: the metered model records a usage row
inside each model-request task, several layers down in pydantic-ai and Prefect, and that row must
say which workspace (instructions, model settings) made the request. So the flow also wraps the
part of its run that sends model requests in `using_workspace(version)`, and the metered model
reads `current_workspace_version()`.

Why a context variable: it is copied into every asyncio task, every `asyncio.to_thread` call and
every Prefect task run started inside the block, sync or async, awaited or submitted (checked by
`tests/tasks/test_usage_workspace_version.py`), and it is per run: two flows in one process (a
served deployment, concurrent subflows) each see their own. It is core, not part of a flow,
because the metered model (agents) reads it and core may not import the layers above.

A separate process (a deployment run, a flow resumed after a suspend) starts without it, so it
resolves its workspace and enters the block again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_VERSION: ContextVar[str | None] = ContextVar("agentflows_workspace_version", default=None)


def current_workspace_version() -> str | None:
    """The workspace version of the run this code belongs to, or None outside `using_workspace`."""
    return _VERSION.get()


@contextmanager
def using_workspace(version: str) -> Iterator[str]:
    """Everything run inside the block (tasks, threads, model requests) belongs to workspace `version`.

    Restored on exit, so a subflow's version does not leak into its parent after it returns.
    """
    token = _VERSION.set(version)
    try:
        yield version
    finally:
        _VERSION.reset(token)
