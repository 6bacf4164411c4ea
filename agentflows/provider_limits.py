"""Client-side provider limits on Prefect's global concurrency limits, without Prefect's per-request cost.

A provider's requests in flight and requests per minute are Prefect global concurrency limits
(`model-concurrency-<provider>`, `model-rpm-<provider>`), so every process and worker on one Prefect
server shares them, and they show (and can be changed) in the UI's Concurrency page.

Taking one slot per request with `prefect.concurrency.asyncio.concurrency()` costs ~90 ms and
Prefect serialises a process's acquisitions per limit, which caps a process at about 10-20 requests
per second whatever the limit says (measured: `benchmarks/throughput.py`). So each process leases
slots in batches and hands them out locally:

* `SlotPool` (in flight): waiting requests are served from leases the process already holds; when
  none is free, one filler leases what is waiting (at least `limit // 5`, at most what the process
  lacks of the limit) in a single call, halving the ask when the server says the limit is full and
  sleeping on its retry-after at one. A released slot goes straight to the next waiting request; a
  lease none of whose slots is in use goes back after `IDLE_S` (at once when the event loop closes).
  Leases are renewed while held and expire a minute after a process dies.
* `RatePool` (per minute): tokens are reserved from the rate limit every two seconds, keeping six
  seconds' worth in hand, and handed out locally at `RPM_PACE` (98 %) of the rate (Prefect's lazy decay punishes
  frequent small asks; see the class).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID
from weakref import WeakKeyDictionary

from agentflows.compat.prefect import loop_client, without_client_retries
from agentflows.settings import get_settings

logger = logging.getLogger("agentflows.models")
LEASE_S = 60.0
IDLE_S = 5.0  # how long a process keeps a lease none of its requests uses (see SlotPool)
PATIENCE_S = 300.0  # how long the pools keep asking a Prefect server that answers 503 or not at all
RESERVE_S = 2.0  # how often a rate pool asks Prefect for tokens (see RatePool)
RPM_PACE = 0.98
"""The share of a requests-per-minute limit handed out: a 2 % margin for the provider's own clock.

With at most one second's burst locally, any sliding minute then sees at most 98 % of the limit plus one
second's worth (600/min: 588 + 10 = 598). At 95 % (before) the pace itself capped a batch below the
>= 95 % of the limit a team pays for."""


async def _client() -> Any:
    """One Prefect client per event loop for the pools (opening one costs ~20 ms; pools call often)."""
    return await loop_client()


async def _increment(name: str, slots: int, mode: Literal["concurrency", "rate_limit"]) -> tuple[Any, float]:
    """(response, 0) when granted, (None, retry-after seconds) when the limit is full."""
    import httpx

    client = await _client()
    try:
        with without_client_retries():
            return await _ask(client, name, slots, mode), 0.0
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 423:
            raise
        return None, float(exc.response.headers.get("Retry-After", 1))


async def _ask(client: Any, name: str, slots: int, mode: Literal["concurrency", "rate_limit"]) -> Any:
    if mode == "concurrency":
        return await client.increment_concurrency_slots_with_lease(
            names=[name], slots=slots, mode=mode, lease_duration=LEASE_S
        )
    return await client.increment_concurrency_slots(names=[name], slots=slots, mode=mode)


async def _increment_patiently(
    name: str, slots: int, mode: Literal["concurrency", "rate_limit"], patience_s: float = PATIENCE_S
) -> tuple[Any, float]:
    """`_increment`, riding out a busy or restarting Prefect server (503s, dropped connections).

    One failure here would otherwise fail every request waiting on the pool at once. A SQLite Prefect
    server busy with a large batch's task runs answers limit updates 503 ("database is locked") again
    and again: a 1,000-prospect benchmark saw 80 s of them, and a pool that gave up after 30 s failed
    78 prospects together. So the pool keeps asking for `PATIENCE_S` (5 minutes): the first retries
    within a tenth of a second (such a 503 is usually a lost race), then backing off to 5 s.
    """
    deadline = time.monotonic() + patience_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _increment(name, slots, mode)
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise
            delay = min(0.1 * 2 ** (attempt - 1), 5.0) * (0.5 + random.random())
            log = logger.warning if attempt in (3, 10) or attempt % 30 == 0 else logger.debug
            log("Prefect did not answer a %s slot request (attempt %d: %s); retrying", name, attempt, exc)
            await asyncio.sleep(delay)


def _fail_all(waiters: deque[asyncio.Future[Any]], exc: BaseException) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(exc)
    waiters.clear()


@dataclass
class Lease:
    id: UUID
    slots: int
    in_use: int = 0


class SlotPool:
    """One process's (one event loop's) share of a provider's concurrency limit."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.batch = max(1, limit // 5)
        self.leases: dict[UUID, Lease] = {}
        self.waiters: deque[asyncio.Future[UUID]] = deque()
        self._filler: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._idle: set[asyncio.Task[None]] = set()

    async def acquire(self) -> UUID:
        lease = next((lease for lease in self.leases.values() if lease.in_use < lease.slots), None)
        if lease is not None:
            lease.in_use += 1
            return lease.id
        waiter: asyncio.Future[UUID] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if self._filler is None or self._filler.done():
            self._filler = asyncio.create_task(self._fill())
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted just as we were cancelled: give it back
                await asyncio.shield(self.release(waiter.result()))
            raise

    async def release(self, lease_id: UUID) -> None:
        """Hand the slot to the next waiting request, or return the lease once none of it is in use."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return
        while self.waiters:  # hand the slot straight to the next request
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(lease_id)
                return
        lease.in_use -= 1
        if lease.in_use == 0:
            task = asyncio.create_task(self._return_when_idle(lease_id))
            self._idle.add(task)
            task.add_done_callback(self._idle.discard)

    async def _return_when_idle(self, lease_id: UUID) -> None:
        """Give a lease nobody uses back to Prefect after `IDLE_S`, or at once when the event loop closes.

        A batch's next request is usually a moment away (the same prospect's next step): returning the
        lease at once and leasing again costs two writes that a Prefect server busy with the batch's task
        runs answers slowly, and requests stalled on them (measured: 5 s with nothing sent)."""
        try:
            await asyncio.sleep(IDLE_S)
        finally:  # also on cancellation: `asyncio.run` cancels what is left when a run's loop closes
            lease = self.leases.get(lease_id)
            if lease is not None and lease.in_use == 0:
                del self.leases[lease_id]
                await self._return(lease_id)

    def _wanted(self) -> int:
        """How many slots to ask for: what is waiting, at least a batch, never more than we lack of the limit."""
        held = sum(lease.slots for lease in self.leases.values())
        waiting = sum(not w.done() for w in self.waiters)
        return min(self.limit - held, max(self.batch, waiting))

    async def _fill(self) -> None:
        size = self._wanted()
        while any(not w.done() for w in self.waiters):
            if size < 1:  # this process holds the whole limit: its requests hand their slots on
                await asyncio.sleep(0.25)
                size = self._wanted()
                continue
            logger.debug("%s: asking for %d slots, holding %d leases", self.name, size, len(self.leases))
            try:
                answer, retry_after = await _increment_patiently(self.name, size, "concurrency")
            except Exception as exc:  # the server stayed away: fail the waiting requests, not the pool
                _fail_all(self.waiters, exc)
                return
            if answer is None:
                if size > 1:
                    size //= 2  # fewer may be free
                    if self.leases:  # our own requests hand their slots on meanwhile: do not hammer Prefect
                        await asyncio.sleep(0.25)
                else:
                    await asyncio.sleep(retry_after)
                continue
            lease = Lease(id=UUID(answer.json()["lease_id"]), slots=size)
            self.leases[lease.id] = lease
            while lease.in_use < lease.slots and self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    lease.in_use += 1
                    waiter.set_result(lease.id)
            if lease.in_use == 0:
                del self.leases[lease.id]
                await self._return(lease.id)
            size = self._wanted()
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.create_task(self._renew())

    async def _return(self, lease_id: UUID) -> None:
        try:
            await (await _client()).release_concurrency_slots_with_lease(lease_id)
        except Exception as exc:  # the lease expires on its own within LEASE_S
            logger.warning("could not return %s slots to Prefect (%s); they free up in %.0f s", self.name, exc, LEASE_S)

    async def _renew(self) -> None:
        while self.leases:
            await asyncio.sleep(LEASE_S / 3)
            try:
                client = await _client()
                for lease_id in list(self.leases):
                    await client.renew_concurrency_lease(lease_id, LEASE_S)
            except Exception as exc:
                logger.warning("could not renew %s leases: %s", self.name, exc)


class RatePool:
    """A provider's requests-per-minute limit: tokens reserved from Prefect every few seconds, paced out here.

    Prefect decays a rate limit lazily: each update subtracts `floor(rate x seconds since the last
    update)` and restarts the clock, so frequent small asks lose the fractions (at 10/s, asks every
    ~0.1 s lose about half the decay), and a refusal restarts the clock without decaying at all. A
    pool that asked for each second's tokens as they came held 20-37 % of 600 requests/min inside a
    flow. So this pool asks at most every `RESERVE_S`, keeping a reserve of three such periods (an ask
    answered late, by a busy server or an event loop busy with a batch's other work, does not starve
    the requests), waits Prefect's retry-after when it says no, and hands the reserved tokens out
    locally at `RPM_PACE` of the limit, with at most one second's burst. Prefect's limit holds eight
    seconds of tokens, so the fraction its decay loses never turns into a refusal for a lone worker.
    """

    def __init__(self, name: str, per_second: float, server_burst: int) -> None:
        self.name = name
        self.pace = per_second
        self.batch = max(1, min(server_burst, round(per_second * RESERVE_S)))
        self.depth = max(self.batch, min(server_burst - 1, 3 * self.batch))  # the reserve kept
        self.reserved = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.refusals = 0  # Prefect said no (another worker took the tokens); for tests and diagnostics
        self._filler: asyncio.Task[None] | None = None
        self._ask: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._local = max(1.0, per_second)  # local bucket: at most one second's burst
        self._at = time.monotonic()
        self._next_ask = 0.0

    async def take(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if self._filler is None or self._filler.done():
            self._filler = asyncio.create_task(self._fill())
        await waiter

    def _refill_local(self) -> None:
        now = time.monotonic()
        self._local = min(max(1.0, self.pace), self._local + (now - self._at) * self.pace)
        self._at = now

    async def _reserve(self, size: int) -> None:
        """One ask, in the background: a SQLite Prefect server busy with a batch's task runs can take
        seconds to answer, and the tokens already reserved keep flowing meanwhile."""
        asked = time.monotonic()
        try:
            answer, retry_after = await _increment_patiently(self.name, size, "rate_limit")
        except Exception as exc:  # the server stayed away: fail the waiting requests, not the pool
            _fail_all(self.waiters, exc)
        else:
            logger.debug(
                "%s: asked for %d tokens with %d in hand, %s after %.2f s",
                self.name,
                size,
                self.reserved,
                "granted" if answer else "refused",
                time.monotonic() - asked,
            )
            if answer is None:  # other workers took the tokens: ask again when Prefect says
                self.refusals += 1
                self._next_ask = time.monotonic() + max(retry_after, 0.5)
            else:
                self.reserved += size
        self._changed.set()

    async def _fill(self) -> None:
        while pending := sum(not w.done() for w in self.waiters):
            now = time.monotonic()
            asking = self._ask is not None and not self._ask.done()
            if not asking and now >= self._next_ask and self.reserved < self.depth:
                self._next_ask = now + RESERVE_S
                self._ask = asyncio.create_task(self._reserve(self.depth - self.reserved))
                asking = True
            self._refill_local()
            ready = min(pending, self.reserved, int(self._local))
            if ready >= 1:
                self._local -= ready
                self.reserved -= ready
                while ready and self.waiters:
                    waiter = self.waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
                        ready -= 1
                continue
            wait = (1 - self._local) / self.pace if self._local < 1 else 0.0
            if self.reserved < 1:  # until the ask in flight answers, or the next ask is due
                wait = max(wait, RESERVE_S if asking else self._next_ask - now)
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.005, wait))


_pools: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = WeakKeyDictionary()


def _pool(kind: str, provider: str, make: Any) -> Any:
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    key = f"{kind}:{provider}"
    if key not in pools:
        pools[key] = make()
    return pools[key]


def rate_burst(rpm: int) -> int:
    """The Prefect rate limit's size: eight seconds of the rate, room for one pool's reserve plus the
    tokens Prefect's lazy decay loses; sending stays paced by each pool."""
    return max(2, math.ceil(rpm * 8 / 60))


_limits_ready: set[str] = set()
_limits_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()


async def ensure_limits(provider: str) -> None:
    """Create (or update) this provider's Prefect limits once per process from the settings."""
    if provider in _limits_ready:
        return
    lock = _limits_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:  # a batch's first requests all arrive at once: one of them sets the limits up
        if provider not in _limits_ready:
            await _set_up_limits(provider)


async def _set_up_limits(provider: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    settings = get_settings()
    rpm, in_flight = settings.provider_rpm.get(provider), settings.provider_concurrency.get(provider)
    wanted: dict[str, tuple[int, float]] = {}
    if rpm:
        wanted[f"model-rpm-{provider}"] = (rate_burst(rpm), rpm / 60)
    if in_flight:
        wanted[f"model-concurrency-{provider}"] = (in_flight, 0.0)
    async with get_client() as client:
        for name, (limit, decay) in wanted.items():
            try:
                current = await client.read_global_concurrency_limit_by_name(name)
                # Only a changed setting is written: Prefect decays a rate limit from its `updated` time,
                # and an update restarts that clock without decaying the slots taken so far, so a new
                # process updating an unchanged limit froze the last run's tokens (its first request
                # then waited 7-8 s for them to decay again).
                if (current.limit, current.slot_decay_per_second) != (limit, decay):
                    await client.update_global_concurrency_limit(
                        name, GlobalConcurrencyLimitUpdate(limit=limit, slot_decay_per_second=decay)
                    )
            except ObjectNotFound:
                with suppress(ObjectAlreadyExists):  # another request of this process (or a worker) was first
                    await client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=decay)
                    )
    _limits_ready.add(provider)


@asynccontextmanager
async def provider_slot(provider: str) -> AsyncGenerator[None]:
    """Hold one request slot of `provider`: a slot in flight, then a token of its per-minute rate."""
    settings = get_settings()
    rpm, in_flight = settings.provider_rpm.get(provider), settings.provider_concurrency.get(provider)
    if provider == "offline" or not (rpm or in_flight):
        yield
        return
    await ensure_limits(provider)
    async with AsyncExitStack() as stack:
        if in_flight:
            pool: SlotPool = _pool(
                "concurrency", provider, lambda: SlotPool(f"model-concurrency-{provider}", in_flight)
            )
            stack.push_async_callback(pool.release, await pool.acquire())
        if rpm:
            # Paced just under the limit (RPM_PACE): the provider counts by its own clock, and Prefect's
            # lazy decay loses a fraction of a token per ask.
            pace = rpm / 60 * RPM_PACE
            rate: RatePool = _pool("rpm", provider, lambda: RatePool(f"model-rpm-{provider}", pace, rate_burst(rpm)))
            await rate.take()
        yield
