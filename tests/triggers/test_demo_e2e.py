"""`agentflows demo` as a new user runs it, twice on one data directory, with one approval in between.

The first demo drafts three prospects whose briefs carry website facts from the demo's local sites
(`web:` sources, said in its output); one approval is answered from another terminal and its email
arrives. The second demo reuses the two approvals still open (same runs, said in its output, with
their links), drafts only the answered prospect again, and that prospect's new brief lists the sent
email under prior outreach, not among its facts. The reuse lookup itself is also tested against a
real Prefect server with runs in each state it must tell apart.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from tests.helpers import wait_for
from tests.triggers.stack import UpProcess, stack_env, start_command

pytestmark = pytest.mark.e2e

APPROVE = re.compile(r"agentflows approve ([0-9a-f-]{36})")


def start_demo(data_dir: Path, env: dict[str, str], name: str, timeout: float = 240) -> UpProcess:
    """`agentflows demo` until it says it waits for approvals (or fail with its output)."""
    return start_command(data_dir, env, ["demo"], "Waiting for approvals", f"{name}.txt", timeout)


def test_a_second_demo_reuses_the_open_approvals_and_briefs_show_web_research(stack_data):
    data_dir, db_url = stack_data
    env = stack_env(data_dir)

    first = start_demo(data_dir, env, "demo-1")
    try:
        text = first.text
        assert "demo websites for 220 accounts on http://127.0.0.1:" in text
        assert "reusing" not in text and "outreach started for prospects" in text
        assert "3 of 3 briefs carry website facts with web: sources" in text, text[-3000:]
        assert len(re.findall(r"\d website facts \(web:https://[a-z0-9-]+\.example/\)", text)) == 3
        runs = APPROVE.findall(text)
        assert len(runs) == 3
        approved = first.cli("approve", runs[0], "--variant", "1", "--reviewer", "Dana")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        mail = data_dir / "mail"
        wait_for(lambda: list(mail.glob("*.eml")), timeout=90, what="the approved email in the SMTP sink")
    finally:
        assert first.stop() == 0, first.text[-3000:]

    with session_scope(db_url) as session:
        drafts = {d.flow_run_id: d for d in session.scalars(select(OutreachDraft))}
    approved_contact = drafts[runs[0]].contact_id
    sent_body = drafts[runs[0]].final_body
    open_contacts = sorted(drafts[r].contact_id for r in runs[1:])

    second = start_demo(data_dir, env, "demo-2")
    try:
        text = second.text
        assert f"reusing open approvals of prospects {open_contacts} from an earlier demo" in text, text[-3000:]
        assert f"outreach started for prospects [{approved_contact}]" in text
        again = APPROVE.findall(text)
        assert set(runs[1:]) <= set(again) and runs[0] not in again and len(again) == 3
        assert text.count("(reused: drafted by an earlier demo)") == 2
        assert "3 of 3 briefs carry website facts with web: sources" in text
        listed = second.cli("approvals")
        assert listed.returncode == 0, listed.stderr
        assert sum(run in listed.stdout for run in again) == 3
    finally:
        assert second.stop() == 0, second.text[-3000:]

    with session_scope(db_url) as session:
        drafts = list(session.scalars(select(OutreachDraft).order_by(OutreachDraft.id)))
    assert len(drafts) == 4, "three drafted by the first demo, one (the answered prospect) by the second"
    redrafted = drafts[-1]
    assert redrafted.contact_id == approved_contact
    facts = redrafted.brief["facts"]
    body_lines = [line for line in sent_body.splitlines() if len(line) > 30]
    assert not [f for f in facts if any(line[:60] in f["text"] for line in body_lines)], "our email is not a fact"
    sent = next(d for d in drafts if d.flow_run_id == runs[0])
    assert sent.status == "approved" and sent.decided_at is not None
    assert any(line.startswith(f"{sent.decided_at:%Y-%m-%d}: sent") for line in redrafted.brief["prior_outreach"])
    assert [f for f in facts if f["source"].startswith("web:")], "the new brief has website facts too"


def test_open_approvals_are_the_paused_runs_of_the_asked_prospects(prefect_server, seeded_db):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Paused

    from agentflows.cli.demo import open_approvals
    from tasks.crm import pick_demo_prospects

    @flow(name="outreach-approval")
    def stand_in() -> None:  # only its name: the runs are created in their states, nothing executes
        pass

    a, b, c = pick_demo_prospects()

    async def create(state) -> str:
        async with get_client() as client:
            return str((await client.create_flow_run(stand_in, state=state)).id)

    def paused():
        return Paused(reschedule=True, pause_key=str(uuid4()))

    runs = {
        "a-open": (a, asyncio.run(create(paused()))),
        "a-done": (a, asyncio.run(create(Completed()))),
        "b-open": (b, asyncio.run(create(paused()))),
        "c-other-batch": (c, asyncio.run(create(paused()))),
    }
    with session_scope() as session:
        for label, (contact, run_id) in runs.items():
            session.add(
                OutreachDraft(
                    batch_run_id=f"batch-{label}",
                    flow_run_id=run_id,
                    contact_id=contact,
                    account_id=1,
                    writer="technical-buyer",
                    model="offline",
                    brief={},
                    variants=[],
                    digest="0" * 16,
                )
            )

    found = asyncio.run(open_approvals([a, b]))
    assert {cid: [p.flow_run_id for p in ps] for cid, ps in found.items()} == {
        a: [runs["a-open"][1]],
        b: [runs["b-open"][1]],
    }
    assert asyncio.run(open_approvals([c]))[c][0].flow_run_id == runs["c-other-batch"][1]
    assert asyncio.run(open_approvals([a + b + c + 1000])) == {}
