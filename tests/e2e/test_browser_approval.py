"""A rep approves an outreach draft in the real Prefect UI, in headless Chromium, and the email goes out.

The whole stack runs as a user runs it (`agentflows up` on free loopback ports, see
tests/triggers/stack.py); a signed CRM webhook starts prospect outreach; the test opens the paused
approval run's page, presses Resume, picks variant 2 in the form, types a name, submits, and then
checks what left: the .eml in the SMTP sink, the CRM's draft row and the run's final state.

Needs Chromium and the python `playwright` package (`make test-e2e` installs both where it can);
without them the test is skipped and says what to install. Set AGENTFLOWS_CHROMIUM to use another
Chromium binary. `playwright install` is never needed: Playwright drives the system Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutreachDraft
from tests.helpers import wait_for
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TIMEOUT_MS = 60_000  # every Playwright wait; the machine may be busy with other test suites
REVIEWER = "Dana Browser"


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable Playwright drives, or a skip that says what to install."""
    # In CI (`make test-e2e` installs both) a missing browser is a failure, never a silent skip.
    skip = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip("python playwright is not installed: run `make test-e2e` (or `pip install 'playwright>=1.40'`)")
    configured = os.environ.get("AGENTFLOWS_CHROMIUM")
    path = configured or shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        where = f"AGENTFLOWS_CHROMIUM={configured}" if configured else "chromium on PATH or /usr/bin/chromium"
        skip(
            f"no Chromium executable ({where}): run `make test-e2e` as root or `apt-get install chromium`, "
            "or point AGENTFLOWS_CHROMIUM at a Chromium binary"
        )
    return path


@pytest.fixture(scope="module")
def stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """`agentflows up` over the seeded demo CRM (started only once a browser is known to exist)."""
    from agentflows.seed.crm import seed_crm
    from tests.helpers import seed_database

    data_dir = tmp_path_factory.mktemp("browser") / "data"
    data_dir.mkdir(parents=True)
    url = seed_database(f"sqlite:///{data_dir / 'agentflows.db'}", seed_crm)
    # AGENTFLOWS_E2E_PREFECT_DATABASE=sqlite runs the same tests on SQLite (the README's contrast); default: what
    # users get (the embedded PostgreSQL).
    extra = {"AGENTFLOWS_PREFECT_DATABASE": os.environ.get("AGENTFLOWS_E2E_PREFECT_DATABASE", "auto")}
    # The flow runs' own info lines (ours among them) reach the run page, as users get them; everything else stays
    # at the harness's WARNING (one run with all of Prefect at INFO missed the 50-prospect test's timeouts).
    extra["PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"] = "INFO"
    up = start_up(data_dir, stack_env(data_dir, **extra))
    up.db_url = url  # type: ignore[attr-defined]
    yield up
    assert up.stop() == 0, up.text[-3000:]


@contextmanager
def browser_page(executable: str, evidence: Path, up: UpProcess) -> Iterator[Any]:
    """A headless Chromium page; any failure inside saves a screenshot and the HTML and names them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            try:
                yield page
            except Exception as exc:
                screenshot, html = evidence / "failure.png", evidence / "failure.html"
                try:
                    page.screenshot(path=str(screenshot), full_page=True)
                    html.write_text(page.content())
                except Exception as capture_error:  # the page itself may be gone; say so, keep the real error
                    html.write_text(f"could not capture the page: {capture_error!r}")
                raise AssertionError(
                    f"{exc}\n\nscreenshot: {screenshot}\npage HTML: {html}\n"
                    f"stack output: {up.output} (logs in {up.data_dir / 'logs'})\nat {page.url}"
                ) from exc
        finally:
            browser.close()


def choose_option(page: Any, field: Any, option: str) -> None:
    """Pick `option` in one of the Prefect UI's custom selects (a button plus a popover, no <select>).

    A mouse click on the select's text toggles it twice (the button and its wrapper both handle the
    click) and leaves it closed, so open it from the keyboard, as a keyboard user would.
    """
    from playwright.sync_api import expect

    control = field.locator(".p-select-button__control")
    control.focus()
    control.press("ArrowDown")  # opens the options unless already open
    page.get_by_role("option", name=option, exact=True).click()
    expect(control).to_have_text(option, timeout=UI_TIMEOUT_MS)


def read_mail(directory: Path) -> list[EmailMessage]:
    """Every complete message the SMTP sink stored (a file being written has no body yet)."""
    messages = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in sorted(directory.glob("*.eml"))]
    return messages if messages and all(m["To"] and m.get_body() for m in messages) else []  # type: ignore[return-value]


# What a reviewer decides, in the form's order: the decision first and required, their name, then the optional
# edits. Nothing else (no digest or other plumbing a reviewer must not touch).
APPROVAL_FIELDS = ["Decision", "Reviewer", "Subject (Optional)", "Body (Optional)", "Note (Optional)"]


def form_field(page: Any, form: Any, label: str) -> Any:
    """One property of a Prefect UI schema form, found by its label."""
    return form.locator(".schema-form-property").filter(
        has=page.locator(".schema-form-property__label", has_text=label)
    )


def approve_in_ui(page: Any, up: UpProcess, run_id: str, subject: str, decision_label: str) -> None:
    """Open the paused run, press Resume, check the form, pick the decision, sign and submit; it must close."""
    from playwright.sync_api import expect

    page.goto(f"http://127.0.0.1:{up.env['AGENTFLOWS_PREFECT_PORT']}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Resume", exact=True).click()
    form = page.get_by_role("dialog")
    expect(form.get_by_text(subject).first).to_be_visible()  # the drafts are shown above the form
    drafts_page = form.get_by_role("link", name="Open the drafts page (brief, facts and their sources)")
    expect(drafts_page).to_have_attribute("href", re.compile(r"/artifacts/artifact/[0-9a-f-]{36}$"))

    labels = form.locator(".schema-form-property__label")
    expect(labels).to_have_count(len(APPROVAL_FIELDS))
    assert [t.strip() for t in labels.all_inner_texts()] == APPROVAL_FIELDS

    decision = form_field(page, form, "Decision")
    expect(decision.locator(".p-select-button__control")).not_to_have_text(
        re.compile("send variant|reject")
    )  # no default
    choose_option(page, decision, decision_label)
    form_field(page, form, "Reviewer").locator("textarea").fill(REVIEWER)
    form.get_by_role("button", name="Submit", exact=True).click()
    expect(form).to_be_hidden()  # the server accepted the input (a schema error keeps the form open)
    expect(page.get_by_text("Failed to resume")).to_have_count(0)


def waiting_line(stack: UpProcess, run_id: str) -> str | None:
    """Our "waiting for a reviewer" line among the run's logs on the Prefect server, if it arrived."""
    import httpx

    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
    logs = httpx.post(f"{stack.api}/logs/filter", json=body, timeout=10).json()
    return next((log["message"] for log in logs if log["message"].startswith("waiting for a reviewer")), None)


def test_reviewer_approves_variant_2_in_the_prefect_ui_and_it_is_sent(
    chromium: str, stack: UpProcess, tmp_path: Path
) -> None:

    db_url: str = stack.db_url  # type: ignore[attr-defined]
    with session_scope(db_url) as session:
        contact = session.scalars(select(Contact).order_by(Contact.id)).first()
        assert contact is not None, "the seeded CRM has no contacts"
        contact_id, contact_email = contact.id, contact.email

    answer = stack.signed_post("crm", {"contact_ids": [contact_id]})
    assert answer.status_code == 202, answer.text

    def paused_draft() -> tuple[str, list[dict[str, Any]]] | None:
        with session_scope(db_url) as session:
            draft = session.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == contact_id))
            found = (draft.flow_run_id, draft.variants) if draft and draft.flow_run_id else None
        return found if found and stack.run_state(found[0]) == "PAUSED" else None

    run_id, variants = wait_for(paused_draft, timeout=240, what="the outreach approval run to pause")
    # The run page explains the wait in our words, before Prefect's own "Finished in state Suspended".
    waiting = wait_for(lambda: waiting_line(stack, run_id), timeout=60, what="our waiting line in the run's logs")
    assert f"/runs/flow-run/{run_id} or run `agentflows approve {run_id} --variant N --reviewer NAME`" in waiting
    assert "suspended and holds no process" in waiting
    chosen = variants[1]
    assert chosen["body"] != variants[0]["body"], "variants 1 and 2 are identical: the test could not tell them apart"
    mail_dir = stack.data_dir / "mail"

    with browser_page(chromium, tmp_path, stack) as page:
        approve_in_ui(page, stack, run_id, chosen["subject"], "send variant 2")

        messages = wait_for(lambda: read_mail(mail_dir), timeout=180, what="the approved email in the SMTP sink")
        final_state = wait_for(
            lambda: (s := stack.run_state(run_id)) in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} and s,
            timeout=120,
            what="the approval run to finish",
        )

        assert len(messages) == 1, [m["Subject"] for m in messages]
        email = messages[0]
        assert email["To"] == contact_email
        assert email["Subject"] == chosen["subject"]
        assert email.get_body().get_content().replace("\r\n", "\n").strip() == chosen["body"].strip()
        assert final_state == "COMPLETED", f"approval run {run_id} ended {final_state}"
        with session_scope(db_url) as session:
            draft = session.scalar(select(OutreachDraft).where(OutreachDraft.flow_run_id == run_id))
            assert draft is not None
            assert (draft.status, draft.reviewer, draft.chosen_variant) == ("approved", REVIEWER, 2)
            assert (draft.final_subject, draft.final_body) == (chosen["subject"], chosen["body"])


BUSY_BATCH = 50


def test_approvals_in_the_ui_are_accepted_the_first_time_while_a_big_batch_drafts(
    chromium: str, stack: UpProcess, tmp_path: Path
) -> None:
    """The failure this default fixes: on SQLite, a Resume pressed while the demo drafted answered "Failed to
    resume flow run" (database is locked). Three approvals are answered in the UI while a 50-prospect batch
    drafts and its approval runs start; each must be accepted on the first Submit."""
    db_url: str = stack.db_url  # type: ignore[attr-defined]
    with session_scope(db_url) as session:
        ids = [c.id for c in session.scalars(select(Contact).order_by(Contact.id).offset(1).limit(BUSY_BATCH + 3))]
    early, busy = ids[:3], ids[3:]
    stack.started(stack.signed_post("crm", {"contact_ids": early}))

    def paused(contact_ids: list[int]) -> list[tuple[str, str]] | None:
        with session_scope(db_url) as session:
            drafts = session.scalars(select(OutreachDraft).where(OutreachDraft.contact_id.in_(contact_ids))).all()
            found = [(d.flow_run_id, d.variants[0]["subject"]) for d in drafts if d.flow_run_id]
        ready = [item for item in found if stack.run_state(item[0]) == "PAUSED"]
        return ready if len(ready) == len(contact_ids) else None

    waiting = wait_for(lambda: paused(early), timeout=240, what="three approval runs to wait")
    batch_id = stack.started(stack.signed_post("crm", {"contact_ids": busy}))["flow_run_id"]
    wait_for(lambda: stack.run_state(batch_id) == "RUNNING", timeout=120, what="the 50-prospect batch to start")

    batch_states = []
    with browser_page(chromium, tmp_path, stack) as page:
        for run_id, subject in waiting:
            batch_states.append(stack.run_state(batch_id))
            approve_in_ui(page, stack, run_id, subject, "send variant 1")
            wait_for(lambda r=run_id: stack.run_state(r) != "PAUSED", timeout=30, what="the answer to resume the run")
    assert batch_states[0] == "RUNNING", f"the batch was not drafting while the reviewer answered: {batch_states}"
    for run_id, _ in waiting:
        wait_for(lambda r=run_id: stack.run_state(r) == "COMPLETED", timeout=240, what="each approved run to finish")
    with session_scope(db_url) as session:
        statuses = session.scalars(select(OutreachDraft.status).where(OutreachDraft.contact_id.in_(early))).all()
    assert sorted(statuses) == ["approved"] * 3


CHANGE_FIELDS = ["Decision", "Reviewer", "Note (Optional)"]


def test_a_revops_analyst_approves_a_new_writer_in_the_prefect_ui(
    chromium: str, stack: UpProcess, tmp_path: Path
) -> None:
    """Propose a writer with the CLI, read the comparison, approve it in the UI: it is live for the next run."""
    from agentflows.db.workspace import WorkspaceChange
    from agentflows.workspace import SHIPPED, read_folder
    from tests.workspace.test_check import WRITER

    proposal = tmp_path / "proposal"
    shutil.copytree(SHIPPED, proposal)
    (proposal / "writers" / "finance-leader.md").write_text(WRITER)
    proposed = stack.cli("workspace", "propose", str(proposal))
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    db_url: str = stack.db_url  # type: ignore[attr-defined]

    def paused_change() -> str | None:
        with session_scope(db_url) as session:
            row = session.scalar(select(WorkspaceChange).where(WorkspaceChange.proposal == str(proposal.resolve())))
            run_id = row.flow_run_id if row and row.status == "awaiting_approval" else None
        return run_id if run_id and stack.run_state(run_id) == "PAUSED" else None

    run_id = wait_for(paused_change, timeout=300, what="the workspace-change run to wait for a reviewer")
    with browser_page(chromium, tmp_path, stack) as page:
        from playwright.sync_api import expect

        page.goto(f"http://127.0.0.1:{stack.env['AGENTFLOWS_PREFECT_PORT']}/runs/flow-run/{run_id}?tab=Artifacts")
        expect(page.get_by_text("workspace-change").first).to_be_visible()
        page.get_by_role("button", name="Resume", exact=True).click()
        form = page.get_by_role("dialog")
        comparison = form.get_by_role("link", name="Open the comparison (outreach and fraud, active and proposed)")
        expect(comparison).to_have_attribute("href", re.compile(r"/artifacts/artifact/[0-9a-f-]{36}$"))
        labels = form.locator(".schema-form-property__label")
        expect(labels).to_have_count(len(CHANGE_FIELDS))
        assert [t.strip() for t in labels.all_inner_texts()] == CHANGE_FIELDS

        choose_option(page, form_field(page, form, "Decision"), "approve")
        form_field(page, form, "Reviewer").locator("textarea").fill(REVIEWER)
        form.get_by_role("button", name="Submit", exact=True).click()
        expect(form).to_be_hidden()
        expect(page.get_by_text("Failed to resume")).to_have_count(0)

    active = stack.data_dir / "workspace"
    wait_for(lambda: (active / "writers" / "finance-leader.md").exists(), timeout=180, what="the writer to go live")
    assert read_folder(active).id == read_folder(proposal).id
    with session_scope(db_url) as session:
        row = session.scalar(select(WorkspaceChange).where(WorkspaceChange.flow_run_id == run_id))
        assert row is not None and (row.status, row.reviewer) == ("approved", REVIEWER)
    check = stack.cli("workspace", "check")
    assert check.returncode == 0 and read_folder(active).id in check.stdout
