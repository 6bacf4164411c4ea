"""The fake provider's HTTP app, the in-process runner (:class:`FakeProvider`) and the subprocess runner.

Design notes (why it looks like this):

* It is a real uvicorn server on a loopback port, so requests go through the real ``openai``/``anthropic``
  SDKs, their HTTP stack, retry logic and error mapping, exactly like production.
* Everything slow (latency, hangs) is an ``asyncio.sleep`` on one event loop, so hundreds of concurrent
  requests cost nothing but sockets.
* ``drop`` must close the TCP connection *without* any HTTP response, which ASGI can't express; a tiny
  subclass of uvicorn's h11 protocol records each connection's transport by client address so the app can
  ``abort()`` it.
* In-process mode shares the GIL with the code under test; benchmarks should use :class:`FakeProviderProcess`
  (or ``python -m agentflows_fake_provider``) so the server's CPU time isn't billed to the client process.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import httpx
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .core import Api, FakeReply, FakeRequest, Responder, default_responder, estimate_tokens
from .faults import ERROR_FAULTS, FaultConfig, FaultDecision, FaultEngine, retry_after_headers
from .stats import Stats, StatsRecorder
from .wire import (
    PreparedReply,
    RequestFormatError,
    continue_conversation,
    error_body,
    parse_request,
    render_reply,
)

__all__ = [
    "READY_PREFIX",
    "FakeProvider",
    "FakeProviderApp",
    "FakeProviderProcess",
    "build_parser",
    "faults_from_args",
    "main",
    "make_model",
]

READY_PREFIX = "FAKE_PROVIDER_READY "
"""The line the CLI prints (followed by the base URL) once it accepts connections."""

ClientAddr = tuple[str, int]


class _Outcome:
    """How one model request ended; recorded in the stats exactly once, as late as possible but before the
    client can observe the result (so a test reading stats right after its call returns sees the request)."""

    def __init__(self, recorder: StatsRecorder, api: str, model: str) -> None:
        self._recorder = recorder
        self._api = api
        self._model = model
        self._started = recorder.request_started(api, model)
        self._recorded = False
        self.status = 500
        self.fault: str | None = None
        self.success = False
        self.input_tokens = 0
        self.output_tokens = 0

    def update(self, **fields: Any) -> None:
        for name, value in fields.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise AttributeError(name)
            setattr(self, name, value)

    def record(self) -> None:
        if self._recorded:
            return
        self._recorded = True
        self._recorder.request_finished(
            self._started,
            api=self._api,
            model=self._model,
            status=self.status,
            fault=self.fault,
            success=self.success,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )


class _NoResponse(Response):
    """A response that sends nothing, for requests whose connection was aborted (``drop``) or abandoned."""

    def __init__(self) -> None:
        super().__init__(status_code=204)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def _tracking_protocol(registry: dict[ClientAddr, asyncio.Transport]) -> type[H11Protocol]:
    """An h11 protocol that records each live connection's transport under the scope's ``client``."""

    class TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client:
                registry[(self.client[0], self.client[1])] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                registry.pop((self.client[0], self.client[1]), None)
            super().connection_lost(exc)

    return TrackingH11Protocol


class FakeProviderApp:
    """The ASGI app plus all state it needs: fault engine, stats, responder, live connections.

    Separate from the runners so the same app serves the in-process thread and the CLI subprocess.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        faults: FaultConfig | None = None,
        *,
        max_log_entries: int = 100_000,
        keep_requests: int = 1_000,
    ) -> None:
        self.engine = FaultEngine(faults or FaultConfig())
        self.recorder = StatsRecorder(max_log_entries=max_log_entries)
        self.responder: Responder = responder or default_responder
        self.transports: dict[ClientAddr, asyncio.Transport] = {}
        self.shutting_down = threading.Event()
        self._requests_lock = threading.Lock()
        self._requests: deque[FakeRequest] = deque(maxlen=keep_requests)
        # Responses API conversations by response id, for `previous_response_id` (bounded, oldest evicted).
        self._conversations: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._max_conversations = 10_000
        self.asgi = Starlette(routes=self._routes())

    # -- introspection for tests -----------------------------------------------------------------------------
    @property
    def requests(self) -> list[FakeRequest]:
        """The most recent parsed model requests (bounded), oldest first."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- routing ---------------------------------------------------------------------------------------------
    def _routes(self) -> list[Route]:
        def model_route(path: str, api: Api) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._handle_model_request(api, request)

            return Route(path, endpoint, methods=["POST"])

        routes: list[Route] = []
        for prefix in ("/v1", ""):
            routes += [
                model_route(f"{prefix}/chat/completions", "openai-chat"),
                model_route(f"{prefix}/responses", "openai-responses"),
                model_route(f"{prefix}/messages", "anthropic"),
                Route(f"{prefix}/messages/count_tokens", self._count_tokens_anthropic, methods=["POST"]),
                Route(f"{prefix}/responses/input_tokens", self._count_tokens_responses, methods=["POST"]),
                Route(f"{prefix}/models", self._list_models, methods=["GET"]),
            ]
        routes += [
            Route("/_control/health", self._health, methods=["GET"]),
            Route("/_control/stats", self._get_stats, methods=["GET"]),
            Route("/_control/reset", self._reset, methods=["POST"]),
            Route("/_control/faults", self._get_faults, methods=["GET"]),
            Route("/_control/faults", self._set_faults, methods=["POST"]),
        ]
        return routes

    # -- control endpoints -----------------------------------------------------------------------------------
    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _get_stats(self, request: Request) -> Response:
        include_log = request.query_params.get("log", "1") not in ("0", "false")
        return JSONResponse(self.recorder.snapshot(include_log=include_log).to_dict())

    async def _reset(self, request: Request) -> Response:
        self.recorder.reset()
        self.clear_requests()
        return JSONResponse({"ok": True})

    async def _get_faults(self, request: Request) -> Response:
        return JSONResponse(self.engine.config.model_dump(mode="json"))

    async def _set_faults(self, request: Request) -> Response:
        """Replace the fault config with a (partial) ``FaultConfig`` JSON; missing fields get defaults."""
        try:
            config = FaultConfig.model_validate(await request.json())
        except (ValidationError, json.JSONDecodeError) as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        self.engine.set_config(config)
        return JSONResponse(config.model_dump(mode="json"))

    async def _list_models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake-provider"}],
            }
        )

    async def _count_tokens(self, api: Api, request: Request) -> FakeRequest | Response:
        try:
            body = await request.json()
            if api == "anthropic":
                body = {"max_tokens": 1, **body}
            return parse_request(api, body)
        except (RequestFormatError, json.JSONDecodeError) as e:
            return JSONResponse(error_body(api, 400, detail=str(e)), status_code=400)

    async def _count_tokens_anthropic(self, request: Request) -> Response:
        parsed = await self._count_tokens("anthropic", request)
        if isinstance(parsed, Response):
            return parsed
        return JSONResponse({"input_tokens": estimate_tokens(parsed.prompt_chars())})

    async def _count_tokens_responses(self, request: Request) -> Response:
        parsed = await self._count_tokens("openai-responses", request)
        if isinstance(parsed, Response):
            return parsed
        return JSONResponse({"object": "response.input_tokens", "input_tokens": estimate_tokens(parsed.prompt_chars())})

    # -- model endpoints -------------------------------------------------------------------------------------
    def _error_response(
        self,
        api: Api,
        status: int,
        *,
        detail: str = "",
        retry_after_s: float | None = None,
        include_retry_after: bool = True,
    ) -> Response:
        config = self.engine.config
        request_id = f"req_fake_{time.monotonic_ns()}"
        headers: dict[str, str] = {"request-id" if api == "anthropic" else "x-request-id": request_id}
        if include_retry_after:
            headers.update(retry_after_headers(retry_after_s))
        if config.should_retry is not None:
            headers["x-should-retry"] = "true" if config.should_retry else "false"
        body = error_body(api, status, detail=detail, retry_after_s=retry_after_s, request_id=request_id)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _handle_model_request(self, api: Api, request: Request) -> Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            body = None
            parse_error: str | None = f"invalid JSON body: {e}"
        else:
            parse_error = None
        model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else ""
        outcome = _Outcome(self.recorder, api, model)
        try:
            if parse_error is not None:
                outcome.update(status=400)
                return self._error_response(api, 400, detail=parse_error)
            try:
                fake_request = parse_request(api, body)
                self._restore_conversation(fake_request)
            except RequestFormatError as e:
                outcome.update(status=400)
                return self._error_response(api, 400, detail=str(e))
            with self._requests_lock:
                self._requests.append(fake_request)
            return await self._serve(fake_request, request, outcome)
        finally:
            outcome.record()

    async def _serve(self, fake_request: FakeRequest, request: Request, outcome: _Outcome) -> Response:
        api = fake_request.api
        if fake_request.stream and not self.engine.config.streaming:
            outcome.update(status=400, fault="stream_unsupported")
            return self._error_response(api, 400, detail="Streaming is not supported by this server.")
        rejection = self.engine.admit()
        if rejection is not None:
            outcome.update(status=429, fault="rate_limited")
            detail = "Concurrency limit exceeded." if rejection.source == "concurrency" else "RPM limit exceeded."
            return self._error_response(api, 429, detail=detail, retry_after_s=rejection.retry_after_s)
        try:
            decision = self.engine.decide()
            return await self._apply(decision, fake_request, request, outcome)
        finally:
            self.engine.release()

    async def _apply(
        self, decision: FaultDecision, fake_request: FakeRequest, request: Request, outcome: _Outcome
    ) -> Response:
        api = fake_request.api
        config = self.engine.config
        kind = decision.kind
        client: ClientAddr | None = (request.client.host, request.client.port) if request.client else None

        if kind in ERROR_FAULTS:
            if config.error_latency_ms:
                await asyncio.sleep(config.error_latency_ms / 1000)
            outcome.update(status=int(kind), fault=kind)
            return self._error_response(
                api,
                int(kind),
                detail=f"Injected {kind}.",
                retry_after_s=decision.retry_after_s,
                include_retry_after=config.send_retry_after,
            )
        if kind == "drop":
            outcome.update(status=0, fault="drop")
            outcome.record()  # before the abort: the client may look at stats the moment it sees the reset
            await self._abort(client)
            return _NoResponse()
        if kind == "timeout":
            outcome.update(fault="timeout")
            ended = await self._hang(client, config.timeout_hang_s)
            if ended != "elapsed":
                outcome.update(status=0)
                if ended == "shutdown":  # the server is going away: close the connection like a dying server
                    outcome.record()
                    await self._abort(client)
                return _NoResponse()
            outcome.update(status=504)
            return self._error_response(api, 504, detail="Injected timeout.", include_retry_after=False)

        # 'ok' and 'invalid_json': a real reply.
        await asyncio.sleep(self.engine.sample_latency_s())
        if not self._connected(client):
            # The client gave up during the latency (its own timeout): nothing is delivered or billed.
            outcome.update(status=0)
            return _NoResponse()
        try:
            reply = self.responder(fake_request)
            if inspect.isawaitable(reply):
                reply = await reply
            if not isinstance(reply, FakeReply):
                raise TypeError(f"responder returned {type(reply).__name__}, expected FakeReply")
        except Exception as e:
            outcome.update(status=500, fault="responder_error")
            return self._error_response(api, 500, detail=f"Responder raised {e!r}", include_retry_after=False)
        input_tokens = (
            reply.input_tokens if reply.input_tokens is not None else estimate_tokens(fake_request.prompt_chars())
        )
        output_tokens = (
            reply.output_tokens if reply.output_tokens is not None else estimate_tokens(reply.output_chars())
        )
        prepared = PreparedReply.from_reply(reply, input_tokens, output_tokens)
        if kind == "invalid_json":
            prepared.corrupt_output(fake_request)
            outcome.update(fault="invalid_json")
        content, media_type = render_reply(fake_request, prepared)
        if api == "openai-responses":
            self._remember_conversation(prepared.response_id, fake_request.messages + prepared.history_items())
        outcome.update(status=200, success=True, input_tokens=input_tokens, output_tokens=output_tokens)
        headers = {"request-id" if api == "anthropic" else "x-request-id": f"req_fake_{time.monotonic_ns()}"}
        return Response(content, media_type=media_type, headers=headers)

    def _restore_conversation(self, fake_request: FakeRequest) -> None:
        """Resolve Responses ``previous_response_id`` against conversations this server answered."""
        previous = fake_request.raw.get("previous_response_id") if fake_request.api == "openai-responses" else None
        if not previous:
            return
        with self._requests_lock:
            history = self._conversations.get(previous)
        if history is None:
            raise RequestFormatError(f"Previous response with id '{previous}' not found.")
        continue_conversation(fake_request, [dict(m) for m in history])

    def _remember_conversation(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        with self._requests_lock:
            self._conversations[response_id] = messages
            while len(self._conversations) > self._max_conversations:
                self._conversations.popitem(last=False)

    async def _abort(self, client: ClientAddr | None) -> None:
        """Reset the client's TCP connection, then let ``connection_lost`` run so uvicorn sends nothing."""
        transport = self.transports.get(client) if client else None
        if transport is not None:
            transport.abort()
        for _ in range(20):
            await asyncio.sleep(0)
            if client is None or client not in self.transports:
                break

    def _connected(self, client: ClientAddr | None) -> bool:
        """Whether the client's connection is still open (unknown clients count as connected)."""
        if client is None:
            return True
        transport = self.transports.get(client)
        return transport is not None and not transport.is_closing()

    async def _hang(self, client: ClientAddr | None, seconds: float) -> Literal["elapsed", "client_gone", "shutdown"]:
        """Sleep up to ``seconds``, polling so it ends early if the client leaves or the server stops."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.shutting_down.is_set():
                return "shutdown"
            if not self._connected(client):
                return "client_gone"
            await asyncio.sleep(min(0.05, remaining))
        return "elapsed"


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves so port 0 works and the real port is known before serving."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class FakeProvider:
    """The fake provider running in a background thread of the current process.

    ``with FakeProvider(responder=..., faults=FaultConfig(...)) as fp:`` then point clients at
    ``fp.openai_base_url`` (``http://127.0.0.1:PORT/v1``) or ``fp.anthropic_base_url``
    (``http://127.0.0.1:PORT``).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        faults: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        max_log_entries: int = 100_000,
        keep_requests: int = 1_000,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.app = FakeProviderApp(responder, faults, max_log_entries=max_log_entries, keep_requests=keep_requests)
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout_s = startup_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port: int = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        if self._thread is not None:
            raise RuntimeError("FakeProvider already started")
        self.app.shutting_down.clear()
        self._sock = _bind(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app.asgi,
            http=_tracking_protocol(self.app.transports),
            lifespan="off",
            log_level=self._log_level,
            # Leave the host process's logging config alone (uvicorn's dictConfig would replace handlers).
            log_config=None,
            access_log=False,
            timeout_keep_alive=75,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"fake-provider-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("fake provider server thread died during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("fake provider did not start in time")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving: hanging ``timeout`` faults are cut off, other requests get 3 s to finish."""
        self.app.shutting_down.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None
        self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For ``AsyncOpenAI(base_url=...)`` / ``OpenAIProvider(base_url=...)`` (the SDK appends
        ``/chat/...``)."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """For ``AsyncAnthropic(base_url=...)`` / ``AnthropicProvider(base_url=...)`` (the SDK appends
        ``/v1/...``)."""
        return self.base_url

    # -- control ---------------------------------------------------------------------------------------------
    @property
    def stats(self) -> Stats:
        """A snapshot of the counters (take a new one after more requests)."""
        return self.app.recorder.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and forget captured requests (fault state is untouched; see
        :meth:`set_faults`)."""
        self.app.recorder.reset()
        self.app.clear_requests()

    @property
    def faults(self) -> FaultConfig:
        return self.app.engine.config

    def set_faults(self, faults: FaultConfig | None = None, **overrides: Any) -> FaultConfig:
        """Replace the fault config (``None`` = healthy), with keyword overrides; resets RNGs, script and
        windows."""
        base = faults or FaultConfig()
        config = FaultConfig.model_validate({**base.model_dump(), **overrides})
        self.app.engine.set_config(config)
        return config

    def set_responder(self, responder: Responder | None) -> None:
        """Swap the responder (``None`` restores the default) without restarting the server."""
        self.app.responder = responder or default_responder

    @property
    def requests(self) -> list[FakeRequest]:
        """Recent parsed model requests, oldest first, for asserting what the client sent."""
        return self.app.requests

    # -- client helpers (imports are local so the server itself doesn't need pydantic-ai) --------------------
    def openai_client(self, *, max_retries: int = 0, timeout: float = 30.0) -> Any:
        """An ``openai.AsyncOpenAI`` pointed at this provider."""
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=self.openai_base_url, api_key="test", max_retries=max_retries, timeout=timeout)

    def anthropic_client(self, *, max_retries: int = 0, timeout: float = 30.0) -> Any:
        """An ``anthropic.AsyncAnthropic`` pointed at this provider."""
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(
            base_url=self.anthropic_base_url, api_key="test", max_retries=max_retries, timeout=timeout
        )

    def model(self, api: Api, model_name: str | None = None, *, max_retries: int = 0, timeout: float = 30.0) -> Any:
        """A pydantic-ai model of ``api`` talking to this provider through the real SDK client."""
        return make_model(
            api,
            self.openai_base_url,
            self.anthropic_base_url,
            model_name,
            max_retries=max_retries,
            timeout=timeout,
        )


def make_model(
    api: Api,
    openai_base_url: str,
    anthropic_base_url: str,
    model_name: str | None = None,
    *,
    max_retries: int = 0,
    timeout: float = 30.0,
) -> Any:
    """Build ``OpenAIChatModel``/``OpenAIResponsesModel``/``AnthropicModel`` for the given base URLs.

    The default model names are ones pydantic-ai has no special profile for, so requests stay non-streaming
    and use tool output (real names such as ``claude-sonnet-4-5`` make ``AnthropicModel`` stream, which also
    works).
    """
    if api == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic_client = AsyncAnthropic(
            base_url=anthropic_base_url, api_key="test", max_retries=max_retries, timeout=timeout
        )
        return AnthropicModel(
            model_name or "claude-fake", provider=AnthropicProvider(anthropic_client=anthropic_client)
        )
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    openai_client = AsyncOpenAI(base_url=openai_base_url, api_key="test", max_retries=max_retries, timeout=timeout)
    provider = OpenAIProvider(openai_client=openai_client)
    if api == "openai-responses":
        return OpenAIResponsesModel(model_name or "gpt-fake", provider=provider)
    return OpenAIChatModel(model_name or "gpt-fake", provider=provider)


_PACKAGE = __package__ or "agentflows_fake_provider"
# The directory holding this package, so ``python -m agentflows_fake_provider`` works in the child even under
# an interpreter that only has the dependencies installed.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _import_roots(import_path: str) -> list[Path]:
    """The ``sys.path`` entries this process imports the top-level package of ``'package.module:function'``
    from, so the child resolves a responder exactly like its parent does (``tests.providers.responders`` from
    a checkout, say)."""
    top = import_path.partition(":")[0].split(".")[0]
    spec = importlib.util.find_spec(top) if top else None
    if spec is None:
        return []  # the child's import raises the real error
    if spec.submodule_search_locations:
        return [Path(location).parent for location in spec.submodule_search_locations]
    return [Path(spec.origin).parent] if spec.origin else []


class FakeProviderProcess:
    """The fake provider in a child process, for benchmarks that must not share CPU time or the GIL with it.

    Control goes over HTTP (``/_control/*``), so only JSON-able things cross the boundary: the fault config
    and a responder given as an import path ``'package.module:function'``.
    """

    def __init__(
        self,
        faults: FaultConfig | None = None,
        *,
        responder: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        python: str = sys.executable,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.faults_config = faults or FaultConfig()
        self.responder = responder
        self.host = host
        self._requested_port = port
        self.python = python
        self.extra_args = list(extra_args)
        self.env = env
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._http: httpx.Client | None = None

    def command(self) -> list[str]:
        """The exact command line that is run (handy to copy into a shell when debugging a benchmark)."""
        cmd = [
            self.python,
            "-m",
            _PACKAGE,
            "--host",
            self.host,
            "--port",
            str(self._requested_port),
            "--faults-json",
            self.faults_config.model_dump_json(),
        ]
        if self.responder:
            cmd += ["--responder", self.responder]
        return cmd + self.extra_args

    def start(self) -> FakeProviderProcess:
        env = dict(os.environ if self.env is None else self.env)
        roots = [_PACKAGE_ROOT, *(_import_roots(self.responder) if self.responder else [])]
        paths = (*(str(root) for root in roots), env.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stdout is not None
        ready: list[str] = []

        def read_stdout() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:  # keep draining so the child can never block on a full pipe
                if line.startswith(READY_PREFIX) and not ready:
                    ready.append(line[len(READY_PREFIX) :].strip())

        threading.Thread(target=read_stdout, name="fake-provider-stdout", daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not ready:
            if self.process.poll() is not None:
                raise RuntimeError(f"fake provider process exited with {self.process.returncode} during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("fake provider process did not start in time")
            time.sleep(0.01)
        self.base_url = ready[0]
        self._http = httpx.Client(base_url=self.base_url, timeout=10.0)
        return self

    def stop(self) -> None:
        """SIGTERM the child (graceful uvicorn shutdown), escalating to SIGKILL after 10 s."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> FakeProviderProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("FakeProviderProcess is not running")
        return self._http

    @property
    def stats(self) -> Stats:
        response = self._client().get("/_control/stats")
        response.raise_for_status()
        return Stats.from_dict(response.json())

    def reset_stats(self) -> None:
        self._client().post("/_control/reset").raise_for_status()

    def set_faults(self, faults: FaultConfig | None = None, **overrides: Any) -> FaultConfig:
        base = faults or FaultConfig()
        config = FaultConfig.model_validate({**base.model_dump(), **overrides})
        self._client().post("/_control/faults", json=config.model_dump(mode="json")).raise_for_status()
        return config

    def model(self, api: Api, model_name: str | None = None, *, max_retries: int = 0, timeout: float = 30.0) -> Any:
        """A pydantic-ai model of ``api`` talking to the child process."""
        return make_model(
            api,
            self.openai_base_url,
            self.anthropic_base_url,
            model_name,
            max_retries=max_retries,
            timeout=timeout,
        )


# -- CLI -----------------------------------------------------------------------------------------------------

_CLI_ALIASES: dict[str, list[str]] = {"rpm_limit": ["--rpm"], "max_concurrency": ["--concurrency-limit"]}


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--kebab-case`` flag per ``FaultConfig`` field, derived from the model so the CLI can't drift from
    it."""
    group = parser.add_argument_group("faults (override --faults-json)")
    for name, info in FaultConfig.model_fields.items():
        flags = [f"--{name.replace('_', '-')}", *_CLI_ALIASES.get(name, [])]
        annotation = info.annotation
        args = [a for a in get_args(annotation) if a is not type(None)]
        help_text = (info.description or "").split("\n")[0] or None
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        if annotation is bool or (args and args[0] is bool):
            kwargs["type"] = lambda s: s.lower() in ("1", "true", "yes", "on")
            kwargs["metavar"] = "{true,false}"
        elif get_origin(annotation) is list:
            kwargs["type"] = lambda s: [k.strip() for k in s.split(",") if k.strip()]
            kwargs["metavar"] = "KIND,KIND,..."
        elif get_origin(annotation) is Literal:
            kwargs["choices"] = list(get_args(annotation))
        elif annotation is int or (args and args[0] is int):
            kwargs["type"] = int
        elif annotation is float or (args and args[0] is float):
            kwargs["type"] = float
        else:  # pragma: no cover - a new field type needs a parser here
            raise TypeError(f"no CLI parser for FaultConfig.{name}: {annotation!r}")
        group.add_argument(*flags, **kwargs)


def _load_responder(path: str) -> Responder:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise argparse.ArgumentTypeError(f'--responder must be "module:function", got {path!r}')
    module: types.ModuleType = importlib.import_module(module_name)
    responder = getattr(module, attr)
    if not callable(responder):
        raise argparse.ArgumentTypeError(f"{path} is not callable")
    return responder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agentflows_fake_provider",
        description="Fake OpenAI/Anthropic provider for tests and benchmarks. Prints "
        f'"{READY_PREFIX}<base url>" on stdout once it accepts connections.',
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (read it from the ready line)")
    parser.add_argument("--faults-json", default=None, help="a FaultConfig as JSON; individual flags override it")
    parser.add_argument("--responder", default=None, help='import path "module:function" of a responder')
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--max-log-entries", type=int, default=100_000)
    parser.add_argument("--ready-file", default=None, help="also write the base URL to this file when ready")
    _add_fault_arguments(parser)
    return parser


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    base: dict[str, Any] = json.loads(args.faults_json) if args.faults_json else {}
    for name in FaultConfig.model_fields:
        value = getattr(args, name)
        if value is not None:
            base[name] = value
    return FaultConfig.model_validate(base)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; the ready line carries the actual base URL (port 0 allowed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = faults_from_args(args)
    except (ValidationError, json.JSONDecodeError) as e:
        parser.error(str(e))
    responder = _load_responder(args.responder) if args.responder else None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    provider = FakeProvider(
        responder,
        faults,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        max_log_entries=args.max_log_entries,
    )
    with provider:
        if args.ready_file:
            Path(args.ready_file).write_text(provider.base_url)
        print(f"{READY_PREFIX}{provider.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0
