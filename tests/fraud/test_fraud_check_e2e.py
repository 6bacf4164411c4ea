"""fraud-check end to end: real Prefect server, the seeded marketplace in SQLite, the offline model.

Benign cases clear and risky ones block without anyone; review cases pause with a readable signal
table and are resumed through Prefect's API with each outcome (a model that insists on `clear` is
overruled on the way); an answer about a verdict other than the one the run paused on is refused;
a second check of a paused case is skipped; a decided case is an error; an unanswered review times
out. Every decision is in the audit trail with its evidence.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import pytest
from prefect.flow_runs import aresume_flow_run
from sqlalchemy import select

from agentflows.compat.prefect import current_pause_key
from agentflows.db import session_scope
from agentflows.db.fraud import CheckStatus, ClaimCheck, FraudDecision
from agentflows.prefect_env import flow_run_url
from agentflows.settings import get_settings
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.cases import CaseAlreadyDecidedError, UnknownCaseError
from tasks.fraud.evaluation import labelled
from tasks.fraud.review import ReviewError, review_input, submit_review
from tests.fraud.test_hard_rules import insisting_on
from tests.helpers import artifacts_markdown, flow_run_state, run_in_background, wait_for

pytestmark = pytest.mark.e2e


def cases_by_decision() -> dict[str, list[int]]:
    """Seeded claims grouped by what the offline check decides for them (fraud-check must agree)."""
    labels = labelled("all")
    sample = [c for c in sorted(labels) if labels[c][0]][:40] + sorted(labels)[:40]
    verdicts = verdicts_batch(sample)
    out: dict[str, list[int]] = {"clear": [], "review": [], "block": []}
    for cid, verdict in verdicts.items():
        out[verdict.decision].append(cid)
    return out


def decisions(case_id: int) -> list[FraudDecision]:
    with session_scope() as session:
        return list(
            session.scalars(select(FraudDecision).where(FraudDecision.claim_id == case_id).order_by(FraudDecision.id))
        )


def check_row(case_id: int) -> ClaimCheck | None:
    with session_scope() as session:
        return session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case_id))


def test_clear_and_block_are_automatic_and_a_decided_case_is_an_error(prefect_server, market_db, template_dir) -> None:  # type: ignore[no-untyped-def]
    from flows.fraud_check import fraud_check

    groups = cases_by_decision()
    benign, blocked = groups["clear"][0], groups["block"][0]

    cleared = asyncio.run(fraud_check(benign))
    assert cleared.outcome == "cleared" and cleared.decision == "clear"
    result = asyncio.run(fraud_check(blocked))
    assert result.outcome == "blocked" and result.deterministic_risk is not None and result.deterministic_risk > 0.9

    for case, action in ((benign, "clear"), (blocked, "block")):
        [row] = decisions(case)
        assert (row.action, row.actor, row.model) == (action, "auto", "offline")
        assert {s["name"] for s in row.evidence} == {
            "address",
            "return_distance",
            "customer",
            "tracking",
            "payment",
            "conversation",
        }
        assert check_row(case).status == CheckStatus.DECIDED  # type: ignore[union-attr]

    with pytest.raises(CaseAlreadyDecidedError, match=f"case {benign} was already decided: clear by auto"):
        asyncio.run(fraud_check(benign))
    with pytest.raises(UnknownCaseError, match="unknown case id 999999"):
        asyncio.run(fraud_check(999999))
    assert decisions(999999) == [] and check_row(999999) is None
    assert len(decisions(benign)) == 1, "the refused re-check wrote nothing"


def set_verdict_digest(case_id: int, digest: str) -> None:
    """What a change of the stored verdict after the run paused looks like to the command line."""
    with session_scope() as session:
        session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case_id)).verdict_digest = digest  # type: ignore[union-attr]


def test_review_pauses_and_each_outcome_resumes_it(
    prefect_server, market_db, template_dir, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    """Three review cases, with an orchestrator model that insists on `clear`: the rules still pause them."""
    from agents.fraud import orchestrator
    from flows.fraud_check import fraud_check

    caplog.set_level(logging.INFO, logger="prefect")

    monkeypatch.setattr(
        orchestrator, "orchestrator", lambda *_args: orchestrator.orchestrator_agent(insisting_on("clear"))
    )
    groups = cases_by_decision()
    cases = (groups["review"] + groups["block"])[:3]
    assert len(cases) == 3
    runs = {case: run_in_background(lambda case=case: fraud_check(case)) for case in cases}

    def all_paused() -> bool:
        for bg in runs.values():
            bg.check()
        rows = [check_row(c) for c in cases]
        return all(r is not None and r.status == CheckStatus.AWAITING_REVIEW for r in rows) and all(
            flow_run_state(r.flow_run_id) == "PAUSED"
            for r in rows  # type: ignore[union-attr]
        )

    wait_for(all_paused, timeout=90, what="three paused reviews")
    first, second, third = cases
    run_id = check_row(first).flow_run_id  # type: ignore[union-attr]

    markdown = artifacts_markdown(run_id)  # type: ignore[arg-type]
    assert f"# Fraud check: case {first}" in markdown
    assert "| signal | status | score | rule score | summary | evidence |" in markdown
    assert "**Model proposed:** `clear`" in markdown and "rule 2" in markdown

    # A second check of a paused case is skipped by the lock, not run twice.
    skipped = asyncio.run(fraud_check(first))
    assert skipped.outcome == "skipped" and "already being checked" in (skipped.reason or "")

    # Invalid answers are refused before they reach the run.
    with pytest.raises(ReviewError, match="analyst"):
        review_input(first, "confirm fraud", "   ")
    with pytest.raises(ReviewError, match="outcome"):
        review_input(first, "maybe", "Dana")
    # The form has no digest field (the server refuses one): the pause key carries the verdict's digest.
    flow_run_id, answer = review_input(first, "confirm fraud", "Dana", "same drop address as last week")
    digest = check_row(first).verdict_digest  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="Cannot resume"):
        asyncio.run(aresume_flow_run(UUID(flow_run_id), run_input=answer | {"verdict_digest": digest}))
    assert asyncio.run(current_pause_key(UUID(flow_run_id))) == f"fraud-review-{digest}-1"
    assert (
        f"waiting for an analyst: open {flow_run_url(flow_run_id)} or run `agentflows fraud decide --case {first} "
        "--outcome 'confirm fraud|not fraud|escalate' --analyst NAME`"
    ) in caplog.text
    # A verdict in the database that is not the one the run paused on: refused, the run stays paused.
    set_verdict_digest(first, "0000000000000000")
    with pytest.raises(ReviewError, match=f"waits on verdict {digest}, but the database holds verdict 0000"):
        asyncio.run(submit_review(flow_run_id, answer))
    assert flow_run_state(flow_run_id) == "PAUSED"
    set_verdict_digest(first, digest)
    assert check_row(first).status == CheckStatus.AWAITING_REVIEW  # type: ignore[union-attr]

    asyncio.run(submit_review(*review_input(first, "confirm fraud", "Dana", "same drop address as last week")))
    asyncio.run(submit_review(*review_input(second, "not fraud", "Lee", "customer sent a photo of the porch")))
    asyncio.run(submit_review(*review_input(third, "escalate", "Kim")))

    outcomes = {case: runs[case].join(90) for case in cases}
    assert outcomes[first].outcome == "confirmed_fraud" and outcomes[first].analyst == "Dana"
    assert outcomes[second].outcome == "not_fraud"
    assert outcomes[third].outcome == "escalated"
    expected = {
        first: ("confirm_fraud", "analyst:Dana"),
        second: ("not_fraud", "analyst:Lee"),
        third: ("escalate", "analyst:Kim"),
    }
    for case, (action, actor) in expected.items():
        auto, human = decisions(case)
        assert (auto.action, auto.actor, auto.model_decision) == ("review", "auto", "clear")
        assert auto.rule.startswith("rule 2") or auto.rule.startswith("rule 3")
        assert (human.action, human.actor) == (action, actor)
        assert human.verdict_digest == auto.verdict_digest and len(human.evidence) == 6
        assert check_row(case).status == CheckStatus.DECIDED  # type: ignore[union-attr]
    assert decisions(first)[1].note == "same drop address as last week"


def test_an_unanswered_review_times_out_and_is_recorded(prefect_server, market_db, template_dir, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flows.fraud_check import fraud_check

    monkeypatch.setenv("AGENTFLOWS_FRAUD_REVIEW_TIMEOUT_S", "3")
    get_settings.cache_clear()
    case = cases_by_decision()["review"][0]
    result = asyncio.run(fraud_check(case))
    assert result.outcome == "timed_out"
    assert [(d.action, d.actor) for d in decisions(case)] == [("review", "auto"), ("timed_out", "timeout")]
    assert check_row(case).status == CheckStatus.TIMED_OUT  # type: ignore[union-attr]


def test_a_template_added_between_two_runs_is_used_by_the_second(prefect_server, market_db, template_dir) -> None:  # type: ignore[no-untyped-def]
    """Two identical new claims: the first run does not know the tactic, the second (after the team
    added a file, no restart) matches it and its verdict records the template's version."""
    from agentflows.db.fraud import Claim
    from agentflows.fraud_templates import load_templates
    from flows.fraud_check import fraud_check
    from tests.fraud.test_templates import MESSAGE, NEW_TACTIC

    benign = cases_by_decision()["clear"][:2]
    with session_scope() as session:
        originals = [session.get(Claim, c) for c in benign]
        new = [
            Claim(
                order_id=o.order_id,
                customer_id=o.customer_id,
                kind="refund_request",
                message=MESSAGE,
                amount_claimed=o.amount_claimed,
                opened_at=o.opened_at,
            )
            for o in originals
        ]
        session.add_all(new)
        session.flush()
        first, second = (c.id for c in new)

    asyncio.run(fraud_check(first))
    (template_dir / "gift-card-swap.md").write_text(NEW_TACTIC)
    # Matching a known tactic can now send a clean case to review (the conversation signal weighs more
    # since the shipped calibration was refit): answer the review, if any, so the run finishes.
    run = run_in_background(lambda: fraud_check(second))

    def settled() -> bool:
        run.check()
        row = check_row(second)
        paused = row is not None and row.status == CheckStatus.AWAITING_REVIEW
        return (not run.thread.is_alive()) or (paused and flow_run_state(row.flow_run_id) == "PAUSED")  # type: ignore[union-attr]

    wait_for(settled, timeout=180, what="the second check to decide or pause")
    if run.thread.is_alive():
        asyncio.run(submit_review(*review_input(second, "not fraud", "Kim", "gift cards checked with the customer")))
    run.join(180)

    version = {t.name: t.version for t in load_templates().templates}["gift-card-swap"]
    before, after = decisions(first)[0], decisions(second)[0]
    assert "gift-card-swap" not in {t["name"] for t in before.templates}
    assert {(t["name"], t["version"]) for t in after.templates} >= {("gift-card-swap", version)}
    conversation = {s["name"]: s for s in after.evidence}["conversation"]
    assert conversation["rule_score"] >= 0.8 and f"template:gift-card-swap@{version}" in str(conversation["evidence"])


def test_a_failed_signal_shows_as_failed_and_forbids_a_clear(
    prefect_server, market_db, template_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from flows.fraud_check import fraud_check
    from tasks.fraud import signals as registry

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("payments replica unreachable")

    case = cases_by_decision()["clear"][0]
    monkeypatch.setitem(registry.SIGNALS, "payment", registry.SignalSpec("payment", broken, registry.payment))
    bg = run_in_background(lambda: fraud_check(case))

    def paused() -> bool:
        bg.check()
        row = check_row(case)
        return row is not None and row.status == CheckStatus.AWAITING_REVIEW

    wait_for(paused, timeout=60, what="the case with a failed signal to pause")
    markdown = artifacts_markdown(check_row(case).flow_run_id)  # type: ignore[union-attr, arg-type]
    assert "| payment | **FAILED** |" in markdown and "payments replica unreachable" in markdown
    [auto] = decisions(case)
    assert auto.action == "review", "a case with a failed signal is never cleared (rule 1; offline proposes it too)"
    assert {s["name"]: s["status"] for s in auto.evidence}["payment"] == "failed"
    asyncio.run(submit_review(*review_input(case, "not fraud", "Dana", "payment data checked by hand")))
    assert bg.join(60).outcome == "not_fraud"
