"""Where approvals wait: the rule `prospect-outreach` and the fraud check follow."""

from __future__ import annotations

import pytest

from agentflows.human_input import served_by_a_worker, waits_without_a_process
from agentflows.settings import get_settings


@pytest.mark.parametrize(
    ("mode", "worker_process", "dispatch", "suspend"),
    [
        ("auto", False, False, False),  # a terminal: approvals pause in this process
        ("auto", True, True, False),  # a runner's process (e.g. the scheduled batch's subflow): own runs
        ("pause", True, False, False),
        ("suspend", False, True, True),
    ],
)
def test_where_approvals_wait(monkeypatch, mode, worker_process, dispatch, suspend):
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", mode)
    if worker_process:
        monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000001")
    else:
        monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    get_settings.cache_clear()
    try:
        assert served_by_a_worker() is dispatch
        assert waits_without_a_process() is suspend  # outside any flow run: only a forced mode suspends
    finally:
        get_settings.cache_clear()
