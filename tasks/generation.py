"""Generation calls: render the data section, run the durable agent, return typed output.

These are plain coroutines called from flows, not tasks: `PrefectDurability` already makes each
model request inside them a Prefect task (`Model Request: ...`) of the calling flow run, with its
result persisted so a retried run does not pay for it twice.

Every agent runs through `run_agent`, so this module imports `agents.catalog`: that fills the
offline model's composers before any agent can ask it.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from pydantic_ai import Agent, capture_run_messages
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError, UnexpectedModelBehavior
from pydantic_ai.messages import ModelMessage, ModelResponse, RetryPromptPart, ToolReturnPart

import agents.catalog  # noqa: F401  (fills the offline model's composers; see the module docstring)
from agentflows.prompt_caps import capped_each
from agentflows.settings import get_settings
from agents.durable import configured_model
from agents.models import Attempts, track_attempts
from agents.outreach import researcher, router, writers
from agents.outreach.brief import (
    AngleIdea,
    EmailDrafts,
    KnowledgeFact,
    ProspectBrief,
    ProspectProfile,
    ResearchInput,
    Route,
    WebFindings,
    WriterInput,
)
from agents.prompting import render_prompt
from agents.workspace import Workspace
from agents.workspace.routing import rule_route
from tasks.crm import ProspectRecord

OutputT = TypeVar("OutputT")


SDK_MODULES = {
    "openai": ("pydantic_ai.models.openai", "pydantic_ai.providers.openai"),
    "anthropic": ("pydantic_ai.models.anthropic", "pydantic_ai.providers.anthropic"),
}
"""The pydantic-ai modules (and through them the provider SDK) a model spec's first agent imports."""


def preload_model_sdks(roles: tuple[str, ...] = ("researcher", "router", "writer")) -> list[str]:
    """Import the provider SDKs the configured models need now, at import of the flow, not inside the run.

    An agent is built on its first use in a run (one per event loop, see `agents.durable.per_event_loop`),
    and the first build of an OpenAI model imports the SDK: ~0.6 s of CPU on the batch's event loop, right
    in front of its first model request. A flow process imports its flow before the run starts, so this
    moves that cost out of the run. Only settings are read (models named in workspace files are imported
    at their first use, as before); an SDK that is not installed is left to fail where the agent is built,
    with its clear message. Returns the modules imported.
    """
    settings = get_settings()
    specs = {settings.model_for(role) for role in roles} | set(settings.agent_models.values())
    specs |= set(settings.fallback_models)
    wanted = {m for spec in specs for kind, mods in SDK_MODULES.items() if spec.startswith(kind) for m in mods}
    loaded = []
    for module in sorted(wanted):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        loaded.append(module)
    return loaded


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
    """Run one agent, turning pydantic-ai's give-up into a message that says which agent and why.

    The counts in the messages are the ones that happened: the model's answers in this run, and the
    SDK's HTTP attempts of the request that failed (see `agents.models.track_attempts`).
    """
    with capture_run_messages() as messages, track_attempts() as attempts:
        try:
            result = await agent.run(prompt, deps=deps)
        except UnexpectedModelBehavior as exc:
            answers = sum(isinstance(m, ModelResponse) for m in messages)
            after = f" after {answers} {'attempt' if answers == 1 else 'attempts'}" if answers else ""
            raise GenerationError(
                f"agent {agent.name!r} gave up{after} ({exc.message}); last problem: {_last_retry_reason(messages)}"
            ) from exc
        except ModelAPIError as exc:
            raise GenerationError(
                f"agent {agent.name!r}: {provider_failure(exc, attempts)}: {type(exc).__name__}: {exc}. "
                "Check the provider's status and your key, or configure AGENTFLOWS_FALLBACK_MODELS."
            ) from exc
    return result.output


def provider_failure(exc: ModelAPIError, attempts: Attempts) -> str:
    """How the provider failed, with a number of attempts only when the SDK really retried."""
    made = attempts.made
    answer = f"HTTP {exc.status_code}" if isinstance(exc, ModelHTTPError) else "no answer (connection failed)"
    if made is None:
        return f"the model provider failed ({answer})"
    if made > 1:
        return f"the model provider failed after {made} attempts ({made - 1} SDK retries; last: {answer})"
    if get_settings().model_request_retries == 0:
        return f"the model provider failed ({answer}; not retried: AGENTFLOWS_MODEL_REQUEST_RETRIES=0)"
    return f"the model provider refused the request ({answer}; not retried: a retry would get the same answer)"


def knowledge_for(profile: ProspectProfile, workspace: Workspace, context: str = "") -> list[KnowledgeFact]:
    """The seller's knowledge sections most relevant to this prospect (capped), as citable facts."""
    query = f"{profile.industry} {profile.department} {profile.role} {profile.region} {context}"
    if profile.is_customer:
        query += " customer " + " ".join(profile.products_owned)
    return [KnowledgeFact(source=s.source, title=s.title, text=s.text) for s in workspace.knowledge.relevant(query)]


def history_caps() -> dict[str, int]:
    """Caps of a CRM activity's untrusted text in a prompt (its subject and its body or note)."""
    settings = get_settings()
    return {"subject": settings.prompt_cap_crm_subject, "text": settings.prompt_cap_crm_text}


def knowledge_caps() -> dict[str, int]:
    return {"text": get_settings().prompt_cap_knowledge_section}


def research_input(record: ProspectRecord, web: WebFindings, workspace: Workspace) -> ResearchInput:
    """What the researcher gets: the CRM record, the website, and our knowledge most relevant to this prospect.

    The one place CRM text enters an outreach prompt: activity subjects and bodies, reviewer notes of
    earlier outreach and knowledge sections are capped here, the cut marked (`agentflows.prompt_caps`).
    """
    settings = get_settings()
    history_text = " ".join(f"{h.subject} {h.text}" for h in record.history)
    return ResearchInput(
        prospect=record.profile,
        history=capped_each(record.history, history_caps()),
        web=web,
        prior_outreach=capped_each(
            record.prior_outreach, {"subject": settings.prompt_cap_crm_subject, "note": settings.prompt_cap_crm_text}
        ),
        knowledge=capped_each(knowledge_for(record.profile, workspace, history_text[:20_000]), knowledge_caps()),
    )


def seller(workspace: Workspace) -> tuple[str, str]:
    """Who we are and what we offer: the workspace's knowledge, unless the settings override it."""
    settings = get_settings()
    return settings.seller_company or workspace.knowledge.company, settings.seller_offer or workspace.knowledge.offer


def model_of(agent_name: str, workspace: Workspace) -> str:
    """The model spec an agent of this workspace runs on (what the drafts table records)."""
    if agent_name in workspace.writers:
        return configured_model(writers.ROLE, workspace.writers[agent_name].model)
    file = workspace.agent(agent_name)
    role = {researcher.NAME: researcher.ROLE, router.NAME: router.ROLE}.get(agent_name, agent_name)
    return configured_model(role, file.model)


async def research(data: ResearchInput, workspace: Workspace) -> ProspectBrief:
    file = workspace.agent(researcher.NAME)
    prompt = render_prompt("Write the prospect brief.", researcher.NAME, "research-input", data)
    agent = researcher.researcher(file, model_of(researcher.NAME, workspace))
    return await run_agent(agent, prompt, deps=tuple(sorted(k.source for k in data.knowledge)))


async def choose_writer(profile: ProspectProfile, brief: ProspectBrief, workspace: Workspace) -> Route:
    """The workspace's routing rules decide; the router model only where they cannot (see `agents.outreach.router`)."""
    decided = rule_route(profile, list(workspace.writers.values()))
    if decided.writer is not None:
        return Route(writer=decided.writer, reason=decided.reason)
    data = router.RouteInput(
        prospect=profile,
        brief=brief,
        writers=[router.WriterChoice(name=w.name, description=w.description) for w in workspace.writers.values()],
        candidates=list(decided.candidates),
    )
    return await ask_router(data, workspace, decided.reason)


async def ask_router(data: router.RouteInput, workspace: Workspace, why: str = "no rule decided") -> Route:
    """The router model's choice among `data.candidates` (any writer when empty); it must be one of them."""
    prompt = render_prompt(f"Choose the writer ({why}).", router.NAME, "route-input", data)
    agent = router.router(workspace.agent(router.NAME), model_of(router.NAME, workspace))
    return await run_agent(agent, prompt, deps=tuple(sorted(router.allowed(data))))


def writer_input(
    profile: ProspectProfile, brief: ProspectBrief, writer: str, workspace: Workspace, **memory: object
) -> WriterInput:
    """Everything a writer gets: the brief, who we are, its angle ideas and the claims we never make."""
    company, offer = seller(workspace)
    return WriterInput(
        prospect=profile,
        brief=brief,
        writer=writer,
        seller_company=company,
        offer=offer,
        sender_name=get_settings().sender_name,
        angles=[AngleIdea(**a.model_dump()) for a in workspace.writers[writer].angles],
        never_claim=list(workspace.knowledge.never_claim),
        **memory,  # type: ignore[arg-type]  (avoid_angles, style_examples: capped in tasks.memory)
    )


async def draft_emails(data: WriterInput, workspace: Workspace) -> EmailDrafts:
    file = workspace.writers[data.writer]
    prompt = render_prompt("Write the three email variants.", writers.NAME, "writer-input", data)
    return await run_agent(writers.writer(file, model_of(data.writer, workspace)), prompt, deps=data)
