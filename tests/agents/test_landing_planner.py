"""The landing planner against the workspace: its file configures it, its knowledge grounds and bounds it.

The planner runs here outside a flow (no Prefect server needed) on pydantic-ai `FunctionModel`s
that answer like the offline model and then break one rule, so what is checked is the validator's
answer to the model, not the offline composer's good manners.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

import agents.catalog  # noqa: F401  (fills the offline composers the fake models start from)
from agentflows.workspace import Snapshot, shipped_snapshot
from agents import offline
from agents.landing import planner
from agents.landing.plan import CrmMatch, PlannerInput, Visitor, check_plan
from agents.outreach.brief import WebFindings
from agents.prompting import render_prompt
from agents.workspace import Workspace, load_workspace
from tasks.generation import GenerationError, run_agent

VISITOR = Visitor(
    company="Byrne Freight",
    role="Head of Operations",
    email="ops@byrnefreight.example",
    website="https://byrnefreight.example/",
    goals="See late shipments the same day instead of at month end.",
)
CRM = CrmMatch(
    account_id=7, name="Byrne Freight", domain="byrnefreight.example", industry="Logistics", employees=300,
    region="EMEA", is_customer=False,
)  # fmt: skip


def shipped() -> Workspace:
    return load_workspace(shipped_snapshot())


def planner_data(workspace: Workspace, visitor: Visitor = VISITOR) -> PlannerInput:
    web = WebFindings(url=visitor.website, available=False, error="timed out")
    return planner.planner_input(visitor, web, CRM, workspace.knowledge)


def run_planner(workspace: Workspace, respond: Any, data: PlannerInput | None = None) -> Any:
    """Run the planner as the workspace configures it, on a FunctionModel; returns the plan."""
    data = data or planner_data(workspace)
    agent = planner.planner(workspace.agent(planner.NAME), FunctionModel(respond, model_name="probe"))
    prompt = render_prompt("Write the marketing plan.", planner.NAME, "planner-input", data)
    return asyncio.run(run_agent(agent, prompt, deps=workspace.knowledge))


def offline_answer(messages: list[ModelMessage]) -> dict[str, Any]:
    return offline.compose(offline.latest_user_prompt(messages))


def retries_sent(messages: list[ModelMessage]) -> list[str]:
    """What the validator told the model to fix, as the model received it."""
    return [
        p.model_response_str()
        for m in messages
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart) and p.outcome == "retried"
    ]


def test_the_planner_is_told_what_its_workspace_file_says():
    snapshot = shipped_snapshot()
    path = "agents/landing-planner.yaml"
    edited = snapshot.files[path].replace("You are a B2B marketing strategist.", "You plan for ACME-TEST visitors.")
    workspace = load_workspace(Snapshot({**snapshot.files, path: edited}))
    seen: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(info.instructions or "")
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, offline_answer(messages))])

    run_planner(workspace, respond)
    assert "You plan for ACME-TEST visitors." in seen[0] and "B2B marketing strategist" not in seen[0]


def test_built_planners_are_cached_per_file_version():
    path = "agents/landing-planner.yaml"
    snapshot = shipped_snapshot()
    edited = load_workspace(Snapshot({**snapshot.files, path: snapshot.files[path] + "  Be brief.\n"}))

    async def build() -> tuple[object, object, object]:
        same = planner.planner(shipped().agent(planner.NAME), "offline")
        again = planner.planner(load_workspace(shipped_snapshot()).agent(planner.NAME), "offline")
        other = planner.planner(edited.agent(planner.NAME), "offline")
        return same, again, other

    same, again, other = asyncio.run(build())
    assert same is again, "the same file (an equal AgentFile) reuses the built agent"
    assert other is not same, "another version of the file builds another agent"


def test_the_planner_gets_the_knowledge_that_fits_the_visitor():
    data = planner_data(shipped())
    assert data.seller_company == shipped().knowledge.company and data.offer == shipped().knowledge.offer
    sources = [k.source for k in data.knowledge]
    assert sources[0] == "kb:case-studies#logistics-operator-sees-late-shipments-sooner", sources
    assert len(sources) <= planner.KNOWLEDGE_SECTIONS
    assert "guaranteed ROI" in data.never_claim, "the model is told what it must never claim"
    plan = planner.compose_offline(data.model_dump(mode="json"))
    case = next(f for f in plan.facts if f.source == sources[0])
    idea = next(c for c in plan.channel_ideas if c.channel == "Case study")
    assert case.id in idea.facts_used and "Logistics operator sees late shipments sooner" in idea.idea
    assert check_plan(plan, shipped().knowledge) == []


def test_a_never_claim_phrase_is_refused_back_to_the_model_with_the_reason():
    calls: list[list[ModelMessage]] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(list(messages))
        output = offline_answer(messages)
        if len(calls) == 1:  # first answer: one claim we must never make
            output["positioning"] += " Northwind comes with guaranteed ROI in the first quarter."
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, output)])

    plan = run_planner(shipped(), respond)
    assert len(calls) == 2, "refused once, then accepted"
    reasons = retries_sent(calls[1])
    assert reasons and "'guaranteed ROI'" in reasons[0] and "a claim we must never make" in reasons[0]
    assert "guaranteed roi" not in plan.model_dump_json().lower()


def test_a_plan_that_keeps_the_claim_fails_with_the_reason():
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        output = offline_answer(messages)
        output["channel_ideas"][1]["rationale"] = "A risk-free pilot: nothing to lose for their team."
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, output)])

    with pytest.raises(GenerationError, match=r"landing-planner.*'risk-free', a claim we must never make"):
        run_planner(shipped(), respond)


def test_an_invented_knowledge_citation_is_refused():
    calls: list[list[ModelMessage]] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(list(messages))
        output = offline_answer(messages)
        if len(calls) == 1:
            n = len(output["facts"]) + 1
            output["facts"].append({"id": f"F{n}", "text": "We doubled Acme's revenue.", "source": "kb:wins#acme"})
            output["channel_ideas"][0]["facts_used"].append(f"F{n}")
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, output)])

    run_planner(shipped(), respond)
    reasons = retries_sent(calls[1])
    assert reasons and "kb:wins#acme, which is not a section of our knowledge" in reasons[0]


def test_the_visitors_own_words_are_quoted_not_claimed():
    """A visitor asking for a "risk-free pilot" is quoted in the facts; the offline plan does not echo it."""
    visitor = VISITOR.model_copy(update={"goals": "A risk-free pilot with guaranteed ROI. Fewer late shipments."})
    data = planner_data(shipped(), visitor)
    plan = planner.compose_offline(data.model_dump(mode="json"))
    assert any("risk-free pilot" in f.text and f.source == "form" for f in plan.facts)
    assert check_plan(plan, shipped().knowledge) == []
