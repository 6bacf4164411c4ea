"""A RevOps change, end to end on a real Prefect server: propose a writer and a case study, see the
comparison, approve it through Prefect's API, and the next outreach run routes to the new writer
and cites the case study; a rejected or broken proposal changes nothing; a run in flight keeps its
snapshot."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from agentflows.approvals import ApprovalError, approval_input, resume_paused_run, submit
from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from agentflows.db.usage import ModelUsage
from agentflows.db.workspace import WorkspaceChange
from agentflows.prefect_env import flow_run_url
from agentflows.settings import get_settings
from agentflows.workspace import SHIPPED, read_folder
from agents.workspace import WorkspaceInvalid
from tasks.crm import load_profiles_sync
from tests.helpers import artifacts_markdown, flow_run_state, pending_by_contact, run_in_background, wait_for
from tests.workspace.test_check import WRITER

CASE_STUDY = """# Finance case studies

## Finance team closes the month in three days
The finance department of a 400-person distributor closed its month-end in three days instead of
eight, with Northwind's finance dashboards feeding the CFO's financial reporting.
"""


@pytest.fixture
def workspaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An active workspace (the shipped defaults) and a proposal: a Finance writer and a finance case study."""
    active, proposal = tmp_path / "active", tmp_path / "proposal"
    shutil.copytree(SHIPPED, active)
    shutil.copytree(SHIPPED, proposal)
    (proposal / "writers" / "finance-leader.md").write_text(WRITER)
    (proposal / "knowledge" / "finance-case-studies.md").write_text(CASE_STUDY)
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(active))
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_POLL_S", "1")
    get_settings.cache_clear()
    return active, proposal


def change_row(proposal: Path) -> WorkspaceChange | None:
    with session_scope() as session:
        return session.scalar(select(WorkspaceChange).where(WorkspaceChange.proposal == str(proposal)))


def draft_row(contact_id: int) -> OutreachDraft | None:
    with session_scope() as session:
        return session.scalar(
            select(OutreachDraft).where(OutreachDraft.contact_id == contact_id).order_by(OutreachDraft.id.desc())
        )


def finance_prospect() -> int:
    profiles = load_profiles_sync(list(range(1, 400)))
    return next(
        i for i, p in sorted(profiles.items()) if p.department == "Finance" and not p.is_customer and p.employees >= 50
    )


def answer_change(run_id: str, decision: str, note: str = "") -> None:
    asyncio.run(
        resume_paused_run(run_id, {"decision": decision, "reviewer": "Rita RevOps", "note": note}, ApprovalError)
    )


def test_an_approved_writer_and_case_study_route_and_cite_in_the_next_run(
    prefect_server, seeded_db, smtp_sink, workspaces, caplog
):
    from flows.prospect_outreach import prospect_outreach
    from flows.workspace_change import workspace_change

    caplog.set_level(logging.INFO, logger="prefect")

    active, proposal = workspaces
    prospect = finance_prospect()
    before = read_folder(active).id

    # a run in flight before the change: drafted on the active snapshot, waiting for its approval
    in_flight = run_in_background(lambda: prospect_outreach([prospect]))
    wait_for(lambda: in_flight.check() or pending_by_contact([prospect]), timeout=180, what="the in-flight approval")
    old = draft_row(prospect)
    assert old is not None and old.writer == "new-logo-executive" and old.workspace_version == before

    change = run_in_background(lambda: workspace_change(str(proposal)))
    row = wait_for(
        lambda: change.check() or ((r := change_row(proposal)) and r.status == "awaiting_approval" and r),
        timeout=240,
        what="the change run waiting for approval",
    )
    wait_for(lambda: flow_run_state(row.flow_run_id) == "PAUSED", timeout=60, what="the change run paused")
    assert (
        f"waiting for a reviewer: open {flow_run_url(row.flow_run_id)} or run "
        f"`agentflows workspace approve {row.flow_run_id} --reviewer NAME`"
    ) in caplog.text
    report = artifacts_markdown(row.flow_run_id)
    assert f"`{before}` -> `{row.proposed_version}`" in report
    assert "`writers/finance-leader.md` (added)" in report and "`knowledge/finance-case-studies.md` (added)" in report
    assert "routed to `finance-leader`" in report and "### Writer `finance-leader`" in report
    assert "No fraud file changed" in report
    assert (active / "writers" / "finance-leader.md").exists() is False, "nothing is live before the approval"

    answer_change(row.flow_run_id, "approve")
    outcome = change.join(timeout=120)
    assert outcome.outcome == "approved" and outcome.reviewer == "Rita RevOps"
    assert read_folder(active).id == row.proposed_version, "the active folder is the proposal now"
    decided = change_row(proposal)
    assert decided is not None and (decided.status, decided.reviewer) == ("approved", "Rita RevOps")
    assert (decided.base_version, decided.proposed_version) == (before, row.proposed_version)

    # the run in flight finishes on its own snapshot: its approval sends what was drafted then
    pending = pending_by_contact([prospect])[prospect]
    asyncio.run(submit(pending.flow_run_id, approval_input(pending.flow_run_id, variant=1, reviewer="rep")))
    [sent] = in_flight.join(timeout=120).outcomes
    assert sent.outcome == "sent" and sent.writer == "new-logo-executive"
    [email] = wait_for(lambda: smtp_sink.messages, what="the email")
    assert email["Subject"] == old.variants[0]["subject"], "what was drafted on the old snapshot is what is sent"

    # the next run: the new writer, citing the new case study, recording the new version
    nxt = run_in_background(lambda: prospect_outreach([prospect]))
    wait_for(
        lambda: nxt.check() or ((d := draft_row(prospect)) and d.id != old.id and d), timeout=180, what="new drafts"
    )
    new = draft_row(prospect)
    assert new is not None and new.writer == "finance-leader" and new.workspace_version == row.proposed_version
    kb_ids = {f["id"] for f in new.brief["facts"] if f["source"].startswith("kb:finance-case-studies#")}
    assert kb_ids, new.brief["facts"]
    assert any(kb_ids & set(v["facts_used"]) for v in new.variants), "a draft cites the case study"
    with session_scope() as session:
        versions = set(
            session.scalars(select(ModelUsage.workspace_version).where(ModelUsage.flow_run_id == new.batch_run_id))
        )
    assert versions == {row.proposed_version}, "the batch's model requests record the version that made them"
    pending = wait_for(lambda: pending_by_contact([prospect]), what="the new approval")[prospect]
    assert "writers/finance-leader.md@" in artifacts_markdown(pending.flow_run_id)
    asyncio.run(
        submit(pending.flow_run_id, approval_input(pending.flow_run_id, variant=None, reviewer="rep", reject=True))
    )
    nxt.join(timeout=120)


def test_a_rejected_proposal_changes_nothing(prefect_server, seeded_db, workspaces):
    from flows.workspace_change import workspace_change

    active, proposal = workspaces
    before = read_folder(active).id
    change = run_in_background(lambda: workspace_change(str(proposal)))
    row = wait_for(
        lambda: change.check() or ((r := change_row(proposal)) and r.status == "awaiting_approval" and r),
        timeout=240,
        what="the change run waiting for approval",
    )
    wait_for(lambda: flow_run_state(row.flow_run_id) == "PAUSED", timeout=60, what="the change run paused")
    answer_change(row.flow_run_id, "reject", "not this quarter")
    assert change.join(timeout=120).outcome == "rejected"
    assert read_folder(active).id == before and not (active / "writers" / "finance-leader.md").exists()
    decided = change_row(proposal)
    assert decided is not None and (decided.status, decided.note) == ("rejected", "not this quarter")


def test_a_broken_proposal_fails_with_file_and_line_and_never_waits(prefect_server, seeded_db, workspaces):
    from flows.workspace_change import workspace_change

    active, proposal = workspaces
    (proposal / "writers" / "finance-leader.md").write_text(WRITER.replace("priority: 25", "priority: [25"))
    with pytest.raises(WorkspaceInvalid, match=r"writers/finance-leader\.md:8: YAML does not parse"):
        asyncio.run(workspace_change(str(proposal)))
    row = change_row(proposal)
    assert row is not None and row.status == "invalid"
    assert flow_run_state(row.flow_run_id) == "FAILED"
    assert "writers/finance-leader.md:8" in artifacts_markdown(row.flow_run_id)
    assert not (active / "writers" / "finance-leader.md").exists()


def test_a_second_proposal_is_evaluated_again_against_what_went_live_first(prefect_server, seeded_db, workspaces):
    from flows.workspace_change import workspace_change

    active, first = workspaces
    second = first.parent / "second"
    shutil.copytree(SHIPPED, second)
    (second / "knowledge" / "finance-case-studies.md").write_text(CASE_STUDY)  # no finance writer in this one

    runs = {p: run_in_background(lambda p=p: workspace_change(str(p))) for p in (first, second)}
    rows = {
        p: wait_for(
            lambda p=p: runs[p].check() or ((r := change_row(p)) and r.status == "awaiting_approval" and r),
            timeout=240,
            what=f"{p.name} waiting for approval",
        )
        for p in (first, second)
    }
    for r in rows.values():
        wait_for(lambda r=r: flow_run_state(r.flow_run_id) == "PAUSED", timeout=60, what="paused")
    answer_change(rows[first].flow_run_id, "approve")
    assert runs[first].join(timeout=120).outcome == "approved"

    answer_change(rows[second].flow_run_id, "approve")  # approved against a base that is no longer active
    again = wait_for(
        lambda: (
            runs[second].check()
            or (
                (r := change_row(second))
                and r.status == "awaiting_approval"
                and r.base_version == rows[first].proposed_version
                and r
            )
        ),
        timeout=240,
        what="the second proposal evaluated again against the first",
    )
    wait_for(lambda: flow_run_state(again.flow_run_id) == "PAUSED", timeout=60, what="paused again")
    assert (active / "writers" / "finance-leader.md").exists(), (
        "the first change stays live until the second is approved again"
    )
    report = artifacts_markdown(again.flow_run_id)
    assert f"`{rows[first].proposed_version}` -> `{rows[second].proposed_version}`" in report
    assert "`writers/finance-leader.md` (removed)" in report, "the reviewer sees what the second proposal undoes"
    answer_change(again.flow_run_id, "approve")
    assert runs[second].join(timeout=120).outcome == "approved"
    assert read_folder(active).id == rows[second].proposed_version
