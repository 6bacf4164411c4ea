"""Contract of `agentflows/compat/prefect_warm.py`: the engine still enters the UI-suspend observer by the
module attribute the switch wraps, and the switch skips it only inside its block."""

from __future__ import annotations

import inspect
from uuid import uuid4

import prefect.flow_engine as engine
from prefect._flow_run_suspension import FlowRunSuspensionRequest

from agentflows.compat.prefect_warm import install_suspension_observer_switch, without_suspension_observer


def test_the_engine_looks_the_observer_up_by_the_wrapped_name():
    source = inspect.getsource(engine.BaseFlowRunEngine.setup_flow_run_suspension_request)
    assert "observe_flow_run_suspension(" in source and "self.flow_run.deployment_id" in source
    install_suspension_observer_switch()
    install_suspension_observer_switch()  # idempotent: wrapped once
    assert engine.observe_flow_run_suspension.agentflows_switch is True


def test_the_switch_skips_the_observer_thread_only_inside_its_block(monkeypatch):
    started: list[str] = []
    import prefect._flow_run_suspension as suspension

    assert callable(suspension.observe_flow_run_suspension)  # the real observer still exists under its name
    monkeypatch.setattr(engine, "observe_flow_run_suspension", _spy(started))  # a fresh wrap around a spy
    install_suspension_observer_switch()
    with without_suspension_observer(), engine.observe_flow_run_suspension(uuid4(), FlowRunSuspensionRequest()):
        pass
    assert started == []
    with engine.observe_flow_run_suspension(uuid4(), FlowRunSuspensionRequest()):
        pass
    assert len(started) == 1


def _spy(started):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.append("observer")
        yield

    return spy
