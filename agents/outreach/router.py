"""Router: the writer for a prospect, by the workspace's rules first and the router model only where they cannot decide.

`agents.workspace.routing.rule_route` picks the highest-priority writer whose `route_when` matches;
this agent is asked only when no rule matches or two match at the same priority, with those
candidates (and every writer's description) in its data, and its answer must be one of them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents.durable import durable_agent, per_event_loop
from agents.outreach.brief import ProspectBrief, ProspectProfile, Route
from agents.workspace.agent_files import AgentFile

NAME = "outreach-router"
ROLE = "router"


class WriterChoice(BaseModel):
    name: str
    description: str


class RouteInput(BaseModel):
    prospect: ProspectProfile
    brief: ProspectBrief
    writers: list[WriterChoice] = Field(description="Every active writer type, with what it is for")
    candidates: list[str] = Field(
        default_factory=list, description="The writers the rules could not decide between; empty: any of `writers`"
    )


def allowed(data: RouteInput) -> list[str]:
    return data.candidates or [w.name for w in data.writers]


def compose_offline(payload: dict[str, Any]) -> Route:
    """Offline, an undecided route goes to the first candidate in name order, and says so."""
    data = RouteInput.model_validate(payload)
    options = sorted(allowed(data))
    return Route(writer=options[0], reason=f"no routing rule decided; offline default: the first of {options}")


def build_router(file: AgentFile, model: Model | str) -> Agent[tuple[str, ...], Route]:
    """The router as the workspace file describes it; its answer must be an allowed writer (the deps)."""
    agent: Agent[tuple[str, ...], Route] = durable_agent(
        name=NAME,
        model=model,
        output_type=Route,
        instructions=file.instructions,
        deps_type=tuple,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _active_writer(ctx: RunContext[tuple[str, ...]], route: Route) -> Route:
        if route.writer not in ctx.deps:
            raise ModelRetry(f"{route.writer!r} is not one of the writers to choose from: {sorted(ctx.deps)}")
        return route

    return agent


@per_event_loop
def router(file: AgentFile, model_spec: str) -> Agent[tuple[str, ...], Route]:
    """One agent per event loop, file and model (`configured_model(ROLE, file.model)` gives the spec)."""
    return build_router(file, model_spec)
