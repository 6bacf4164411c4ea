"""prefect.yaml is the one declaration: `prefect deploy --all` accepts it, and `serve.py` builds the same.

`prefect deploy --all` runs as a user would run it (the Prefect CLI, from the project root) against
the session's Prefect server with a process work pool; what it registered is read back from the API.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentflows.cli import app as cli_app
from agentflows.settings import get_settings
from deployments.serve import build_deployments, load_specs
from deployments.webhooks import FRAUD_CHECK, LANDING_PLAN, OUTREACH

STARTS_PROCESSES = True  # a process-pool worker per test: scheduled first under `make test` (tests/conftest.py)

EXPECTED = {
    "prospect-outreach/on-demand": (None, 4),
    "prospect-batch/weekday-mornings": ("0 8 * * 1-5", 1),
    "outreach-approval/on-demand": (None, None),  # one per draft, each suspended until answered: no cap
    "approval-expiry/every-15-minutes": ("*/15 * * * *", 1),
    "fraud-check/on-demand": (None, 8),
    "fraud-sweep/every-15-minutes": ("*/15 * * * *", 2),
    "fraud-fanout/on-demand": (None, 2),
    "fraud-claims/on-demand": (None, 8),
    "landing-plan/on-demand": (None, 8),
    "workspace-change/on-demand": (None, 4),
    "crm-sync/hourly": ("0 * * * *", 1),  # both sync schedules ship switched off (tests/importing/test_crm_sync.py)
    "marketplace-sync/hourly": ("30 * * * *", 1),
}


def test_spec_declares_every_flow_with_schedules_and_limits():
    specs = {s.full_name: s for s in load_specs()}
    assert set(specs) == set(EXPECTED)
    assert {OUTREACH, FRAUD_CHECK, LANDING_PLAN} <= set(specs)  # the receiver starts these
    for name, (cron, limit) in EXPECTED.items():
        assert [s.cron for s in specs[name].schedules] == ([cron] if cron else []), name
        assert specs[name].concurrency_limit == limit, name


def test_schedules_setting_switches_schedules_off(monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_SCHEDULES_ENABLED", "false")
    get_settings.cache_clear()
    try:
        built = {d.full_name: d for d in build_deployments()}
    finally:
        get_settings.cache_clear()
    schedules = [s for d in built.values() for s in d.schedules]
    assert len(schedules) == 5 and not any(s.active for s in schedules)
    assert all(d.entrypoint == spec.module_entrypoint for d, spec in zip(built.values(), load_specs(), strict=True))


@pytest.mark.e2e
def test_active_schedules_create_runs(trigger_deployments):
    """Prefect 3.8's scheduler silently created nothing on SQLAlchemy 2.1; this is the guard."""
    from tests.triggers.conftest import count_runs

    sweep = trigger_deployments["fraud-sweep/every-15-minutes"]
    deadline = time.monotonic() + 30
    while count_runs(sweep) == 0:
        assert time.monotonic() < deadline, "the scheduler created no run for an active cron schedule"
        time.sleep(1)


@pytest.mark.e2e
def test_prefect_deploy_all_registers_every_deployment_on_a_process_pool(prefect_server, project_root: Path):
    from prefect.client.orchestration import get_client

    env = os.environ | {"PREFECT_API_URL": prefect_server}
    prefect = str(Path(sys.executable).with_name("prefect"))
    subprocess.run(
        [prefect, "work-pool", "create", "agentflows", "--type", "process", "--overwrite"],
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [
            prefect,
            "--no-prompt",
            "deploy",
            "--all",
            "--prefect-file",
            "deployments/prefect.yaml",
        ],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return {name: await client.read_deployment_by_name(name) for name in EXPECTED}

    deployed = asyncio.run(read())
    for name, (cron, limit) in EXPECTED.items():
        d = deployed[name]
        assert d.work_pool_name == "agentflows", name
        assert [s.schedule.cron for s in d.schedules] == ([cron] if cron else []), name
        deployed_limit = d.global_concurrency_limit.limit if d.global_concurrency_limit else None
        assert deployed_limit == limit, name
        step = d.pull_steps[0]["prefect.deployments.steps.set_working_directory"]
        assert Path(step["directory"]) == project_root, name

    shown = CliRunner().invoke(cli_app, ["deployments"])
    assert shown.exit_code == 0, shown.output
    for name in EXPECTED:
        assert name.split("/")[0] in shown.output
