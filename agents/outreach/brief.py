"""Typed inputs and outputs shared by the outreach agents.

A brief is a list of numbered facts, each with its source (`crm:activity:12`, `web:https://...`);
writers cite facts by id, so every claim in an email can be traced back to a row or a page.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

WRITER_PATTERN = r"^[a-z0-9][a-z0-9-]{1,60}$"
"""A writer type is the name of a `writers/<type>.md` file in the workspace, not a fixed list."""


class HistoryItem(BaseModel):
    """One CRM activity or deal as the researcher sees it; our own outreach is `PriorOutreach`, not history."""

    ref: str = Field(description="Source reference, e.g. crm:activity:12 or crm:deal:4")
    when: datetime
    kind: str
    subject: str = ""
    text: str = ""


class WebFindings(BaseModel):
    """What the company's website said, or why it could not be read."""

    url: str
    available: bool
    text: str = ""
    error: str | None = None


class ProspectProfile(BaseModel):
    contact_id: int
    name: str
    role: str
    seniority: str
    department: str
    account_id: int
    company: str
    domain: str
    industry: str
    employees: int
    region: str
    is_customer: bool = Field(description="True when the account has at least one won deal")
    products_owned: list[str] = Field(default_factory=list)


class PriorOutreach(BaseModel):
    """One earlier outreach to someone at this account, as the CRM recorded it (account memory)."""

    ref: str = Field(description="crm:activity:<id>")
    when: datetime
    contact: str
    outcome: str = Field(description="sent, rejected or timed out")
    angles: list[str] = Field(description="The angle sent, or the angles rejected")
    subject: str = ""
    note: str = Field(default="", description="The reviewer's note (why rejected, what changed)")


class KnowledgeFact(BaseModel):
    """One section of the seller's knowledge (`knowledge/*.md`): ours to cite, not a fact about the prospect."""

    source: str = Field(description="kb:<file>#<section>")
    title: str
    text: str


class ResearchInput(BaseModel):
    """Everything the researcher may use: the CRM profile, history, website text and prior outreach."""

    prospect: ProspectProfile
    history: list[HistoryItem]
    web: WebFindings
    prior_outreach: list[PriorOutreach] = Field(default_factory=list)
    knowledge: list[KnowledgeFact] = Field(
        default_factory=list, description="The seller's own facts relevant to this prospect, each citable by its source"
    )


class Fact(BaseModel):
    id: str = Field(description="Short id such as F1, F2 ... unique within the brief", pattern=r"^F\d+$")
    text: str = Field(description="One sentence stating the fact", min_length=3)
    source: str = Field(description="Where it comes from: crm:<table>:<id>, web:<url>, kb:<file>#<section> or profile")


class ProspectBrief(BaseModel):
    """The researcher's output: who the prospect is and what we know, each fact with its source."""

    summary: str = Field(description="Two or three sentences on the prospect and the opportunity")
    facts: list[Fact] = Field(min_length=1, description="Numbered facts, each with its source")
    pains: list[str] = Field(default_factory=list, description="Likely problems worth addressing")
    web_source: str = Field(description="'used: <url>' or 'unavailable: <reason>'")
    prior_outreach: list[str] = Field(
        default_factory=list,
        description="One line per earlier outreach to this account: date, who, outcome, angle, reviewer's note",
    )


class Route(BaseModel):
    """The router's choice of writer for this prospect."""

    writer: str = Field(pattern=WRITER_PATTERN, description="One of the active writer types")
    reason: str = Field(description="One sentence citing the facts that decided it")


class StyleExample(BaseModel):
    """A reviewer's earlier verdict on this writer's drafts: an edited approval, or a rejection with a note."""

    kind: str = Field(description="'edited' (draft -> what the reviewer sent) or 'rejected' (with the reason)")
    ref: str = Field(description="crm:activity:<id>")
    reviewer: str = ""
    drafted_subject: str = ""
    drafted_body: str = ""
    final_subject: str = ""
    final_body: str = ""
    note: str = ""


class AngleIdea(BaseModel):
    """One angle from the writer's file: a suggestion for a real model, the library of the offline one."""

    angle: str
    subject: str
    opening: str


class WriterInput(BaseModel):
    """What a writer sees: the prospect, the brief, who we are, and angles to leave alone."""

    prospect: ProspectProfile
    brief: ProspectBrief
    writer: str = Field(pattern=WRITER_PATTERN)
    seller_company: str
    offer: str
    sender_name: str
    angles: list[AngleIdea] = Field(default_factory=list, description="Angles this writer type is known for")
    never_claim: list[str] = Field(default_factory=list, description="Claims we must never make, in any wording")
    avoid_angles: list[str] = Field(default_factory=list, description="Angles already used on this account")
    style_examples: list[StyleExample] = Field(
        default_factory=list, description="Reviewers' edits to follow and rejections to learn from"
    )


class EmailVariant(BaseModel):
    subject: str = Field(min_length=3, max_length=150)
    body: str = Field(min_length=40, max_length=4000)
    angle: str = Field(min_length=3, max_length=80, description="The variant's angle in a few words")
    facts_used: list[str] = Field(min_length=1, description="Ids of the brief's facts this email relies on")


class EmailDrafts(BaseModel):
    """Exactly three variations, each with a different angle."""

    variants: list[EmailVariant] = Field(min_length=3, max_length=3)
