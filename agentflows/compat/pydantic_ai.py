"""What agentflows relies on in pydantic-ai (2.62) beyond its public API, each with its reason.

Contract tests: `tests/compat/test_pydantic_ai_compat.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.transactions import get_transaction
from prefect.utilities.annotations import opaque
from pydantic_ai.durable_exec import ModelRequestId
from pydantic_ai.exceptions import ModelHTTPError


def current_agent_name() -> str | None:
    """The name of the agent whose run is making the current model request, if any.

    A `Model.request` gets no run context (only `request_stream` does); pydantic-ai keeps it in a
    context variable behind the private `pydantic_ai._run_context.get_current_run_context`. The usage
    rows name the agent that spent the tokens with it.
    """
    from pydantic_ai._run_context import get_current_run_context

    run_ctx = get_current_run_context()
    return run_ctx.agent.name if run_ctx and run_ctx.agent else None


def agent_inputs_cache_policy() -> CachePolicy:
    """pydantic-ai's cache policy over a model request's inputs, without the flow run id.

    Its public `DEFAULT_PYDANTIC_AI_CACHE_POLICY` adds the run id, so only a retry of the same run
    replays; the inputs part alone (private `PrefectAgentInputs`) lets a re-run with the same inputs
    replay completed requests too (`AGENTFLOWS_MODEL_CACHE=inputs`).
    """
    from pydantic_ai.durable_exec.prefect._cache_policies import PrefectAgentInputs

    return PrefectAgentInputs()


def with_opaque_inputs(backend: Any) -> Any:
    """Make a `PrefectDurability` operation backend hand its task inputs to Prefect as `opaque`.

    The backend's `execute(*, cache_key=(...), ...)` passes the request (message history, output
    schema: hundreds of nested nodes) as the task's inputs, which Prefect walks twice looking for
    futures (a fifth of the flow's CPU in `benchmarks/throughput.py`). pydantic-ai has no option for
    it, so `execute` is wrapped on this backend instance. Prefect unwraps `opaque` values before
    computing cache keys, so keys and replays are unchanged.
    """
    execute: Callable[..., Any] = backend.execute

    async def execute_with_opaque_inputs(*, cache_key: tuple[object, ...], **kwargs: Any) -> object:
        return await execute(cache_key=tuple(opaque(value) for value in cache_key), **kwargs)

    backend.execute = execute_with_opaque_inputs
    return backend


def with_recorded_model_request_keys(backend: Any, record: Callable[[object, str, Any], None]) -> Any:
    """Make a `PrefectDurability` operation backend report each model request's cache record as it is made.

    A model request is a Prefect task whose result is stored under its cache key; pydantic-ai
    validates the output only after the task has finished and stored it, so a refused output stays
    in the store and a later run with the same inputs would replay it. Neither library says which
    record a response came from; inside the task, though, the current Prefect transaction is the
    one that will store the result: `record(response, key, store)` is called there, for requests
    actually sent (a replayed one runs no body). `agents.durable.ForgetRefusedResponses` expires the
    record when validation then refuses the response. The wrapper relies on the backend's private
    `execute(*, operation_id=..., body=..., ...)` signature, checked by the contract test.
    """
    execute: Callable[..., Any] = backend.execute

    async def execute_recording(*, operation_id: object, body: Callable[[], Any], **kwargs: Any) -> object:
        if isinstance(operation_id, ModelRequestId):
            request = body

            async def body() -> object:
                response = await request()
                transaction = get_transaction()
                if transaction is not None and transaction.key and transaction.store is not None:
                    record(response, transaction.key, transaction.store)
                return response

        return await execute(operation_id=operation_id, body=body, **kwargs)

    backend.execute = execute_recording
    return backend


MODEL_HTTP_ERROR_FIELDS = (
    "headers",
    "suggested_model_id",
    "hint",
    "provider_error_code",
    "provider_error_type",
    "retry_after",
    "in_stream",
)
"""`ModelHTTPError.__init__`'s keyword fields besides status, model and body (2.62)."""


def model_http_error_with_body(exc: ModelHTTPError, body: object) -> ModelHTTPError:
    """The same provider error, of the same type and fields, with another body (a scrubbed one).

    pydantic-ai puts the body into the message at construction, so the body cannot be replaced on the
    instance; a new error is built from the constructor's fields. The contract test fails when the
    constructor gains a field this does not carry over.
    """
    fields = {name: getattr(exc, name) for name in MODEL_HTTP_ERROR_FIELDS}
    return type(exc)(exc.status_code, exc.model_name, body, **fields)
