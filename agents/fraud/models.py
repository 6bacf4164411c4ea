"""Typed inputs and outputs of the fraud-check agents.

Each signal has a facts model, computed set-wise from SQL by `tasks.fraud` and handed to its
agent inside the data section. Every fact that can be cited has a row reference (`order:12`,
`address:55`, `template:empty-box@3f2a9c01be77`); agents may cite only references present in
their facts, so every line of evidence traces back to a row or a template version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SignalName = Literal["address", "return_distance", "customer", "tracking", "payment", "conversation"]
SIGNAL_NAMES: tuple[SignalName, ...] = ("address", "return_distance", "customer", "tracking", "payment", "conversation")
Decision = Literal["clear", "review", "block"]
ClaimKind = Literal["not_received", "arrived_broken", "refund_request"]


class ClaimSummary(BaseModel):
    """The case as every agent sees it. `message` is the customer's own words: untrusted data."""

    claim_id: int
    order_id: int
    customer_id: int
    kind: ClaimKind
    message: str
    amount_claimed: float
    order_amount: float
    opened_at: datetime


class Evidence(BaseModel):
    ref: str = Field(description="Row reference from the facts, e.g. order:12, address:55, template:name@version")
    detail: str = Field(min_length=3, max_length=300, description="What this row shows, in one sentence")


class SignalReport(BaseModel):
    """A signal agent's answer: how suspicious this one aspect of the case is, and why."""

    score: float = Field(ge=0, le=1, description="0 = nothing suspicious, 1 = certainly fraudulent on this signal")
    evidence: list[Evidence] = Field(default_factory=list, description="The rows behind the score (cite refs)")
    summary: str = Field(min_length=3, max_length=300, description="One line for the analyst")


class Signal(BaseModel):
    """One signal's result in a case: the agent's report beside the deterministic rule score.

    A signal that could not be computed or interpreted has status `failed` and an error; it never
    silently counts as harmless (a case with a failed signal is never cleared automatically).
    """

    name: SignalName
    status: Literal["ok", "failed"] = "ok"
    score: float = Field(ge=0, le=1, description="The agent's score (equal to rule_score offline)")
    rule_score: float = Field(ge=0, le=1, description="Deterministic score computed from the facts")
    evidence: list[Evidence] = Field(default_factory=list)
    summary: str
    error: str | None = None


# --- facts, one model per signal -------------------------------------------------------------------


SAME_DOOR_SIMILARITY = 85.0
"""Fuzzy similarity (0..100) from which a known-fraud address with the same house/flat numbers is the same door."""


class AddressFacts(BaseModel):
    claim_id: int
    order_id: int
    customer_id: int
    delivery_address_id: int
    delivery_address: str
    fraud_match_id: int | None = Field(description="Closest known-fraud address (known_fraud_addresses.id)")
    fraud_match_address: str | None = None
    fraud_match_similarity: float = Field(description="Fuzzy similarity 0..100 of the normalised addresses")
    fraud_match_same_number: bool = Field(description="The house/flat numbers of both addresses are identical")
    customers_at_address: int = Field(description="Distinct customers who had orders delivered to this address")
    unrelated_customers: int = Field(description="Of those, how many have another surname than the claimant")
    other_customer_ids: list[int] = Field(default_factory=list, description="Up to 10 of the other customers")

    @property
    def on_fraud_list(self) -> bool:
        """The delivery address is a known fraud address: same door (similar enough, same numbers)."""
        return (
            self.fraud_match_id is not None
            and self.fraud_match_similarity >= SAME_DOOR_SIMILARITY
            and self.fraud_match_same_number
        )

    def refs(self) -> set[str]:
        refs = {f"claim:{self.claim_id}", f"order:{self.order_id}", f"address:{self.delivery_address_id}"}
        refs |= {f"customer:{c}" for c in [self.customer_id, *self.other_customer_ids]}
        if self.fraud_match_id is not None:
            refs.add(f"fraud_address:{self.fraud_match_id}")
        return refs


class ReturnFacts(BaseModel):
    claim_id: int
    order_id: int
    customer_id: int
    return_id: int | None = Field(description="The return shipment of the claimed order, if any")
    delivery_address_id: int
    delivery_city: str
    return_address_id: int | None = None
    return_city: str | None = None
    distance_km: float | None = Field(description="Great-circle distance delivery -> return location")
    nearest_own_address_id: int | None = None
    nearest_own_address_km: float | None = Field(
        description="Distance from the return location to the closest address the customer used before the claim"
    )
    prior_returns: int = Field(description="The customer's earlier returns")
    prior_median_distance_km: float | None = Field(description="Median delivery -> return distance of those")

    def refs(self) -> set[str]:
        refs = {f"claim:{self.claim_id}", f"order:{self.order_id}", f"address:{self.delivery_address_id}"}
        refs |= {f"customer:{self.customer_id}"}
        for prefix, value in (
            ("return", self.return_id),
            ("address", self.return_address_id),
            ("address", self.nearest_own_address_id),
        ):
            if value is not None:
                refs.add(f"{prefix}:{value}")
        return refs


VELOCITY_DAYS = 7
"""The window of the velocity facts: orders and value within this many days of the claimed order."""


class CustomerFacts(BaseModel):
    claim_id: int
    customer_id: int
    order_id: int
    account_age_days: float = Field(description="Days between signup and the claim")
    orders_before: int = Field(description="Orders placed before the claim")
    lifetime_gmv: float
    order_amount: float
    avg_order_amount: float | None = Field(description="Mean amount of the customer's other orders")
    prior_claims: int = Field(description="Claims the customer opened before this one")
    prior_claims_365d: int
    prior_claims_weighted: float = Field(
        default=0.0,
        description="Earlier claims weighted by recency (half-life 180 days), those on carrier-scanned losses left out",
    )
    prior_disputed_deliveries_weighted: float = Field(
        default=0.0,
        description=(
            "Of those, the 'not received' claims on parcels the carrier scanned delivered, weighted the same way"
        ),
    )
    account_age_at_order_days: float = Field(default=0.0, description="Days between signup and the claimed order")
    orders_recent: int = Field(
        default=1, description="The account's orders within VELOCITY_DAYS of the claimed one (it included)"
    )
    value_recent: float = Field(default=0.0, description="Their total value")
    card_orders_recent: int = Field(
        default=1,
        description=(
            "Orders on the same card within VELOCITY_DAYS, on any account when the card's processor token is known "
            "(card_known), else the account's orders on a card of the same country"
        ),
    )
    card_value_recent: float = Field(default=0.0, description="Their total value")
    card_accounts_recent: int = Field(default=1, description="Accounts that used the same card in that window")
    card_known: bool = Field(default=False, description="The order carries the processor's card token (card_ref)")
    prior_claim_ids: list[int] = Field(default_factory=list, description="Up to 10 of those claims")
    payment_incidents_365d: int

    def refs(self) -> set[str]:
        refs = {f"claim:{self.claim_id}", f"customer:{self.customer_id}", f"order:{self.order_id}"}
        return refs | {f"claim:{c}" for c in self.prior_claim_ids}


class TrackingEvent(BaseModel):
    id: int
    kind: str
    at: datetime
    location: str = ""


class TrackingFacts(BaseModel):
    claim_id: int
    order_id: int
    customer_id: int
    claim_kind: ClaimKind
    carrier: str
    events: list[TrackingEvent] = Field(default_factory=list, description="This order's scans, oldest first")
    delivered_at: datetime | None = None
    delivered_then_claimed: bool = Field(description="A delivered scan exists and the claim says not received")
    days_delivered_to_claim: float | None = None
    lost_scans_this_order: int
    exceptions_this_order: int
    customer_lost_orders_before: int = Field(description="The customer's earlier orders with a 'lost' scan")
    customer_delivered_inr_claims_before: int = Field(
        description="Earlier not-received claims by the customer on orders scanned as delivered"
    )

    def refs(self) -> set[str]:
        refs = {f"claim:{self.claim_id}", f"order:{self.order_id}", f"customer:{self.customer_id}"}
        return refs | {f"shipment_event:{e.id}" for e in self.events}


class PaymentIncidentRef(BaseModel):
    id: int
    kind: str
    at: datetime
    card_country: str = ""


class PaymentFacts(BaseModel):
    claim_id: int
    customer_id: int
    order_id: int
    customer_country: str
    order_card_country: str
    delivery_country: str
    card_mismatch: bool = Field(description="The order's card country differs from the delivery country")
    chargebacks_365d: int
    declines_7d: int = Field(description="Declined payments in the 7 days before the order (card testing)")
    declines_30d: int = Field(description="Declined payments in the 30 days before the order")
    card_mismatches_365d: int
    incidents: list[PaymentIncidentRef] = Field(default_factory=list, description="Up to 10 recent incidents")

    def refs(self) -> set[str]:
        refs = {f"claim:{self.claim_id}", f"customer:{self.customer_id}", f"order:{self.order_id}"}
        return refs | {f"payment_incident:{i.id}" for i in self.incidents}


class TemplateMatch(BaseModel):
    name: str
    version: str
    tactic: str
    similarity: float = Field(description="Cosine similarity 0..1 of the message to the closest example")
    closest_example: str

    @property
    def ref(self) -> str:
        return f"template:{self.name}@{self.version}"


class ConversationFacts(BaseModel):
    claim_id: int
    claim_kind: ClaimKind
    message: str
    matches: list[TemplateMatch] = Field(default_factory=list, description="The closest templates, best first")
    templates_in_use: int
    template_problems: list[str] = Field(default_factory=list, description="Template files skipped this run")

    @property
    def best_similarity(self) -> float:
        return self.matches[0].similarity if self.matches else 0.0

    def refs(self) -> set[str]:
        return {f"claim:{self.claim_id}"} | {m.ref for m in self.matches}


Facts = AddressFacts | ReturnFacts | CustomerFacts | TrackingFacts | PaymentFacts | ConversationFacts


class SignalInput(BaseModel):
    """What a signal agent reads: the case, its facts and the deterministic rule's reading of them."""

    claim: ClaimSummary
    facts: dict[str, object]
    rule_score: float
    rule_summary: str


# --- the orchestrator ----------------------------------------------------------------------------


class Verdict(BaseModel):
    """The orchestrator's proposal, before the hard rules bound it."""

    risk_score: float = Field(ge=0, le=1, description="Overall probability that the claim is fraudulent")
    decision: Decision = Field(description="clear (pay out), review (an analyst decides) or block (deny)")
    rationale: str = Field(min_length=10, max_length=2000, description="Why, citing evidence refs in brackets")
    evidence_refs: list[str] = Field(default_factory=list, description="The evidence refs the rationale relies on")


class OrchestratorInput(BaseModel):
    claim: ClaimSummary
    signals: list[Signal]
    deterministic_risk: float
    review_threshold: float
    block_threshold: float
    strong_signal: float = Field(description="A signal counts as strong at or above this rule score")
    block_min_strong: int = Field(description="Strong signals needed before a block is allowed")


class CaseVerdict(BaseModel):
    """What the flow applies: the decision after hard rules, with the model's proposal kept beside it."""

    claim_id: int
    decision: Decision
    deterministic_risk: float
    proposal: Verdict
    model: str
    rule: str = Field(description="Which hard rule changed the proposal, or 'model proposal kept'")
    signals: list[Signal]
    templates: list[TemplateMatch] = Field(default_factory=list, description="Template versions matched")
    workspace_version: str = Field(default="", description="The workspace snapshot the check ran with")
    rules_version: str = Field(default="", description="The version of its fraud/rules.yaml")
    digest: str
