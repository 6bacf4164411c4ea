"""Fault configuration and the deterministic engine that decides what happens to each request.

Everything random goes through RNGs seeded from :attr:`FaultConfig.seed`, so a sequential test sees the same
faults on every run. Faults are decided in a fixed order: rate limits (``max_concurrency``, ``rpm_limit``),
then the scripted queue, then ``fail_first_n``, then one uniform draw against the cumulative ``p_*``
probabilities. That order is what lets a test assert exact request counts, e.g. ``script=['429', 'ok']`` means
exactly two requests.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ERROR_FAULTS",
    "FaultConfig",
    "FaultDecision",
    "FaultEngine",
    "FaultKind",
    "retry_after_headers",
]

FaultKind = Literal["ok", "400", "429", "500", "503", "529", "drop", "timeout", "invalid_json"]
"""What happens to one request.

``ok`` serves the responder's reply, ``400``/``429``/``500``/``503``/``529`` answer with that status and the
provider's error JSON (``400``: a request the provider refuses, which the SDKs never retry), ``drop`` closes the
TCP connection without a response, ``timeout`` hangs for :attr:`FaultConfig.timeout_hang_s` before answering 504,
and ``invalid_json`` serves the reply with the first tool call's arguments corrupted (malformed JSON on OpenAI
routes, schema-violating object on Anthropic).
"""

ERROR_FAULTS: frozenset[str] = frozenset({"400", "429", "500", "503", "529"})
"""Fault kinds that are answered with an HTTP error status and the provider's error body."""

# "400" last: a new kind at the end leaves the draws of existing seeds as they were.
_PROBABILISTIC_ORDER: tuple[str, ...] = ("429", "500", "503", "529", "drop", "timeout", "invalid_json", "400")


class FaultConfig(BaseModel):
    """All knobs of the fake provider's misbehaviour; the default is a perfectly healthy, instant provider.

    It is a pydantic model so the same object can be built in Python, sent as JSON to ``POST
    /_control/faults`` and passed on the command line as ``--faults-json``, with validation in all three
    places.
    """

    # Frozen: a config is a value; change it with `set_faults(...)` so derived state (RNGs, script) resets.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = 0
    """Seed of the fault and latency RNGs; reset (re-seeded) whenever the config is (re)applied."""

    latency_ms: float = Field(0.0, ge=0)
    """Base latency added before every successful reply (async sleep, so it doesn't block other requests)."""
    latency_jitter_ms: float = Field(0.0, ge=0)
    """Latency spread: half-width (uniform), std-dev (normal) or mean of the exponential tail."""
    latency_distribution: Literal["uniform", "normal", "exponential"] = "uniform"
    error_latency_ms: float = Field(0.0, ge=0)
    """Delay before an injected error status (real rate-limit answers are fast, so the default is 0)."""

    p_429: float = Field(0.0, ge=0, le=1)
    p_500: float = Field(0.0, ge=0, le=1)
    p_503: float = Field(0.0, ge=0, le=1)
    p_529: float = Field(0.0, ge=0, le=1)
    p_drop: float = Field(0.0, ge=0, le=1)
    p_timeout: float = Field(0.0, ge=0, le=1)
    p_invalid_json: float = Field(0.0, ge=0, le=1)
    p_400: float = Field(0.0, ge=0, le=1)

    retry_after_s: float = Field(1.0, ge=0)
    """Wait suggested on injected error answers (429/500/503/529): ``retry-after`` (whole seconds, rounded up)
    and ``retry-after-ms`` (exact, and preferred by both SDKs), so retry timing in tests is short and exact.
    Rate-limit rejections compute their own exact value instead."""
    send_retry_after: bool = True
    """Whether injected errors carry ``retry-after``/``retry-after-ms`` at all (without it the SDKs back off
    exponentially from 0.5 s)."""
    should_retry: bool | None = None
    """If set, error answers carry ``x-should-retry: true|false``, which both SDKs obey over their own policy;
    use ``False`` to push retrying up to pydantic-ai/Prefect."""

    timeout_hang_s: float = Field(30.0, ge=0)
    """How long a ``timeout`` fault hangs before answering 504 (it stops early if the client goes away)."""

    fail_first_n: int = Field(0, ge=0)
    """The first N requests (after any ``script``) fail with :attr:`fail_kind`."""
    fail_kind: FaultKind = "500"
    script: list[FaultKind] = Field(default_factory=list)
    """Fault kinds for the next requests, in order; ``'ok'`` entries are served normally (no random faults)."""

    streaming: bool = True
    """Whether streamed requests (``"stream": true``) are served; ``False`` answers them 400 like a compatible
    server that has no streaming, while plain requests work as usual."""

    rpm_limit: int | None = Field(None, ge=1)
    """Requests admitted per sliding ``rpm_window_s``; excess ones get 429 with an exact ``retry-after``."""
    rpm_window_s: float = Field(60.0, gt=0)
    max_concurrency: int | None = Field(None, ge=1)
    """Admitted requests in flight at once; excess requests get 429 immediately."""

    @field_validator("fail_kind")
    @classmethod
    def _fail_kind_not_ok(cls, value: str) -> str:
        if value == "ok":
            raise ValueError("fail_kind can't be 'ok'")
        return value

    @model_validator(mode="after")
    def _probabilities_sum_to_at_most_one(self) -> FaultConfig:
        total = sum(self.probabilities().values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities sum to {total:.3f} > 1")
        return self

    def probabilities(self) -> dict[str, float]:
        """``{fault kind: probability}`` in the fixed order the single uniform draw is compared against."""
        return {kind: float(getattr(self, f"p_{kind}")) for kind in _PROBABILISTIC_ORDER}


@dataclass(frozen=True)
class FaultDecision:
    """What the engine decided for one request; ``rate_limited`` decisions are always ``kind='429'``."""

    kind: FaultKind
    rate_limited: bool = False
    retry_after_s: float | None = None
    source: Literal["none", "rate_limit", "concurrency", "script", "fail_first_n", "random"] = "none"

    @property
    def fault_label(self) -> str | None:
        """The label stats use: ``None`` for served requests, ``'rate_limited'`` for limiter rejections."""
        if self.rate_limited:
            return "rate_limited"
        return None if self.kind == "ok" else self.kind


class FaultEngine:
    """Thread-safe mutable state behind a :class:`FaultConfig`: RNGs, script queue, rpm window, in-flight
    count.

    One lock guards everything because decisions are made on the server's event loop while tests change the
    config from their own thread.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._monotonic = time.monotonic
        self._config = FaultConfig()
        self._fault_rng = random.Random(0)
        self._latency_rng = random.Random(1)
        self._script: deque[FaultKind] = deque()
        self._failed_first = 0
        self._window: deque[float] = deque()
        self._in_flight = 0
        self.set_config(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        """The active config (frozen, so it can be shared without copying)."""
        return self._config

    def set_config(self, config: FaultConfig) -> None:
        """Apply ``config`` and reset all derived state (RNGs, script queue, counters, rpm window)."""
        config = FaultConfig.model_validate(config.model_dump())
        with self._lock:
            self._config = config
            self._fault_rng = random.Random(config.seed)
            # A separate stream for latency, so changing latency settings doesn't shift which requests fault.
            self._latency_rng = random.Random(config.seed * 7919 + 1)
            self._script = deque(config.script)
            self._failed_first = 0
            self._window.clear()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def admit(self) -> FaultDecision | None:
        """Apply ``max_concurrency`` then ``rpm_limit``; ``None`` means admitted (call :meth:`release` after).

        Only admitted requests occupy the rpm window and concurrency slots, like real providers which don't
        charge rejected requests against the limit.
        """
        with self._lock:
            cfg = self._config
            now = self._monotonic()
            if cfg.max_concurrency is not None and self._in_flight >= cfg.max_concurrency:
                return FaultDecision(
                    "429",
                    rate_limited=True,
                    retry_after_s=max(cfg.retry_after_s, 0.001),
                    source="concurrency",
                )
            if cfg.rpm_limit is not None:
                horizon = now - cfg.rpm_window_s
                while self._window and self._window[0] <= horizon:
                    self._window.popleft()
                if len(self._window) >= cfg.rpm_limit:
                    wait = self._window[0] + cfg.rpm_window_s - now
                    return FaultDecision("429", rate_limited=True, retry_after_s=max(wait, 0.001), source="rate_limit")
                self._window.append(now)
            self._in_flight += 1
            return None

    def release(self) -> None:
        """Free the concurrency slot taken by :meth:`admit`."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def decide(self) -> FaultDecision:
        """Pick the fault for an admitted request: script, then ``fail_first_n``, then the random draw."""
        with self._lock:
            cfg = self._config
            if self._script:
                kind = self._script.popleft()
                return FaultDecision(kind, retry_after_s=self._retry_after(kind), source="script")
            if self._failed_first < cfg.fail_first_n:
                self._failed_first += 1
                return FaultDecision(
                    cfg.fail_kind, retry_after_s=self._retry_after(cfg.fail_kind), source="fail_first_n"
                )
            probabilities = cfg.probabilities()
            if not any(probabilities.values()):
                return FaultDecision("ok")
            draw = self._fault_rng.random()
            cumulative = 0.0
            for kind, p in probabilities.items():
                cumulative += p
                if draw < cumulative:
                    return FaultDecision(
                        kind,
                        retry_after_s=self._retry_after(kind),  # type: ignore[arg-type]
                        source="random",
                    )
            return FaultDecision("ok")

    def _retry_after(self, kind: str) -> float | None:
        return self._config.retry_after_s if kind in ERROR_FAULTS else None

    def sample_latency_s(self) -> float:
        """Latency for one successful reply, drawn from the configured distribution (never negative)."""
        with self._lock:
            cfg = self._config
            base = cfg.latency_ms
            jitter = cfg.latency_jitter_ms
            if jitter <= 0:
                return base / 1000.0
            if cfg.latency_distribution == "uniform":
                ms = base + self._latency_rng.uniform(-jitter, jitter)
            elif cfg.latency_distribution == "normal":
                ms = self._latency_rng.gauss(base, jitter)
            else:
                ms = base + self._latency_rng.expovariate(1.0 / jitter)
            return max(0.0, ms) / 1000.0


def retry_after_headers(seconds: float | None) -> dict[str, str]:
    """``retry-after`` in whole seconds (HTTP only allows integers; rounded up, at least 1) plus exact
    ``retry-after-ms``, which both SDKs prefer, so sub-second waits keep tests fast."""
    if seconds is None:
        return {}
    return {
        "retry-after": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(max(1, round(seconds * 1000))),
    }


assert set(get_args(FaultKind)) == {"ok", *_PROBABILISTIC_ORDER}
