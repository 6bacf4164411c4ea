"""The deployments of `prefect.yaml`, served by one runner or applied to a process work pool.

`prefect.yaml` is the one declaration (names, entrypoints, parameters, schedules, concurrency);
this module turns it into Prefect `RunnerDeployment`s so `agentflows up` and `prefect deploy --all`
deploy exactly the same thing. `AGENTFLOWS_SCHEDULES_ENABLED=false` deploys the schedules inactive
(they still show in the UI, switched off). Serving or applying also creates (or updates) the
stale-approval automation (`agentflows.stale_approvals`).

    python -m deployments.serve                  # serve every deployment from this process
    python -m deployments.serve --pool agentflows  # apply them to a process work pool and exit

Where the code and the state come from, so a plain `pip install agentflows` (no checkout) runs:

- entrypoints become module paths (`flows.prospect_outreach.prospect_outreach`): flow runs import
  the installed packages, wherever they are installed (site-packages or an editable checkout), and
  never depend on the directory a run starts in; `prefect.yaml` keeps file paths for `prefect deploy`
  from a checkout;
- flow runs start in `run_directory()`, the directory `agentflows up` runs in: its `.env` and the
  default data dir (`./.agentflows`) are the stack's. Served runs inherit it from the runner; on a
  work pool the pull step `set_working_directory` names it.

Prefect is imported inside the functions: Prefect reads its settings at import, after
`configure_prefect_env()` has run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agentflows.settings import Settings, get_settings
from agentflows.stale_approvals import ensure_stale_automation_sync

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

SPEC_FILE = Path(__file__).with_name("prefect.yaml")  # package data: in the wheel next to this module


def run_directory() -> Path:
    """The working directory of the stack's processes and flow runs: the one `up`/`serve` runs in.

    Not this file's project directory: in a non-editable install that is site-packages, where neither
    the user's `.env` nor their `.agentflows` lives (and nothing should be written).
    """
    return Path.cwd().resolve()


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str
    timezone: str = "UTC"
    active: bool = True


class DeploymentSpec(BaseModel):
    """One entry of `prefect.yaml`'s `deployments:` list (the fields this project uses)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    entrypoint: str = Field(pattern=r"^[\w/]+\.py:\w+$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    concurrency_limit: int | None = Field(default=None, ge=1)

    @cached_property
    def flow(self) -> Flow[..., Any]:
        """The flow object, imported as a module of the installed project (not loaded as a script)."""
        path, function = self.entrypoint.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        return getattr(module, function)

    @property
    def module_entrypoint(self) -> str:
        """The entrypoint as Prefect's module path (`package.module.function`, no colon).

        Prefect imports a module path as an installed module (no script loading relative to the working
        directory, no code download from the deployment's `path`), so served runs use the installed code.
        """
        path, function = self.entrypoint.split(":")
        return f"{path.removesuffix('.py').replace('/', '.')}.{function}"

    @property
    def full_name(self) -> str:
        """`<flow name>/<deployment name>`, as Prefect and `run_deployment` name it."""
        return f"{self.flow.name}/{self.name}"


def load_specs(path: Path = SPEC_FILE) -> list[DeploymentSpec]:
    document = yaml.safe_load(path.read_text())
    return [DeploymentSpec.model_validate(entry) for entry in document["deployments"]]


def build_deployments(settings: Settings | None = None, work_pool: str | None = None) -> list[RunnerDeployment]:
    """RunnerDeployments for every spec; with `work_pool`, their runs start in `run_directory()`."""
    from prefect.runner.storage import LocalStorage
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    settings = settings or get_settings()
    deployments = []
    for spec in load_specs():
        deployment = spec.flow.to_deployment(
            name=spec.name,
            description=spec.description,
            tags=spec.tags,
            parameters=spec.parameters,
            schedules=[
                Cron(s.cron, timezone=s.timezone, active=s.active and settings.schedules_enabled)
                for s in spec.schedules
            ],
            concurrency_limit=spec.concurrency_limit,
            paused=False,  # a runner that stopped pauses its deployments; serving again resumes them
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        deployment.entrypoint = spec.module_entrypoint  # the same whatever the caller's cwd
        if work_pool:
            deployment.storage = LocalStorage(str(run_directory()))  # pull step: set_working_directory
        deployments.append(deployment)
    return deployments


def apply_to_pool(work_pool: str, settings: Settings | None = None) -> list[str]:
    """Create the process work pool if needed and register every deployment on it; returns names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def ensure_pool() -> None:
        async with get_client() as client:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=work_pool, type="process"))

    run_coro_as_sync(ensure_pool())
    names = []
    for deployment in build_deployments(settings, work_pool=work_pool):
        deployment.apply(work_pool_name=work_pool)
        names.append(deployment.full_name)
    print(ensure_stale_automation_sync(settings), flush=True)
    return names


def serve_all(settings: Settings | None = None) -> None:
    """Serve every deployment from this process until interrupted (flow runs are subprocesses)."""
    from prefect import serve

    from agentflows.compat.prefect_runner import install_paused_run_guard

    install_paused_run_guard()  # a run the receiver claimed and suspended meanwhile must not kill the runner
    deployments = build_deployments(settings)
    print(ensure_stale_automation_sync(settings), flush=True)  # in the runner's log
    serve(*deployments, print_starting_message=False)


def main() -> None:
    from agentflows.prefect_env import configure_prefect_env

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", help="apply the deployments to this process work pool and exit")
    args = parser.parse_args()
    configure_prefect_env()
    if args.pool:
        for name in apply_to_pool(args.pool):
            print(f"deployed {name} to work pool {args.pool}")
    else:
        serve_all()


if __name__ == "__main__":
    main()
