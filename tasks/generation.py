"""Generation calls: render the data section, run the durable agent, return typed output.

These are plain coroutines called from flows, not tasks: `PrefectDurability` already makes each
model request inside them a Prefect task (`Model Request: ...`) of the calling flow run, with its
result persisted so a retried run does not pay for it twice.

Every agent runs through `run_agent`, so this module imports `agents.catalog`: that fills the
offline model's composers before any agent can ask it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic_ai import Agent, capture_run_messages
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.messages import ModelMessage, RetryPromptPart, ToolReturnPart

import agents.catalog  # noqa: F401  (fills the offline model's composers; see the module docstring)
from agentflows.settings import get_settings
from agents.outreach import researcher, router, writers
from agents.outreach.brief import EmailDrafts, ProspectBrief, ResearchInput, Route, WriterInput
from agents.prompting import render_prompt

OutputT = TypeVar("OutputT")


class GenerationError(RuntimeError):
    """A model could not produce valid output within its retry budget; nothing downstream ran."""


def _last_retry_reason(messages: list[ModelMessage]) -> str:
    """What the model was last told to fix: the reason a run gave up, in the validator's words.

    pydantic-ai 2.60+ sends an output tool's validation error back as the tool's return with outcome
    `retried`; a plain-text output's retry is still a `RetryPromptPart`.
    """
    for message in reversed(messages):
        for part in getattr(message, "parts", []):
            if isinstance(part, ToolReturnPart) and part.outcome == "retried":
                return part.model_response_str(wrap_if_error=False)
            if isinstance(part, RetryPromptPart):
                content = part.content
                return content if isinstance(content, str) else "; ".join(str(e.get("msg", e)) for e in content)
    return "no validation feedback recorded"


async def run_agent(agent: Agent[Any, OutputT], prompt: str, deps: Any = None) -> OutputT:
    """Run one agent, turning pydantic-ai's give-up into a message that says which agent and why."""
    with capture_run_messages() as messages:
        try:
            result = await agent.run(prompt, deps=deps)
        except UnexpectedModelBehavior as exc:
            raise GenerationError(
                f"agent {agent.name!r} gave up after {get_settings().output_retries + 1} attempts "
                f"({exc.message}); last problem: {_last_retry_reason(messages)}"
            ) from exc
        except ModelAPIError as exc:
            raise GenerationError(
                f"agent {agent.name!r}: the model provider failed after {get_settings().model_request_retries + 1} "
                f"attempts: {type(exc).__name__}: {exc}. Check the provider's status and your key, "
                "or configure AGENTFLOWS_FALLBACK_MODELS."
            ) from exc
    return result.output


async def research(data: ResearchInput) -> ProspectBrief:
    spec = get_settings().model_for("researcher")
    prompt = render_prompt("Write the prospect brief.", researcher.NAME, "research-input", data)
    return await run_agent(researcher.researcher(spec), prompt)


async def choose_writer(data: router.RouteInput) -> Route:
    spec = get_settings().model_for("router")
    prompt = render_prompt("Choose the writer.", router.NAME, "route-input", data)
    return await run_agent(router.router(spec), prompt)


async def draft_emails(data: WriterInput) -> EmailDrafts:
    spec = get_settings().model_for("writer")
    prompt = render_prompt("Write the three email variants.", writers.NAME, "writer-input", data)
    drafts = await run_agent(writers.writer(data.writer, spec), prompt, deps=data)
    return drafts
