"""The forms a person fills in to resume a paused run; the Prefect UI renders them, the CLI fills them.

They live in core, not in the flows that pause with them, because the code that answers a pause
from the command line (`agentflows.approvals`, `tasks.fraud.review`) validates its answer against
the same model first, and neither core nor tasks may import a flow. Keep the field types simple:
the UI renders only what the JSON schema describes, and model validators run only after resume.

A form holds only what the person decides. What ties an answer to the drafts (or verdict) shown is
the pause key, `<kind>-<digest>-<attempt>` (`pause_key`): Prefect stores the answer under a keyset
named after it, so an answer given to one pause is never read by another, and the command line
compares the digest in the key the run waits on with the database's before it answers
(`agentflows.approvals.resume_paused_run`). Nobody can edit it, unlike a form field.
"""

from __future__ import annotations

import re
from typing import Literal

from prefect.input import RunInput
from pydantic import Field

APPROVAL_CHOICES = ("send variant 1", "send variant 2", "send variant 3", "reject")
APPROVAL_PAUSE = "approval"
FRAUD_REVIEW_PAUSE = "fraud-review"


def pause_key(kind: str, digest: str, attempt: int) -> str:
    """The key a run pauses with to ask about what `digest` names (`approval-3f2a9c01be77d0aa-1`)."""
    return f"{kind}-{digest}-{attempt}"


def digest_in_pause_key(kind: str, key: str | None) -> str | None:
    """The digest in a pause key of this kind, or None for any other key (another kind, an older format)."""
    match = re.fullmatch(rf"{re.escape(kind)}-([0-9a-f]+)-\d+", key or "")
    return match.group(1) if match else None


class OutreachApproval(RunInput):
    """Approve one of the three drafts (optionally edited) or reject them all.

    `decision` comes first and has no default, so the form shows it first and required; pass no
    initial value for it (`with_initial_data` turns one into a default and the field into "Optional").
    """

    decision: Literal["send variant 1", "send variant 2", "send variant 3", "reject"] = Field(
        description="Which draft to send, or reject all three"
    )
    reviewer: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    subject: str = Field(
        default="", max_length=150, pattern=r"^[^\r\n]*$", description="Optional: replace the chosen draft's subject"
    )
    body: str = Field(default="", max_length=4000, description="Optional: replace the chosen draft's body")
    note: str = Field(default="", max_length=2000, description="Optional note (why you rejected, what you changed)")


class FraudReview(RunInput):
    """The analyst's decision on a case the fraud check could not clear."""

    outcome: Literal["confirm fraud", "not fraud", "escalate"] = Field(
        description="confirm fraud: deny the claim; not fraud: pay it; escalate: hand to a senior investigator"
    )
    analyst: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    note: str = Field(default="", max_length=2000, description="Optional: why, what you checked")


class WorkspaceApproval(RunInput):
    """Approve a proposed workspace change (it goes live for new runs) or reject it (nothing changes)."""

    decision: Literal["approve", "reject"] = Field(
        description="approve: new runs use the proposal; reject: nothing changes"
    )
    reviewer: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Your name (required)")
    note: str = Field(default="", max_length=2000, description="Optional: why (required reading for a rejection)")
