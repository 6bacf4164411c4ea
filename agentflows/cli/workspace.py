"""`agentflows workspace`: check, show, propose, approve and reject changes to the files a team edits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail, require_prefect_server

workspace_app = typer.Typer(
    help="The workspace: writers, knowledge, agents' instructions, fraud rules. Check, show and change it.",
    no_args_is_help=True,
)
app.add_typer(workspace_app, name="workspace")

CHANGE_DEPLOYMENT = "workspace-change/on-demand"


@workspace_app.command("check")
def check(
    folder: Annotated[Path | None, typer.Argument(help="A workspace folder; default: the active one")] = None,
) -> None:
    """Validate every file: exit 0 when it may go live, else each problem as file:line and exit 1."""
    from agentflows.workspace import WorkspaceFolderError, read_folder, workspace_dir
    from agents.workspace import check as check_snapshot

    folder = folder or workspace_dir()
    try:
        snapshot = read_folder(folder)
    except WorkspaceFolderError as exc:
        raise fail(str(exc), code=1) from None
    problems = check_snapshot(snapshot)
    for problem in problems:
        console.print(f"[red]{problem}[/]", soft_wrap=True, highlight=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) in {folder}: nothing of it goes live until they are fixed", code=1)
    console.print(f"[green]ok[/] {folder}: {len(snapshot.files)} files, version {snapshot.id}", highlight=False)


@workspace_app.command("show")
def show(
    version: Annotated[
        str | None, typer.Argument(help="A version recorded on an output; default: the active one")
    ] = None,
) -> None:
    """Every file of a workspace version with its own version, and the reviewed changes that made it."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.migrate import upgrade
    from agentflows.db.workspace import WorkspaceChange
    from tasks.workspace import active_workspace, workspace_at

    upgrade()
    workspace = workspace_at(version) if version else active_workspace()
    table = Table("file", "version")
    for path, file_version in workspace.snapshot.manifest.items():
        table.add_row(path, file_version)
    console.print(f"workspace version [bold]{workspace.version}[/] ({workspace.snapshot.source})", highlight=False)
    console.print(table)
    with session_scope() as session:
        changes = list(session.scalars(select(WorkspaceChange).order_by(WorkspaceChange.id.desc()).limit(10)))
        rows = [
            (c.flow_run_id, c.status, c.base_version, c.proposed_version, c.reviewer, c.decided_at) for c in changes
        ]
    if rows:
        history = Table("change run", "status", "from", "to", "reviewer", "decided")
        for row in rows:
            history.add_row(*(str(v or "") for v in row))
        console.print(history)


@workspace_app.command("export")
def export(
    version: Annotated[str, typer.Argument(help="A workspace version (from `show`, a draft, a decision)")],
    folder: Annotated[Path, typer.Argument(help="An empty or new folder to write it into")],
) -> None:
    """Write a stored workspace version into a folder: to roll back, export the old version and propose it."""
    from agentflows.db.migrate import upgrade
    from agentflows.workspace import write_snapshot
    from tasks.workspace import workspace_at

    upgrade()
    try:
        workspace = workspace_at(version)
    except LookupError as exc:
        raise fail(f"{exc}; `agentflows workspace show` lists the active version and recent changes") from None
    folder = folder.expanduser()
    if folder.exists() and any(folder.iterdir()):
        raise fail(f"{folder} is not empty; export into a new folder")
    write_snapshot(workspace.snapshot, folder)
    console.print(
        f"version {version} written to {folder}; `agentflows workspace propose {folder}` to make it live again"
    )


@workspace_app.command("propose")
def propose(folder: Annotated[Path, typer.Argument(help="The proposed workspace folder (a copy you edited)")]) -> None:
    """Start a `workspace-change` run: it evaluates the proposal and waits for a reviewer in the Prefect UI."""
    from prefect.deployments import run_deployment

    from agentflows.prefect_env import flow_run_url
    from agentflows.workspace import WorkspaceFolderError, read_folder
    from agents.workspace import check as check_snapshot

    folder = folder.expanduser().resolve()
    try:
        problems = check_snapshot(read_folder(folder))
    except WorkspaceFolderError as exc:
        raise fail(f"{exc}; nothing was proposed") from None
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/]", soft_wrap=True, highlight=False)
        raise fail(
            f"{len(problems)} problem(s): fix them (see `agentflows workspace check {folder}`), then propose again"
        )
    require_prefect_server()
    try:
        run = run_deployment(CHANGE_DEPLOYMENT, parameters={"proposal": str(folder)}, timeout=0)
    except Exception as exc:  # the deployment is missing, or the server refused: say how to get it
        raise fail(f"could not start {CHANGE_DEPLOYMENT} ({exc}); is `agentflows up` running?") from None
    console.print(
        f"[green]proposed[/]: run {run.id} evaluates it, then waits for a reviewer: {flow_run_url(run.id)}",
        soft_wrap=True,
    )


def _answer(run_id: str, decision: str, reviewer: str, note: str) -> None:
    from agentflows.approvals import ApprovalError, resume_paused_run
    from agentflows.forms import WorkspaceApproval

    answer = WorkspaceApproval(decision=decision, reviewer=reviewer, note=note)  # type: ignore[arg-type]
    try:
        asyncio.run(resume_paused_run(run_id, answer.model_dump(mode="json"), ApprovalError))
    except ApprovalError as exc:
        raise fail(str(exc)) from None
    console.print(f"{decision} sent to run {run_id}; the run applies it and logs the outcome")


@workspace_app.command("approve")
def approve(
    run_id: Annotated[str, typer.Argument(help="The workspace-change run")],
    reviewer: Annotated[str, typer.Option(help="Your name (recorded with the versions you approved)")],
    note: Annotated[str, typer.Option(help="Optional note")] = "",
) -> None:
    """Approve a proposed change: new runs use it; runs in flight keep their snapshot."""
    require_prefect_server()
    _answer(run_id, "approve", reviewer, note)


@workspace_app.command("reject")
def reject(
    run_id: Annotated[str, typer.Argument(help="The workspace-change run")],
    reviewer: Annotated[str, typer.Option(help="Your name")],
    note: Annotated[str, typer.Option(help="Why; the proposer reads it")] = "",
) -> None:
    """Reject a proposed change: nothing changes."""
    require_prefect_server()
    _answer(run_id, "reject", reviewer, note)
