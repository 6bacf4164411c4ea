"""What the sources send and what the receiver answers: API schemas, kept apart from the tables.

The request models ignore extra fields (senders add fields without asking us) and bound what they
accept; the answers are the same for every copy of a delivery, so a redelivery can compare them.
The landing page's body is `agents.landing.plan.Visitor`, the agent's own input model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.landing.plan import MarketingPlan

# What a sender may read about a run that did not complete: the kind of failure and what to do, never
# the exception text (it can carry URLs, paths, provider answers or parts of the prompt).
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
FAILURE_REASONS = {
    "FAILED": "the run failed before it finished; the failure is logged on the run in Prefect. Submit again later.",
    "CRASHED": "the process running it stopped before it finished; redeliver the webhook to run it again.",
    "CANCELLED": "the run was cancelled.",
}

PositiveId = Annotated[int, Field(strict=True, gt=0)]


class ProspectsSelected(BaseModel):
    """The CRM: a rep selected these contacts for outreach."""

    model_config = ConfigDict(extra="ignore")
    contact_ids: list[PositiveId] = Field(min_length=1, max_length=500)


class ClaimOpened(BaseModel):
    """The shop: a customer opened this claim."""

    model_config = ConfigDict(extra="ignore")
    claim_id: PositiveId


class Accepted(BaseModel):
    """The answer to an accepted delivery; a redelivery of the same id gets the same run and ticket.

    `started`: the run exists (id and UI link). `queued`: Prefect is busy; the run will be created
    in order from the durable queue, and `status_url` answers with its id once it is.
    """

    delivery_id: str
    source: str
    deployment: str
    status: Literal["started", "queued"]
    flow_run_id: str | None
    flow_run_url: str | None
    status_url: str
    plan_url: str | None = None
    run_state: str | None = Field(
        default=None, description="On the status URL, once the run failed, crashed or was cancelled: that state"
    )
    reason: str | None = Field(default=None, description="Why the run did not complete (never its exception text)")


class PlanAnswer(BaseModel):
    flow_run_id: str
    flow_run_url: str
    state: str
    plan: MarketingPlan | None = None
    reason: str | None = Field(
        default=None, description="Why there is no plan, once the run failed, crashed or was cancelled"
    )
    workspace_version: str | None = Field(
        default=None, description="The workspace snapshot (instructions, knowledge) that wrote the plan"
    )
