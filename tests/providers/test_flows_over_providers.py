"""Prospect outreach against a faulty provider, end to end on a real Prefect server: transient
faults do not lose prospects, a crashed batch run again pays only for what had not finished, and
a run's budget stops it before the request that would exceed it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from agentflows.db.usage import ModelUsage
from agentflows.settings import get_settings
from tests.helpers import reject_all_when_paused, run_in_background
from tests.providers.conftest import use_provider

pytestmark = pytest.mark.e2e


def usage() -> tuple[int, int, int]:
    with session_scope() as s:
        row = s.execute(
            select(func.count(ModelUsage.id), func.sum(ModelUsage.input_tokens), func.sum(ModelUsage.output_tokens))
        ).one()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def drafted() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count(OutreachDraft.id))) or 0


def test_batch_survives_30_percent_transient_failures(prefect_server, seeded_db, fake_provider, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    use_provider(monkeypatch, fake_provider, "openai-chat", retries=8)
    fake_provider.set_faults(seed=7, p_429=0.1, p_500=0.1, p_503=0.1, retry_after_s=0.02, latency_ms=20)
    ids = list(range(1, 21))
    bg = run_in_background(lambda: prospect_outreach(ids))
    reject_all_when_paused(ids, bg)
    summary = bg.join(180)
    assert [o.outcome for o in summary.outcomes] == ["rejected"] * 20, "every prospect was drafted and reviewed"
    assert drafted() == 20
    stats = fake_provider.stats
    assert stats.successes == 40, "2 requests per prospect (research, writing; rules route), each answered once"
    assert stats.total_requests - stats.successes == sum(stats.faults.values()) > 0
    assert usage() == (40, stats.input_tokens, stats.output_tokens), "usage in the database == provider's count"


def test_rerun_after_a_crash_does_not_repeat_completed_requests(prefect_server, seeded_db, fake_provider, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    use_provider(monkeypatch, fake_provider, "anthropic", retries=1)
    # the researcher succeeds (the rules route, no request), the writer's request fails twice (1 try + 1 retry)
    fake_provider.set_faults(script=["ok", "500", "500"], retry_after_s=0.02)
    with pytest.raises(RuntimeError, match=r"1 of 1 prospects failed.*provider failed"):
        asyncio.run(prospect_outreach([5]))
    assert fake_provider.stats.total_requests == 3 and drafted() == 0

    fake_provider.reset_stats()
    fake_provider.set_faults(script=[])
    bg = run_in_background(lambda: prospect_outreach([5]))
    reject_all_when_paused([5], bg)
    [outcome] = bg.join(120).outcomes
    assert outcome.outcome == "rejected" and drafted() == 1

    assert fake_provider.stats.total_requests == 1, "only the writer was asked again; the research replayed"
    assert usage()[0] == 2, "one request from the first run, one from the second"


def test_budget_stops_a_run_before_it_overspends(prefect_server, seeded_db, fake_provider, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    use_provider(monkeypatch, fake_provider, "openai-responses")
    monkeypatch.setenv("AGENTFLOWS_RUN_BUDGET_TOKENS", "2500")
    monkeypatch.setenv("AGENTFLOWS_MAX_PARALLEL_DRAFTS", "1")
    get_settings.cache_clear()
    bg = run_in_background(lambda: prospect_outreach([1, 2, 3, 4]))
    with pytest.raises(RuntimeError, match=r"token budget \(2,500\) would be exceeded.*Nothing more was sent"):
        bg.join(120)
    count, tokens_in, tokens_out = usage()
    assert 0 < count < 8 and tokens_in + tokens_out <= 2500
    assert fake_provider.stats.total_requests == count, "nothing was sent past the budget"
