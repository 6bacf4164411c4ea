"""`agentflows.run_milestones`: the in-process "plan stored" signal the warm landing answer leaves on.

Only a waiter that said beforehand what it waits for hears a milestone (a runner's process, where nobody
expects anything, keeps nothing), and a run's expectations go away when it ends.
"""

from __future__ import annotations

import asyncio

from agentflows import run_milestones
from agentflows.run_milestones import ANSWER_STORED


def test_an_expected_milestone_wakes_its_waiter_and_is_forgotten_with_the_run():
    async def scenario() -> tuple[bool, bool, bool]:
        run_milestones.expect("run-a", ANSWER_STORED)
        waiter = asyncio.create_task(run_milestones.wait("run-a", ANSWER_STORED, timeout=5))
        await asyncio.sleep(0.01)
        run_milestones.reach("run-a", ANSWER_STORED)
        heard = await waiter
        other = await run_milestones.wait("run-b", ANSWER_STORED, timeout=0.05)  # never expected: not heard
        run_milestones.forget("run-a")
        after = await run_milestones.wait("run-a", ANSWER_STORED, timeout=0.05)
        return heard, other, after

    assert asyncio.run(scenario()) == (True, False, False)


def test_reaching_a_milestone_nobody_expects_keeps_nothing():
    run_milestones.reach("run-c", ANSWER_STORED)  # a runner's subprocess: nobody waits
    assert not any(key[0] == "run-c" for key in run_milestones._expected)


def test_a_waiter_gives_up_at_its_timeout():
    async def scenario() -> bool:
        run_milestones.expect("run-d", ANSWER_STORED)
        try:
            return await run_milestones.wait("run-d", ANSWER_STORED, timeout=0.05)
        finally:
            run_milestones.forget("run-d")

    assert asyncio.run(scenario()) is False
