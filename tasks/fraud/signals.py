"""The six signals in one table: how each one's facts are computed and which agent interprets them.

`compute_facts` opens one connection and runs one signal's set-wise computation for a batch;
`assess_batch` turns facts into deterministic `Signal`s without any model (the evaluation, the
benchmark and the sweep's pre-scoring use it). The per-claim flow computes the same facts for
one claim and hands them to the signal's agent instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from agentflows.fraud_templates import TemplateSet
from agents.fraud import address, conversation, customer, payment, return_distance, tracking
from agents.fraud.models import SIGNAL_NAMES, Signal, SignalName
from tasks.fraud.address import compute_address
from tasks.fraud.common import engine
from tasks.fraud.conversation import compute_conversation
from tasks.fraud.customer import compute_customer
from tasks.fraud.payment import compute_payment
from tasks.fraud.returns import compute_return_distance
from tasks.fraud.tracking import compute_tracking


@dataclass(frozen=True)
class SignalSpec:
    name: SignalName
    compute: Callable[..., dict[int, Any]]
    agent_module: ModuleType  # NAME, FACTS, assess(), agent(file, model); instructions in agents/<NAME>.yaml


SIGNALS: dict[SignalName, SignalSpec] = {
    "address": SignalSpec("address", compute_address, address),
    "return_distance": SignalSpec("return_distance", compute_return_distance, return_distance),
    "customer": SignalSpec("customer", compute_customer, customer),
    "tracking": SignalSpec("tracking", compute_tracking, tracking),
    "payment": SignalSpec("payment", compute_payment, payment),
    "conversation": SignalSpec("conversation", compute_conversation, conversation),
}
assert tuple(SIGNALS) == SIGNAL_NAMES


def compute_facts(
    name: SignalName, claim_ids: Sequence[int], templates: TemplateSet | None = None, conn: Connection | None = None
) -> dict[int, BaseModel]:
    """One signal's facts for a batch of claims (a fixed number of queries, whatever the batch size)."""
    spec = SIGNALS[name]
    extra = {"templates": templates} if name == "conversation" else {}
    if conn is not None:
        return spec.compute(claim_ids, conn, **extra)
    with engine().connect() as own:
        return spec.compute(claim_ids, own, **extra)


def rule_signal(name: SignalName, facts: BaseModel) -> Signal:
    """The deterministic `Signal` for one claim's facts: the rule's score, evidence and summary."""
    report = SIGNALS[name].agent_module.assess(facts)
    return Signal(
        name=name, score=report.score, rule_score=report.score, evidence=report.evidence, summary=report.summary
    )


def facts_batch(
    claim_ids: Sequence[int], templates: TemplateSet | None = None, conn: Connection | None = None
) -> dict[SignalName, dict[int, BaseModel]]:
    """All six signals' facts for a batch (six set-wise computations): signal -> claim -> facts."""
    return {name: compute_facts(name, claim_ids, templates, conn) for name in SIGNAL_NAMES}


def signals_from_facts(
    claim_ids: Sequence[int], facts: dict[SignalName, dict[int, BaseModel]]
) -> dict[int, dict[SignalName, Signal]]:
    """The deterministic signals of a batch; a claim missing from a signal's facts gets it as `failed`."""
    by_claim: dict[int, dict[SignalName, Signal]] = {cid: {} for cid in claim_ids}
    for name in SIGNAL_NAMES:
        for cid in claim_ids:
            if cid in facts[name]:
                by_claim[cid][name] = rule_signal(name, facts[name][cid])
            else:
                by_claim[cid][name] = Signal(
                    name=name,
                    status="failed",
                    score=0,
                    rule_score=0,
                    summary="no facts",
                    error="claim not found by this signal's query",
                )
    return by_claim


def assess_batch(
    claim_ids: Sequence[int], templates: TemplateSet | None = None, conn: Connection | None = None
) -> dict[int, dict[SignalName, Signal]]:
    """All six deterministic signals for a batch: six set-wise computations, no model calls.

    A claim missing from a signal's facts (it vanished mid-batch) gets that signal as `failed`.
    """
    return signals_from_facts(claim_ids, facts_batch(claim_ids, templates, conn))
