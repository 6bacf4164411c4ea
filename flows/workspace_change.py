"""Workspace change: proposed workspace files, evaluated beside the active ones, live once a person approves.

Run it: `agentflows workspace propose DIR` (or from the Prefect UI: deployment
`workspace-change/on-demand`, parameter `proposal` = the folder). Approve or reject on the run page
(Resume) or with `agentflows workspace approve RUN_ID --reviewer NAME` / `reject ... --note WHY`.

The story:
  1. read the proposal folder (missing or empty: refused before anything else) and check it the way
     `agentflows workspace check` does; an invalid proposal fails here, with every file:line problem
     in an artifact, and never waits for anyone
  2. evaluate the active workspace and the proposal side by side on the same data: outreach on a
     fixed sample of CRM prospects (routing, validator pass rate, knowledge citations, never-claim
     refusals, example drafts of each changed writer); the fraud check's metrics and the claims whose
     verdict changes, when a fraud file changed
  3. show that comparison as a markdown artifact and wait for a reviewer (name required)
  4. approved: if the active workspace changed meanwhile (another change approved first), evaluate
     again against it and ask again, never merge silently; otherwise write the proposal into the
     active folder atomically (new runs use it, runs in flight keep their snapshot) and record who
     approved which version. Rejected or timed out: nothing changes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run as current_flow_run
from pydantic import BaseModel

from agentflows.forms import WorkspaceApproval
from agentflows.human_input import AnswerTimeout, wait_for_answer
from agentflows.markdown import md_cell, md_code, md_link
from agentflows.prefect_env import artifact_url, flow_run_url
from agentflows.settings import get_settings
from agentflows.workspace import read_folder
from agents.workspace import Workspace, WorkspaceInvalid, load_workspace
from tasks.fraud.evaluation import compare_fraud
from tasks.workspace import activate_sync, active_workspace, record_change_sync
from tasks.workspace_eval import evaluate_outreach, outreach_markdown, sample_prospects


class ChangeOutcome(BaseModel):
    outcome: str  # approved, rejected, timed_out
    proposed_version: str
    base_version: str
    reviewer: str | None = None
    changes: dict[str, str] = {}


def fraud_changed(active: Workspace, proposed: Workspace) -> bool:
    changed = proposed.snapshot.changed_from(active.snapshot)
    return any(p.startswith(("fraud/", "agents/fraud-")) for p in changed)


async def comparison(active: Workspace, proposed: Workspace, flow_run_id: str) -> str:
    """The evidence a reviewer decides on, as markdown."""
    changes = proposed.snapshot.changed_from(active.snapshot)
    records = await asyncio.to_thread(sample_prospects)
    before, after = await asyncio.gather(evaluate_outreach(active, records), evaluate_outreach(proposed, records))
    parts = [
        f"# Workspace change: {md_code(active.version)} -> {md_code(proposed.version)}",
        "\n**Files:** " + ", ".join(f"{md_code(p)} ({md_cell(how)})" for p, how in changes.items())
        if changes
        else "\nNo file differs.",
        "\n"
        + (
            outreach_markdown(active, proposed, before, after)
            if records
            else "No CRM prospects to draft for: seed or import a CRM first."
        ),
    ]
    if fraud_changed(active, proposed):
        report = await asyncio.to_thread(compare_fraud, active, proposed)
        parts.append("\n" + report.markdown())
    else:
        parts.append("\n## Fraud check\nNo fraud file changed: fraud decisions are unaffected.")
    parts.append(
        "\n---\nApprove in the form (Resume) or: "
        f"`agentflows workspace approve {flow_run_id} --reviewer NAME` / "
        f"`agentflows workspace reject {flow_run_id} --reviewer NAME --note WHY`"
    )
    return "\n".join(parts)


@flow(name="workspace-change", flow_run_name="workspace-change", persist_result=True)
async def workspace_change(proposal: str) -> ChangeOutcome:
    """Evaluate a proposed workspace beside the active one; it goes live only when a person approves."""
    log = get_run_logger()
    flow_run_id = str(current_flow_run.id)
    snapshot = await asyncio.to_thread(read_folder, Path(proposal))  # missing or empty: refused here
    try:
        proposed = load_workspace(snapshot)
    except WorkspaceInvalid as exc:
        listing = "\n".join(f"- {md_code(p)}" for p in exc.problems)
        await acreate_markdown_artifact(
            markdown=f"# Workspace proposal refused\n\n{md_cell(proposal)} does not pass `check`:\n\n{listing}",
            key="workspace-change",
            description="Why the proposal was refused",
        )
        await asyncio.to_thread(
            record_change_sync, flow_run_id, proposal, status="invalid", proposed_version=snapshot.id
        )
        raise
    settings = get_settings()
    for attempt in range(1, 11):
        active = await asyncio.to_thread(active_workspace, log)
        changes = proposed.snapshot.changed_from(active.snapshot)
        await asyncio.to_thread(
            record_change_sync,
            flow_run_id,
            proposal,
            status="evaluating",
            base_version=active.version,
            proposed_version=proposed.version,
            changes=changes,
        )
        markdown = await comparison(active, proposed, flow_run_id)
        artifact_id = await acreate_markdown_artifact(
            markdown=markdown, key="workspace-change", description=f"{active.version} -> {proposed.version}"
        )
        await asyncio.to_thread(record_change_sync, flow_run_id, proposal, status="awaiting_approval")
        link = md_link("Open the comparison (outreach and fraud, active and proposed)", artifact_url(artifact_id))
        form = WorkspaceApproval.with_initial_data(
            description=f"**{link}**\n\nWorkspace change {md_code(active.version)} -> {md_code(proposed.version)}: "
            f"{len(changes)} file(s)."
        )
        try:
            answer = await wait_for_answer(
                form,
                timeout_s=settings.approval_timeout_s,
                key=f"workspace-{proposed.version}-{active.version}-{attempt}",
                waiting=(
                    f"waiting for a reviewer: open {flow_run_url(flow_run_id)} or run "
                    f"`agentflows workspace approve {flow_run_id} --reviewer NAME` "
                    f"(or `agentflows workspace reject {flow_run_id} --reviewer NAME --note WHY`)"
                ),
            )
        except AnswerTimeout:
            await asyncio.to_thread(record_change_sync, flow_run_id, proposal, status="timed_out")
            return ChangeOutcome(outcome="timed_out", proposed_version=proposed.version, base_version=active.version)
        reviewer = answer.reviewer.strip()
        if answer.decision == "reject":
            await asyncio.to_thread(
                record_change_sync, flow_run_id, proposal, status="rejected", reviewer=reviewer, note=answer.note
            )
            log.info("workspace change rejected by %s: nothing changed", reviewer)
            return ChangeOutcome(
                outcome="rejected", proposed_version=proposed.version, base_version=active.version, reviewer=reviewer
            )
        now = await asyncio.to_thread(active_workspace, log)
        if now.version != active.version:
            log.warning(
                "the active workspace changed from %s to %s while this proposal waited; evaluating again against it",
                active.version,
                now.version,
            )
            continue
        written = await asyncio.to_thread(activate_sync, proposed)
        await asyncio.to_thread(
            record_change_sync, flow_run_id, proposal, status="approved", reviewer=reviewer, note=answer.note
        )
        log.info("workspace %s is live (approved by %s): %s", proposed.version, reviewer, written)
        return ChangeOutcome(
            outcome="approved",
            proposed_version=proposed.version,
            base_version=active.version,
            reviewer=reviewer,
            changes=written,
        )
    raise RuntimeError("the active workspace kept changing under this proposal; propose it again")
