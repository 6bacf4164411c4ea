"""The forms a person fills in to resume a paused run; the Prefect UI renders them, the CLI fills them.

They live in core, not in the flows that pause with them, because the code that answers a pause
from the command line (`agentflows.approvals`, `tasks.fraud.review`) validates its answer against
the same model first, and neither core nor tasks may import a flow. Keep the field types simple:
the UI renders only what the JSON schema describes, and model validators run only after resume.
"""

from __future__ import annotations

from typing import Literal

from prefect.input import RunInput
from pydantic import Field

APPROVAL_CHOICES = ("send variant 1", "send variant 2", "send variant 3", "reject")


class OutreachApproval(RunInput):
    """Approve one of the three drafts (optionally edited) or reject them all."""

    decision: Literal["send variant 1", "send variant 2", "send variant 3", "reject"] = Field(
        description="Which draft to send, or reject all three"
    )
    reviewer: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    subject: str = Field(
        default="", max_length=150, pattern=r"^[^\r\n]*$", description="Optional: replace the chosen draft's subject"
    )
    body: str = Field(default="", max_length=4000, description="Optional: replace the chosen draft's body")
    note: str = Field(default="", max_length=2000, description="Optional note (why you rejected, what you changed)")
    drafts_digest: str = Field(description="Digest of the drafts you reviewed. Filled in for you; do not edit.")


class FraudReview(RunInput):
    """The analyst's decision on a case the fraud check could not clear."""

    outcome: Literal["confirm fraud", "not fraud", "escalate"] = Field(
        description="confirm fraud: deny the claim; not fraud: pay it; escalate: hand to a senior investigator"
    )
    analyst: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    note: str = Field(default="", max_length=2000, description="Optional: why, what you checked")
    verdict_digest: str = Field(description="Digest of the verdict you reviewed. Filled in for you; do not edit.")


class WorkspaceApproval(RunInput):
    """Approve a proposed workspace change (it goes live for new runs) or reject it (nothing changes)."""

    decision: Literal["approve", "reject"] = Field(
        description="approve: new runs use the proposal; reject: nothing changes"
    )
    reviewer: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    note: str = Field(default="", max_length=2000, description="Optional: why (required reading for a rejection)")
