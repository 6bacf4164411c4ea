"""A batch's prospects start a few at a time and widen as first model requests are answered."""

from __future__ import annotations

import asyncio

from flows.prospect_outreach import SlowStart


def test_four_start_then_each_answered_request_lets_two_more_in() -> None:
    async def scenario() -> list[int]:
        start, admitted, seen = SlowStart(first=4), [], []

        async def prospect(i: int) -> None:
            await start.admit()
            admitted.append(i)

        waiting = [asyncio.create_task(prospect(i)) for i in range(12)]
        await asyncio.sleep(0)
        seen.append(len(admitted))
        for _ in range(3):  # three prospects' first requests answered (or failed)
            start.reached()
            await asyncio.sleep(0)
            seen.append(len(admitted))
        for _ in range(2):
            start.reached()
        await asyncio.gather(*waiting)
        seen.append(len(admitted))
        return seen

    assert asyncio.run(scenario()) == [4, 6, 8, 10, 12]
