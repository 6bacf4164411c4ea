"""Memory survives a restart of everything: the Prefect server, the runner and the CLI process.

A rep approves an edited draft through a first `agentflows up`; the whole stack is stopped with
Ctrl-C and started again on the same data directory. The next prospect at that account, started by
a CRM webhook on the new stack, gets a brief that knows the earlier outreach and drafts that avoid
its angle, and the edited email is a style example for that writer type. Nothing of this lived in a
process: it is read back from the project database.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from tests.helpers import using_database, wait_for
from tests.memory.test_account_memory import two_contacts_one_account_same_writer
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = pytest.mark.e2e

EDITED_BODY = "Hi there,\n\nShort and plain: one question about your freight lanes this quarter.\n\nBest,\nDana"


def paused_draft(up: UpProcess, db_url: str, contact: int) -> OutreachDraft | None:
    with session_scope(db_url) as session:
        draft = session.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == contact))
    return draft if draft and draft.flow_run_id and up.run_state(draft.flow_run_id) == "PAUSED" else None


def drafts_artifact(up: UpProcess, contact: int) -> str | None:
    """The markdown a reviewer reads in the Prefect UI, fetched the way the UI fetches it."""
    found = httpx.post(
        f"{up.api}/artifacts/latest/filter", json={"artifacts": {"key": {"any_": [f"outreach-drafts-{contact}"]}}}
    ).json()
    return found[0]["data"] if found else None


def test_memory_is_there_after_the_whole_stack_restarts(stack_data: tuple[Path, str]):
    data, db_url = stack_data
    with using_database(db_url):
        first, second = two_contacts_one_account_same_writer()
    env = stack_env(data)

    up = start_up(data, env)
    try:
        assert up.signed_post("crm", {"contact_ids": [first]}).status_code == 202
        draft = wait_for(lambda: paused_draft(up, db_url, first), timeout=120, what="the first approval to pause")
        sent_angle, writer = draft.variants[0]["angle"], draft.writer
        approved = up.cli("approve", draft.flow_run_id, "--variant", "1", "--reviewer", "Dana", "--body", EDITED_BODY)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        wait_for(lambda: list((data / "mail").glob("*.eml")), timeout=90, what="the approved email")
    finally:
        assert up.stop() == 0, up.text[-3000:]

    up = start_up(data, env)  # same data directory: same Prefect database, same project database
    try:
        assert "already up" not in up.text
        assert up.signed_post("crm", {"contact_ids": [second]}).status_code == 202
        later = wait_for(lambda: paused_draft(up, db_url, second), timeout=120, what="the second approval to pause")
        assert any("sent to" in line and sent_angle in line for line in later.brief["prior_outreach"]), later.brief
        assert sent_angle not in {v["angle"] for v in later.variants}
        assert later.writer == writer
        assert [e["kind"] for e in later.style_examples] == ["edited"], later.style_examples
        assert "freight lanes" in later.style_examples[0]["final_body"]

        artifact = wait_for(lambda: drafts_artifact(up, second), timeout=30, what="the drafts artifact")
        assert "## Prior outreach to this account" in artifact and sent_angle in artifact
        assert "## Reviewer examples the writer was given" in artifact and "freight lanes" in artifact

        shown = up.cli("memory", "show", "--account", str(later.account_id))
        assert shown.returncode == 0 and sent_angle in shown.stdout, shown.stdout + shown.stderr
        examples = up.cli("memory", "examples", "--writer", writer)
        assert examples.returncode == 0 and "freight lanes" in examples.stdout, examples.stdout + examples.stderr
        rejected = up.cli("reject", later.flow_run_id, "--reviewer", "Dana", "--note", "not now")
        assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    finally:
        assert up.stop() == 0, up.text[-3000:]
    assert len(list((data / "mail").glob("*.eml"))) == 1, "the rejected second outreach sent nothing"
