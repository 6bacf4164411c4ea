"""Thread-safe request/usage counters of the fake provider.

Benchmarks and tests compare what the *client* believes happened (SDK retries, pydantic-ai usage) with what
the *server* actually saw, so every model request is counted here, including rejected, dropped and hung ones.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RequestLogEntry", "Stats", "StatsRecorder"]


@dataclass(frozen=True)
class RequestLogEntry:
    """One model request as the server handled it.

    ``status`` is the HTTP status sent, or 0 when no response was sent: ``drop``, a ``timeout`` whose client
    gave up, or a client that timed out during the configured latency (``fault`` is ``None`` then, and no
    tokens are counted). ``fault`` is otherwise ``None`` for a normal reply, else the fault kind or
    ``'rate_limited'``.
    """

    time: float
    api: str
    model: str
    status: int
    fault: str | None
    duration_s: float
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Stats:
    """A consistent snapshot of the counters (safe to keep and compare; it is never mutated by the server)."""

    total_requests: int = 0
    successes: int = 0
    """Requests answered 200 with a model reply (including ``invalid_json`` ones, which are valid HTTP)."""
    by_api: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    """Injected faults by kind (``'429'``, ``'500'``, ``'503'``, ``'529'``, ``'drop'``, ``'timeout'``,
    ``'invalid_json'``, ``'responder_error'``) plus ``'rate_limited'`` for rpm/concurrency rejections."""
    input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    log: list[RequestLogEntry] = field(default_factory=list)

    @property
    def rate_limited(self) -> int:
        """Requests rejected by ``rpm_limit``/``max_concurrency``."""
        return self.faults.get("rate_limited", 0)

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as served by ``GET /_control/stats``."""
        data = asdict(self)
        data["rate_limited"] = self.rate_limited
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        """Rebuild a snapshot fetched over HTTP from a subprocess provider."""
        return cls(
            total_requests=data["total_requests"],
            successes=data["successes"],
            by_api=dict(data["by_api"]),
            by_model=dict(data["by_model"]),
            faults=dict(data["faults"]),
            input_tokens=data["input_tokens"],
            output_tokens=data["output_tokens"],
            in_flight=data.get("in_flight", 0),
            max_in_flight=data["max_in_flight"],
            log=[RequestLogEntry(**entry) for entry in data.get("log", [])],
        )


class StatsRecorder:
    """The live, lock-protected counters; :meth:`snapshot` returns an immutable-by-convention
    :class:`Stats`."""

    def __init__(self, max_log_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._max_log_entries = max_log_entries
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._total = 0
        self._successes = 0
        self._by_api: Counter[str] = Counter()
        self._by_model: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._input_tokens = 0
        self._output_tokens = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._log: deque[RequestLogEntry] = deque(maxlen=self._max_log_entries)

    def reset(self) -> None:
        """Zero everything except the current in-flight count (those requests are still running)."""
        with self._lock:
            in_flight = self._in_flight
            self._reset_locked()
            self._in_flight = in_flight
            self._max_in_flight = in_flight

    def request_started(self, api: str, model: str) -> float:
        """Count a model request on arrival; returns the start time to pass to :meth:`request_finished`."""
        with self._lock:
            self._total += 1
            self._by_api[api] += 1
            self._by_model[model] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        return time.monotonic()

    def request_finished(
        self,
        started: float,
        *,
        api: str,
        model: str,
        status: int,
        fault: str | None,
        success: bool,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        """Record the outcome; tokens are only added for successful replies, matching what the client is
        billed."""
        entry = RequestLogEntry(
            time=time.time(),
            api=api,
            model=model,
            status=status,
            fault=fault,
            duration_s=time.monotonic() - started,
            input_tokens=input_tokens if success else 0,
            output_tokens=output_tokens if success else 0,
        )
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if success:
                self._successes += 1
                self._input_tokens += input_tokens
                self._output_tokens += output_tokens
            if fault is not None:
                self._faults[fault] += 1
            self._log.append(entry)

    def snapshot(self, *, include_log: bool = True) -> Stats:
        with self._lock:
            return Stats(
                total_requests=self._total,
                successes=self._successes,
                by_api=dict(self._by_api),
                by_model=dict(self._by_model),
                faults=dict(self._faults),
                input_tokens=self._input_tokens,
                output_tokens=self._output_tokens,
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
                log=list(self._log) if include_log else [],
            )
