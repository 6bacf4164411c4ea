"""Deterministic risk and the hard rules that bound what the orchestrator model may decide.

Deterministic risk is a logistic combination of the six rule scores, with weights and thresholds
fit on the training split only (`agentflows eval fraud --calibrate`, see `tasks.fraud.evaluation`)
and read from the workspace's `fraud/rules.yaml` (`agents.fraud.config`). The model proposes a
verdict; `bound` then applies the rules below and says which one changed the proposal:

1. A case with a failed signal is never cleared automatically (at least `review`).
2. A case whose deterministic risk is at or above the review threshold is never cleared
   (at least `review`), whatever the model says.
3. `block` needs deterministic risk at or above the block threshold AND at least
   `block_min_strong` signals scoring >= `strong_signal`; otherwise a proposed block becomes `review`.
   Blocking is never decided by the model alone, nor by a hard rule alone.
4. The fraud team's hard rules (`hard_rules:` in rules.yaml): when every condition of a rule
   holds, the decision is at least the rule's `at_least` (`review`, or `block` where rule 3 allows
   it, else `review`). A hard rule only ever makes a decision more severe; it can never clear.
5. A model may always be more careful: `review` on a low-risk case stands.

Hard rules test documented case fields (`CONDITIONS`), computed from the claim and its signals'
facts (`case_fields`), never free text or code: the condition language is a fixed table of named
comparisons, so a rules file can say what to be careful about but cannot run anything. A field
whose signal failed is unknown, and a condition on an unknown field does not hold (rule 1 already
keeps such a case from being cleared).

Pure functions of the signals, the case fields and a `Calibration`, no files or database: the
offline orchestrator (`agents.fraud.orchestrator`) proposes with `rule_decision`, and the tasks bound
every proposal with `bound`, so both sides apply the very same rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from agents.fraud.conversation import CLOSE
from agents.fraud.models import (
    SIGNAL_NAMES,
    AddressFacts,
    ClaimKind,
    ClaimSummary,
    ConversationFacts,
    CustomerFacts,
    Decision,
    PaymentFacts,
    ReturnFacts,
    Signal,
    SignalName,
    TrackingFacts,
)

_ORDER: dict[Decision, int] = {"clear": 0, "review": 1, "block": 2}
CONSEQUENCES: tuple[Decision, ...] = ("review", "block")
"""What a hard rule's `at_least` may say: never `clear` (a hard rule only adds caution)."""


# --- the case fields a hard rule may test ------------------------------------------------------------


@dataclass(frozen=True)
class CaseFields:
    """One case's documented fields, from the claim and its signals' facts (None: unknown, its signal failed)."""

    claim_kind: ClaimKind
    claim_amount: float
    order_amount: float
    address_on_fraud_list: bool | None = None
    address_unrelated_customers: int | None = None
    customer_account_age_days: float | None = None
    customer_prior_claims_365d: int | None = None
    payment_chargebacks_365d: int | None = None
    payment_card_country_mismatch: bool | None = None
    tracking_delivered_then_claimed: bool | None = None
    return_distance_km: float | None = None
    templates_matched: tuple[str, ...] | None = None


def case_fields(claim: ClaimSummary, facts: Mapping[SignalName, BaseModel] | None) -> CaseFields:
    """The hard-rule fields of one case; a signal missing from `facts` leaves its fields unknown."""
    facts = facts or {}
    address, customer, payment = facts.get("address"), facts.get("customer"), facts.get("payment")
    tracking, returned, conversation = facts.get("tracking"), facts.get("return_distance"), facts.get("conversation")
    fields: dict[str, Any] = {}
    if isinstance(address, AddressFacts):
        fields |= {
            "address_on_fraud_list": address.on_fraud_list,
            "address_unrelated_customers": address.unrelated_customers,
        }
    if isinstance(customer, CustomerFacts):
        fields |= {
            "customer_account_age_days": customer.account_age_days,
            "customer_prior_claims_365d": customer.prior_claims_365d,
        }
    if isinstance(payment, PaymentFacts):
        fields |= {
            "payment_chargebacks_365d": payment.chargebacks_365d,
            "payment_card_country_mismatch": payment.card_mismatch,
        }
    if isinstance(tracking, TrackingFacts):
        fields["tracking_delivered_then_claimed"] = tracking.delivered_then_claimed
    if isinstance(returned, ReturnFacts):
        fields["return_distance_km"] = returned.distance_km  # None: no return, so "over N km" does not hold
    if isinstance(conversation, ConversationFacts):
        fields["templates_matched"] = tuple(m.name for m in conversation.matches if m.similarity >= CLOSE)
    return CaseFields(
        claim_kind=claim.kind, claim_amount=claim.amount_claimed, order_amount=claim.order_amount, **fields
    )


ValueKind = Literal["bool", "amount", "count", "fraction", "claim_kinds", "templates", "signal_scores"]


@dataclass(frozen=True)
class ConditionSpec:
    """One condition a hard rule may use: its value's kind, the case field it reads, and what it means."""

    kind: ValueKind
    field: str
    means: str  # what `<condition>: <value>` holds for, in words (the README and `check` use it)


CONDITIONS: Mapping[str, ConditionSpec] = {
    "claim_kind": ConditionSpec(
        "claim_kinds", "claim_kind", "the claim is one of these kinds (not_received, arrived_broken, refund_request)"
    ),
    "claim_amount_over": ConditionSpec("amount", "claim_amount", "the amount claimed is above this"),
    "order_amount_over": ConditionSpec("amount", "order_amount", "the order's amount is above this"),
    "address_on_fraud_list": ConditionSpec(
        "bool",
        "address_on_fraud_list",
        "the delivery address is (true) or is not (false) the same door as a known fraud address",
    ),
    "address_unrelated_customers_at_least": ConditionSpec(
        "count", "address_unrelated_customers", "at least this many customers with another surname ship there"
    ),
    "customer_account_age_days_under": ConditionSpec(
        "amount", "customer_account_age_days", "the account is younger than this many days at the claim"
    ),
    "customer_prior_claims_365d_at_least": ConditionSpec(
        "count", "customer_prior_claims_365d", "the customer opened at least this many claims in the year before"
    ),
    "payment_chargebacks_365d_at_least": ConditionSpec(
        "count", "payment_chargebacks_365d", "at least this many chargebacks in the past year"
    ),
    "payment_card_country_mismatch": ConditionSpec(
        "bool", "payment_card_country_mismatch", "the card's country differs (true) or not (false) from the delivery"
    ),
    "tracking_delivered_then_claimed": ConditionSpec(
        "bool", "tracking_delivered_then_claimed", "scanned delivered, yet claimed as not received (true)"
    ),
    "return_distance_km_over": ConditionSpec(
        "amount", "return_distance_km", "the return was handed in more than this many km from the delivery"
    ),
    "message_matches_template": ConditionSpec(
        "templates",
        "templates_matched",
        f"the message closely follows one of these templates (similarity >= {CLOSE:.2f})",
    ),
    "signal_at_least": ConditionSpec(
        "signal_scores", "", "every listed signal's rule score is at least its value, e.g. {address: 0.8}"
    ),
    "risk_at_least": ConditionSpec("fraction", "", "the deterministic risk is at least this (0..1)"),
}
"""The condition language of hard rules: every key a rule's `when:` may use. All of a rule's conditions must hold."""


@dataclass(frozen=True)
class Condition:
    """One `<condition>: <value>` of a hard rule, already type-checked by the parser."""

    name: str
    value: bool | float | tuple[str, ...] | tuple[tuple[SignalName, float], ...]

    def holds(self, case: CaseFields, signals: Iterable[Signal], risk: float) -> bool:
        spec = CONDITIONS[self.name]
        if spec.kind == "signal_scores":
            scores = {s.name: s.rule_score for s in signals if s.status == "ok"}
            return all(name in scores and scores[name] >= float(v) for name, v in self.value)  # type: ignore[misc, union-attr]
        if spec.kind == "fraction":
            return risk >= float(self.value)  # type: ignore[arg-type]
        actual = getattr(case, spec.field)
        if actual is None:
            return False
        if spec.kind == "bool":
            return bool(actual) is self.value
        if spec.kind == "claim_kinds":
            return actual in self.value  # type: ignore[operator]
        if spec.kind == "templates":
            return any(name in actual for name in self.value)  # type: ignore[union-attr]
        if self.name.endswith("_under"):
            return float(actual) < float(self.value)  # type: ignore[arg-type]
        if self.name.endswith("_at_least"):
            return float(actual) >= float(self.value)  # type: ignore[arg-type]
        return float(actual) > float(self.value)  # type: ignore[arg-type]  (`_over`)

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            shown = str(self.value).lower()
        elif isinstance(self.value, tuple) and self.value and isinstance(self.value[0], tuple):
            shown = "{" + ", ".join(f"{n}: {v:g}" for n, v in self.value) + "}"  # type: ignore[misc, str-bytes-safe]
        elif isinstance(self.value, tuple):
            shown = "[" + ", ".join(map(str, self.value)) + "]"
        else:
            shown = f"{self.value:g}"
        return f"{self.name}: {shown}"


@dataclass(frozen=True)
class HardRule:
    """A fraud analyst's rule: when every condition holds, the decision is at least `at_least`."""

    name: str
    description: str
    when: tuple[Condition, ...]
    at_least: Decision
    line: int | None = field(default=None, compare=False)  # where it starts in rules.yaml, for messages

    def holds(self, case: CaseFields, signals: Iterable[Signal], risk: float) -> bool:
        signals = list(signals)
        return all(c.holds(case, signals, risk) for c in self.when)

    @property
    def conditions(self) -> str:
        return "; ".join(map(str, self.when))

    def explain(self) -> str:
        """How a decision names this rule (the `rule` column of the audit trail)."""
        return f"hard rule '{self.name}' ({self.conditions}): {self.description}"


# --- weights, thresholds and the rules ---------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """Risk weights and thresholds fit on the training split, and the hard rules (from `fraud/rules.yaml`)."""

    weights: dict[SignalName, float]
    bias: float
    review_threshold: float
    block_threshold: float
    strong_signal: float = 0.5
    block_min_strong: int = 3
    fit: dict[str, Any] = field(default_factory=dict)
    hard_rules: tuple[HardRule, ...] = ()

    def risk(self, scores: Mapping[SignalName, float]) -> float:
        """P(fraud) from the six rule scores (a missing or failed signal counts as 0 here)."""
        z = self.bias + sum(self.weights[name] * float(scores.get(name, 0.0)) for name in SIGNAL_NAMES)
        return round(1.0 / (1.0 + math.exp(-z)), 4)

    def to_json(self) -> str:
        """The fitted values in the `AGENTFLOWS_FRAUD_CALIBRATION_FILE` format (hard rules stay in the workspace)."""
        values = {k: v for k, v in asdict(self).items() if k != "hard_rules"}
        return json.dumps(values, indent=2, sort_keys=True) + "\n"


def deterministic_risk(signals: Iterable[Signal], calibration: Calibration) -> float:
    return calibration.risk({s.name: s.rule_score for s in signals if s.status == "ok"})


def floor_decision(risk: float, signals: list[Signal], calibration: Calibration) -> Decision:
    """The least severe decision rules 1 and 2 allow, before hearing the model."""
    if risk >= calibration.review_threshold or any(s.status == "failed" for s in signals):
        return "review"
    return "clear"


def may_block(risk: float, signals: list[Signal], calibration: Calibration) -> bool:
    strong = sum(1 for s in signals if s.status == "ok" and s.rule_score >= calibration.strong_signal)
    return risk >= calibration.block_threshold and strong >= calibration.block_min_strong


def _rule_3(risk: float, calibration: Calibration) -> str:
    return (
        f"rule 3: block needs risk >= {calibration.block_threshold:.2f} and {calibration.block_min_strong} "
        f"signals >= {calibration.strong_signal}; risk is {risk:.2f}"
    )


def bound(
    proposed: Decision,
    risk: float,
    signals: list[Signal],
    calibration: Calibration,
    case: CaseFields | None = None,
) -> tuple[Decision, str]:
    """The decision to apply and the rule that produced it (see the module docstring).

    `case` carries the fields the hard rules test; without it (a caller with no facts) no hard rule
    holds, and rules 1-3 still apply.
    """
    if proposed == "block" and not may_block(risk, signals, calibration):
        return "review", _rule_3(risk, calibration)
    floor: Decision = "clear"
    why = ""
    failed = [s.name for s in signals if s.status == "failed"]
    if failed:
        floor, why = "review", f"rule 1: signals failed ({', '.join(failed)}); a case is never cleared without them"
    elif risk >= calibration.review_threshold:
        floor, why = (
            "review",
            (
                f"rule 2: deterministic risk {risk:.2f} >= review threshold {calibration.review_threshold:.2f}; "
                "the model may not clear it"
            ),
        )
    for rule in calibration.hard_rules if case is not None else ():
        if _ORDER[rule.at_least] <= _ORDER[floor] or not rule.holds(case, signals, risk):  # type: ignore[arg-type]
            continue
        if rule.at_least == "block" and not may_block(risk, signals, calibration):
            if floor == "clear":
                floor, why = "review", f"{rule.explain()}; asks for block, but {_rule_3(risk, calibration)}"
            continue
        floor, why = rule.at_least, rule.explain()
    if _ORDER[floor] > _ORDER[proposed]:
        return floor, why
    return proposed, "model proposal kept"


def rule_decision(risk: float, signals: list[Signal], calibration: Calibration) -> Decision:
    """What rules 1-3 alone decide (the offline orchestrator's proposal; hard rules are applied by `bound`)."""
    if may_block(risk, signals, calibration):
        return "block"
    return floor_decision(risk, signals, calibration)


def more_severe(a: Decision, b: Decision) -> Decision:
    return a if _ORDER[a] >= _ORDER[b] else b
