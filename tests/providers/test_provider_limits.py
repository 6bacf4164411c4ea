"""Client-side provider limits on the session's real Prefect server: requests in flight never exceed
the provider's limit, across processes (two event loops with their own pools stand in for two
workers), slots go back to Prefect when idle, and the per-minute rate paces requests."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agentflows.provider_limits import provider_slot
from agentflows.settings import get_settings

pytestmark = pytest.mark.e2e


class InFlight:
    def __init__(self) -> None:
        self.now = self.peak = self.done = 0
        self.lock = threading.Lock()

    async def request(self, provider: str, seconds: float) -> None:
        async with provider_slot(provider):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            await asyncio.sleep(seconds)
            with self.lock:
                self.now -= 1
                self.done += 1


def active_slots(name: str) -> int:
    from prefect.client.orchestration import get_client

    async def read() -> int:
        async with get_client() as client:
            return (await client.read_global_concurrency_limit_by_name(name)).active_slots

    return asyncio.run(read())


def test_requests_in_flight_never_exceed_the_limit_across_workers(prefect_server, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_PROVIDER_CONCURRENCY", '{"limits-test": 4}')
    get_settings.cache_clear()
    counter = InFlight()

    def worker() -> None:  # its own event loop: its own slot pool, like another process
        async def burst() -> None:
            await asyncio.gather(*(counter.request("limits-test", 0.1) for _ in range(15)))

        asyncio.run(burst())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert counter.done == 30
    assert counter.peak == 4, f"the limit is reached and never exceeded (peak {counter.peak})"
    deadline = time.monotonic() + 10
    while active_slots("model-concurrency-limits-test") and time.monotonic() < deadline:
        time.sleep(0.2)  # leases are returned in the background as each pool goes idle
    assert active_slots("model-concurrency-limits-test") == 0, "idle workers hold no slots"


def test_requests_per_minute_pace_a_burst(prefect_server, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_PROVIDER_RPM", '{"rpm-test": 600}')  # 10/s, a burst of 10
    get_settings.cache_clear()
    counter = InFlight()

    async def burst() -> float:
        started = time.monotonic()
        await asyncio.gather(*(counter.request("rpm-test", 0) for _ in range(30)))
        return time.monotonic() - started

    elapsed = asyncio.run(burst())
    assert counter.done == 30
    assert elapsed >= 1.5, f"30 requests at 10/s after a burst of 10 take about 2 s, not {elapsed:.2f} s"


def test_a_lone_workers_rate_is_paced_and_never_refused(prefect_server, monkeypatch):
    """Prefect decays a rate limit lazily and a refusal freezes it: a pool that asked for every token as it
    came was refused over and over and held 20-37 % of 600 requests/min. Reserving two seconds of tokens
    at a time, a lone worker is never refused, and requests never start faster than the rate allows."""
    from agentflows import provider_limits

    monkeypatch.setenv("AGENTFLOWS_PROVIDER_RPM", '{"reserve-test": 600}')  # 10/s
    get_settings.cache_clear()
    starts: list[float] = []

    async def request() -> None:
        async with provider_slot("reserve-test"):
            starts.append(time.monotonic())

    async def burst() -> int:
        await asyncio.gather(*(request() for _ in range(45)))
        pools = provider_limits._pools[asyncio.get_running_loop()]
        return pools["rpm:reserve-test"].refusals

    refusals = asyncio.run(burst())
    assert len(starts) == 45
    assert refusals == 0, f"Prefect refused the lone worker's reserve {refusals} times"
    starts.sort()
    for i, at in enumerate(starts):  # one second's burst, then at most 10 a second
        assert i + 1 <= 10 + 10 * (at - starts[0]) + 1, f"request {i + 1} started {at - starts[0]:.2f} s in"


def test_the_next_process_gets_its_rate_at_once_after_the_last_one_used_it_up(prefect_server, monkeypatch):
    """A batch ends holding most of the rate limit's tokens; they decay while nobody asks. The next
    process (its own event loop and pools, the limits set up again) must find them decayed: its first
    request starts at once, not after the tokens decay a second time."""
    from agentflows import provider_limits

    monkeypatch.setenv("AGENTFLOWS_PROVIDER_RPM", '{"next-run-test": 600}')  # 10/s, limit of 80 tokens
    get_settings.cache_clear()

    def one_process(requests: int) -> tuple[float, int]:
        provider_limits._limits_ready.discard("next-run-test")  # a new process sets its limits up again

        async def run() -> tuple[float, int]:
            started = time.monotonic()
            first: list[float] = []

            async def request() -> None:
                async with provider_slot("next-run-test"):
                    first.append(time.monotonic() - started)

            await asyncio.gather(*(request() for _ in range(requests)))
            return min(first), provider_limits._pools[asyncio.get_running_loop()]["rpm:next-run-test"].refusals

        return asyncio.run(run())

    one_process(30)  # leaves its unspent reserve taken in Prefect
    assert active_slots("model-rpm-next-run-test") >= 20
    time.sleep(8.5)  # 80 tokens decay at 10/s
    first, refusals = one_process(5)
    assert first < 1.0 and refusals == 0, f"first request after {first:.2f} s, {refusals} refusals"


def test_offline_and_unlimited_providers_take_no_slot(prefect_server, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_PROVIDER_CONCURRENCY", '{"someone-else": 1}')
    get_settings.cache_clear()
    counter = InFlight()

    async def many() -> None:
        await asyncio.gather(*(counter.request(p, 0.05) for p in ["offline", "unlimited"] * 10))

    asyncio.run(many())
    assert counter.peak == 20


def test_a_prefect_server_that_hiccups_fails_no_waiting_request(prefect_server, monkeypatch):
    """Two 503s from Prefect while requests wait for slots: they wait a little longer, none fails."""
    import httpx

    from agentflows import provider_limits

    monkeypatch.setenv("AGENTFLOWS_PROVIDER_CONCURRENCY", '{"hiccup-test": 2}')
    get_settings.cache_clear()
    real = provider_limits._increment
    failures = iter([True, True])

    async def flaky(name, slots, mode):  # type: ignore[no-untyped-def]
        if next(failures, False):
            request = httpx.Request("POST", "http://prefect/api/v2/concurrency_limits/increment-with-lease")
            raise httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))
        return await real(name, slots, mode)

    monkeypatch.setattr(provider_limits, "_increment", flaky)
    counter = InFlight()

    async def burst() -> None:
        await asyncio.gather(*(counter.request("hiccup-test", 0.05) for _ in range(6)))

    asyncio.run(burst())
    assert counter.done == 6 and counter.peak <= 2
