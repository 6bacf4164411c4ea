"""The workspace a run uses: read once at its start, stored, and loaded again by version later.

`use_workspace()` is the first step of every flow that reads the workspace. It reads the active
folder; a valid folder becomes the run's snapshot (stored in the project database, marked live).
An invalid one never goes live: the run keeps the last valid snapshot and its log names the file,
the line and the problem. A run and everything it starts use that one snapshot to the end
(`workspace_at(version)`), even if the folder changes meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache

from prefect import task
from prefect.logging import get_run_logger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.workspace import WorkspaceSnapshot
from agentflows.workspace import Snapshot, WorkspaceFolderError, read_folder, shipped_snapshot, workspace_dir
from agents.workspace import Workspace, WorkspaceInvalid, load_workspace


def store_snapshot(snapshot: Snapshot, *, live: bool) -> None:
    """Keep `snapshot` in the project database (once per version); `live` marks it as the one runs use now.

    Two runs starting at once may both store the same new version: the second insert loses the race
    (unique id) and simply marks the row the first one wrote.
    """
    for attempt in range(2):
        try:
            with session_scope() as session:
                row = session.get(WorkspaceSnapshot, snapshot.id)
                if row is None:
                    row = WorkspaceSnapshot(
                        id=snapshot.id,
                        files=dict(snapshot.files),
                        manifest=dict(snapshot.manifest),
                        source=snapshot.source,
                    )
                    session.add(row)
                if live:
                    row.live_at = utcnow()
            return
        except IntegrityError:
            if attempt:
                raise


def stored_snapshot(version: str) -> Snapshot | None:
    with session_scope() as session:
        row = session.get(WorkspaceSnapshot, version)
        return None if row is None else Snapshot(row.files, source=row.source)


def last_live_version() -> str | None:
    with session_scope() as session:
        return session.scalar(
            select(WorkspaceSnapshot.id)
            .where(WorkspaceSnapshot.live_at.is_not(None))
            .order_by(WorkspaceSnapshot.live_at.desc())
            .limit(1)
        )


@lru_cache(maxsize=32)
def workspace_at(version: str) -> Workspace:
    """The parsed workspace of a stored snapshot (snapshots never change, so this is cached)."""
    snapshot = stored_snapshot(version)
    if snapshot is None:
        shipped = shipped_snapshot()
        if shipped.id != version:
            raise LookupError(f"workspace version {version} is not stored in the project database")
        snapshot = shipped
    return load_workspace(snapshot)


_VALIDATED: dict[tuple[str, str], Workspace] = {}
_VALIDATED_MAX = 32


def validated(snapshot: Snapshot) -> Workspace:
    """`load_workspace(snapshot)`, parsed once per version in this process.

    A version is the hash of the folder's files, so an unchanged folder need not be parsed and
    checked again on every run of a warm process (the receiver runs hundreds a minute); a changed
    file is a new version and is checked in full. A refused version is not remembered.
    """
    key = (snapshot.id, snapshot.source)
    workspace = _VALIDATED.get(key)
    if workspace is None:
        workspace = load_workspace(snapshot)
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = workspace
    return workspace


def active_workspace(log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None) -> Workspace:
    """The workspace a run starting now uses: the active folder if valid, else the last valid snapshot."""
    log = log or logging.getLogger("agentflows.workspace")
    folder = workspace_dir()
    try:
        snapshot = read_folder(folder)
        workspace = validated(snapshot)
    except (WorkspaceFolderError, WorkspaceInvalid) as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, WorkspaceInvalid) else [str(exc)]
        fallback = last_live_version()
        workspace = workspace_at(fallback) if fallback else load_workspace(shipped_snapshot())
        log.warning(
            "workspace %s refused, this run uses the last valid version %s instead: %s. "
            "Fix the file, then `agentflows workspace check` to see it pass.",
            folder,
            workspace.version,
            "; ".join(problems),
        )
        if fallback is None:
            store_snapshot(workspace.snapshot, live=True)
        return workspace
    if last_live_version() != snapshot.id:
        # Only a version change writes: runs on an unchanged folder share the row already live.
        log.info("workspace version %s is live (from %s)", snapshot.id, folder)
        store_snapshot(snapshot, live=True)
    return workspace


@task(name="use-workspace", retries=1, retry_delay_seconds=1)
async def use_workspace() -> str:
    """The version of the workspace this run uses (see the module docstring); load it with `workspace_at`."""
    workspace = await asyncio.to_thread(active_workspace, get_run_logger())
    return workspace.version


def record_change_sync(flow_run_id: str, proposal: str, **fields: object) -> None:
    """Create or update the `workspace_changes` row of one change run."""
    from agentflows.db.workspace import WorkspaceChange

    with session_scope() as session:
        row = session.scalar(select(WorkspaceChange).where(WorkspaceChange.flow_run_id == flow_run_id))
        if row is None:
            row = WorkspaceChange(flow_run_id=flow_run_id, proposal=proposal, changes={}, note="")
            session.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
        if fields.get("status") in ("approved", "rejected"):
            row.decided_at = utcnow()


def activate_sync(workspace: Workspace) -> dict[str, str]:
    """Make `workspace` the active one: its files into the active folder (atomically for readers), marked live."""
    from agentflows.workspace import write_snapshot

    changes = write_snapshot(workspace.snapshot, workspace_dir())
    store_snapshot(workspace.snapshot, live=True)
    return changes
