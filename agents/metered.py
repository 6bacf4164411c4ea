"""Every model request, metered: provider limits, the run's budget, and usage with its cost.

`MeteredModel` wraps the provider model, so it runs *inside* the Prefect task of each model
request, after Prefect's cache lookup: a request answered from the result store takes no rate-limit
slot, spends no budget and records no usage (it was not sent). For each request actually sent:

1. the run's budget is checked first, with an estimate of the request's input tokens, so a run
   stops *before* the request that would take it over (`BudgetExceededError`, never retried);
2. a Prefect global concurrency limit (requests in flight) and a Prefect rate limit (requests
   per minute) per provider are taken around the request itself, shared by every process and
   worker talking to the same Prefect server (leased in batches: `agentflows.provider_limits`);
3. the provider's reported usage and its price (pydantic-ai's `genai-prices` data) are written to
   `model_usage` with the flow run, the task run and the workspace version the run uses (read from
   `agentflows.workspace_context`, which the flow sets where it resolves its workspace: no argument
   of ours reaches this deep), so `agentflows usage` and budgets add up to what the provider bills,
   and the cost of a workspace change can be told apart from the one before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from sqlalchemy import func, select

from agentflows.compat.pydantic_ai import current_agent_name, model_http_error_with_body
from agentflows.db import session_scope
from agentflows.db.usage import ModelUsage
from agentflows.prompt_caps import estimate_tokens as prompt_tokens
from agentflows.provider_limits import provider_slot
from agentflows.redaction import scrub
from agentflows.settings import get_settings
from agentflows.workspace_context import current_workspace_version

logger = logging.getLogger("agentflows.models")


class BudgetExceededError(RuntimeError):
    """The run's token or dollar budget would be exceeded by the next model request."""


@dataclass(frozen=True)
class RequestContext:
    flow_run_id: str | None
    flow_name: str | None
    task_run_id: str | None
    agent: str | None
    workspace_version: str | None = None


def _request_context() -> RequestContext:
    from prefect.context import FlowRunContext, TaskRunContext

    flow_ctx, task_ctx = FlowRunContext.get(), TaskRunContext.get()
    return RequestContext(
        flow_run_id=str(flow_ctx.flow_run.id) if flow_ctx and flow_ctx.flow_run else None,
        flow_name=flow_ctx.flow.name if flow_ctx and flow_ctx.flow else None,
        task_run_id=str(task_ctx.task_run.id) if task_ctx else None,
        agent=current_agent_name(),
        workspace_version=current_workspace_version(),
    )


def estimate_tokens(messages: list[ModelMessage]) -> int:
    """A rough input-token estimate (4 characters a token) for the budget's look-ahead."""
    chars = 0
    for message in messages:
        for part in getattr(message, "parts", []):
            content = getattr(part, "content", None) or getattr(part, "args", None) or ""
            chars += len(content) if isinstance(content, str) else len(str(content))
    return chars // 4 + 1


def _spent_sync(flow_run_id: str) -> tuple[int, float]:
    with session_scope() as session:
        tokens, cost = session.execute(
            select(
                func.coalesce(func.sum(ModelUsage.input_tokens + ModelUsage.output_tokens), 0),
                func.coalesce(func.sum(ModelUsage.cost_usd), 0.0),
            ).where(ModelUsage.flow_run_id == flow_run_id)
        ).one()
    return int(tokens), float(cost)


async def check_budget(ctx: RequestContext, messages: list[ModelMessage]) -> None:
    settings = get_settings()
    if ctx.flow_run_id is None or (settings.run_budget_tokens is None and settings.run_budget_usd is None):
        return
    tokens, cost = await asyncio.to_thread(_spent_sync, ctx.flow_run_id)
    upcoming = estimate_tokens(messages)
    if settings.run_budget_tokens is not None and tokens + upcoming > settings.run_budget_tokens:
        raise BudgetExceededError(
            f"this run's token budget ({settings.run_budget_tokens:,}) would be exceeded: {tokens:,} tokens spent, "
            f"the next request ({ctx.agent or 'agent'}) needs about {upcoming:,} more. Nothing more was sent. "
            "Raise AGENTFLOWS_RUN_BUDGET_TOKENS, or run fewer items per run."
        )
    if settings.run_budget_usd is not None and cost >= settings.run_budget_usd:
        raise BudgetExceededError(
            f"this run's budget of ${settings.run_budget_usd:.2f} is spent (${cost:.4f} so far). Nothing more was "
            "sent. Raise AGENTFLOWS_RUN_BUDGET_USD, or run fewer items per run."
        )


async def check_prompts_budget(what: str, prompts: Sequence[str]) -> int:
    """Before `what` sends `prompts` at once (the fraud check's seven): stop with a clear message when their
    estimated input tokens would take the run past its token budget.

    The per-request check above cannot see this: the seven fraud requests go out concurrently and each
    sees the same spend. Returns the estimate (chars/4, `agentflows.prompt_caps.estimate_tokens`).
    """
    settings = get_settings()
    estimate = prompt_tokens(*prompts)
    ctx = _request_context()
    if settings.run_budget_tokens is None or ctx.flow_run_id is None:
        return estimate
    spent, _cost = await asyncio.to_thread(_spent_sync, ctx.flow_run_id)
    if spent + estimate > settings.run_budget_tokens:
        raise BudgetExceededError(
            f"{what}: its {len(prompts)} prompt(s) need about {estimate:,} input tokens and this run has "
            f"{settings.run_budget_tokens - spent:,} of its token budget ({settings.run_budget_tokens:,}) left. "
            "Nothing was sent. Raise AGENTFLOWS_RUN_BUDGET_TOKENS, or lower the AGENTFLOWS_PROMPT_CAP_* settings "
            "that bound untrusted fields (README: settings)."
        )
    return estimate


def _price(response: ModelResponse) -> float | None:
    try:
        return float(response.cost().total_price)
    except (LookupError, ValueError, AssertionError):
        return None  # no known price (a local or unknown model): recorded as unknown, not as free


def _record_sync(ctx: RequestContext, provider: str, response: ModelResponse, api: str | None = None) -> None:
    from agentflows.db.migrate import upgrade

    upgrade()  # once per process: usage is recorded even from a fresh data directory
    usage = response.usage
    with session_scope() as session:
        session.add(
            ModelUsage(
                flow_run_id=ctx.flow_run_id,
                flow_name=ctx.flow_name,
                task_run_id=ctx.task_run_id,
                agent=ctx.agent,
                workspace_version=ctx.workspace_version,
                provider=provider,
                api=api,
                model=response.model_name or "unknown",
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost_usd=0.0 if provider == "offline" else _price(response),
            )
        )


@asynccontextmanager
async def scrubbed_provider_errors() -> AsyncGenerator[None]:
    """A provider (or a proxy) may echo the credential it received in its error body; pydantic-ai puts
    that body in the exception's message, which travels on into state messages, results, artifacts and
    the database. Re-raise it with secrets masked, of the same type (retry decisions depend on it)."""
    try:
        yield
    except ModelHTTPError as exc:
        raise model_http_error_with_body(exc, scrub(exc.body)) from None  # the SDK's own exception repeats the body


class MeteredModel(WrapperModel):
    """A provider model whose every sent request is limited, budgeted and recorded."""

    def __init__(self, wrapped: Any, provider: str, api: str | None = None) -> None:
        super().__init__(wrapped)
        self.provider_label = provider
        self.api = api  # what `model_usage.api` records (see agents.models.api_label)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        ctx = _request_context()
        await check_budget(ctx, messages)
        async with provider_slot(self.provider_label), scrubbed_provider_errors():
            response = await super().request(messages, model_settings, model_request_parameters)
        await asyncio.to_thread(_record_sync, ctx, self.provider_label, response, self.api)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        ctx = _request_context()
        await check_budget(ctx, messages)
        async with (
            provider_slot(self.provider_label),
            scrubbed_provider_errors(),
            super().request_stream(messages, model_settings, model_request_parameters, run_context) as stream,
        ):
            yield stream
        await asyncio.to_thread(_record_sync, ctx, self.provider_label, stream.get(), self.api)
