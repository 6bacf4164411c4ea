"""A fraud analyst's rules change through the `workspace-change` flow: its artifact shows what it costs."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from sqlalchemy import select

from agentflows.approvals import ApprovalError, resume_paused_run
from agentflows.db import session_scope
from agentflows.db.workspace import WorkspaceChange
from agentflows.settings import get_settings
from agentflows.workspace import SHIPPED, read_folder
from tests.helpers import artifacts_markdown, flow_run_state, run_in_background, wait_for


def test_a_threshold_change_that_lowers_recall_says_so_before_anyone_approves(
    prefect_server, market_db, tmp_path: Path, monkeypatch
):
    from flows.workspace_change import workspace_change

    active, proposal = tmp_path / "active", tmp_path / "proposal"
    shutil.copytree(SHIPPED, active)
    shutil.copytree(SHIPPED, proposal)
    rules = proposal / "fraud" / "rules.yaml"
    rules.write_text(re.sub(r"(?m)^review_threshold: .*$", "review_threshold: 0.6", rules.read_text()))
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(active))
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_POLL_S", "1")
    get_settings.cache_clear()
    before = read_folder(active).id

    change = run_in_background(lambda: workspace_change(str(proposal)))

    def waiting() -> WorkspaceChange | None:
        change.check()
        with session_scope() as session:
            row = session.scalar(select(WorkspaceChange).where(WorkspaceChange.proposal == str(proposal)))
        return row if row is not None and row.status == "awaiting_approval" else None

    row = wait_for(waiting, timeout=240, what="the change run waiting for approval")
    wait_for(lambda: flow_run_state(row.flow_run_id) == "PAUSED", timeout=60, what="paused")
    report = artifacts_markdown(row.flow_run_id)
    recall = re.search(r"\| recall \| ([0-9.]+) \| ([0-9.]+) \| ([+-][0-9.]+) \|", report)
    assert recall, report[:2000]
    assert float(recall[2]) < float(recall[1]), "the proposal's lower recall is in the artifact"
    assert "`review_threshold`" in report and "-> 0.6" in report
    assert re.search(r"## Claims whose verdict changes \([1-9]\d*\)", report)
    asyncio.run(
        resume_paused_run(
            row.flow_run_id, {"decision": "reject", "reviewer": "Fay Fraud", "note": "too lax"}, ApprovalError
        )
    )
    assert change.join(timeout=120).outcome == "rejected"
    assert read_folder(active).id == before
