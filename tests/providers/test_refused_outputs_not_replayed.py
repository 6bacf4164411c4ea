"""Cache only what validated: a model answer that output validation refused is never replayed.

Model requests are Prefect tasks cached on their inputs (`AGENTFLOWS_MODEL_CACHE=inputs`), so a re-run
of the same prospects replays what finished. Before `agents.durable.ForgetRefusedResponses`, that
included answers the validators had refused: once a provider had returned invalid drafts until the
writer gave up, re-running the same prospect after the provider was fixed sent 0 requests, replayed
the invalid answers and failed again. End to end on the real Prefect server, with the fake provider.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentflows_fake_provider import FakeProvider, FakeReply, FakeRequest, FaultConfig
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from agentflows.settings import get_settings
from agents.prompting import parse_prompt
from tests.helpers import reject_all_when_paused, run_in_background
from tests.providers.conftest import use_provider
from tests.providers.responders import offline_responder

pytestmark = pytest.mark.e2e


def agent_of(request: FakeRequest) -> str:
    prompt = next(str(m["content"]) for m in request.messages if '<data kind="' in str(m.get("content")))
    return parse_prompt(prompt)[0]


class BreakableProvider:
    """The offline answers, except that while `broken` the writer cites a fact the brief does not have."""

    def __init__(self) -> None:
        self.broken = True

    def __call__(self, request: FakeRequest) -> FakeReply:
        reply = offline_responder(request)
        if self.broken and agent_of(request) == "outreach-writer":
            [(tool, output)] = reply.tool_calls
            for variant in output["variants"]:
                variant["facts_used"] = ["F99"]
            reply = FakeReply(tool_calls=[(tool, output)])
        return reply


@pytest.fixture
def breakable(monkeypatch: pytest.MonkeyPatch) -> Any:
    responder = BreakableProvider()
    with FakeProvider(responder=responder, faults=FaultConfig(retry_after_s=0.05)) as fp:
        use_provider(monkeypatch, fp, "anthropic")
        yield fp, responder
    get_settings.cache_clear()
    from agents.catalog import clear_agent_caches

    clear_agent_caches()


def by_agent(fp: FakeProvider) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in fp.requests:
        counts[agent_of(request)] = counts.get(agent_of(request), 0) + 1
    return counts


def test_a_refused_answer_is_sent_again_after_the_provider_is_fixed(prefect_server, seeded_db, breakable):
    from flows.prospect_outreach import prospect_outreach

    fp, responder = breakable
    assert get_settings().model_cache == "inputs", "re-runs replay completed requests (the default)"
    with pytest.raises(RuntimeError, match=r"1 of 1 prospects failed.*cites facts not in the brief.*F99"):
        asyncio.run(prospect_outreach([5]))
    attempts = get_settings().output_retries + 1
    assert by_agent(fp) == {"outreach-researcher": 1, "outreach-writer": attempts}, "the writer gave up"

    responder.broken = False  # the provider is fixed; the same prospect is run again
    fp.reset_stats()
    bg = run_in_background(lambda: prospect_outreach([5]))
    reject_all_when_paused([5], bg)
    [outcome] = bg.join(120).outcomes
    assert outcome.outcome == "rejected", "drafted and reviewed this time"
    with session_scope() as session:
        assert session.scalar(select(func.count(OutreachDraft.id))) == 1
    assert by_agent(fp) == {"outreach-writer": 1}, "the refused writer request was sent again; the research replayed"
    assert fp.stats.successes == 1
