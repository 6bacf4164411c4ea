"""A non-editable install carries, and finds, everything it needs at run time (issue 14, point 6).

The whole path (the pip `python3 -m venv` ships, `pip install .`, `agentflows seed`, `agentflows demo`
until three approvals wait) is `.ci/install-smoke`; it installs every dependency and takes minutes.
This is the cheap half that runs with the suite, in about 20 s:

- the wheel is built from the tracked files only (what a clean clone has), so a data file that exists
  in a working copy but is not declared as package data fails here, not on a user's machine;
- the wheel unpacked into a directory stands in for site-packages: a fresh interpreter whose path puts it
  first (the dev venv's editable finder comes after path entries) imports the project from there, from
  an unrelated working directory, and checks that prefect.yaml, the migrations, the shipped data and
  every deployment's flow resolve inside the install while `.env`, the data dir and the deployments'
  working directory are the working directory's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from agentflows.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agentflows", "flows", "tasks", "agents", "deployments")
RUN_TIME_FILES = (  # read by path at run time, not imported: the ones package-data must name
    "deployments/prefect.yaml",
    "agentflows/db/migrations/env.py",
    "agentflows/db/migrations/script.py.mako",
    "agentflows/data/workspace/fraud/rules.yaml",
    "agentflows/data/workspace/fraud/templates/README.md",
    "agentflows/data/workspace/writers/technical-buyer.md",
    "agentflows/data/workspace/agents/outreach-researcher.yaml",
    "agentflows/data/workspace/knowledge/company.md",
)


def tracked_files() -> list[str]:
    """The files of a clean clone: tracked plus new ones git does not ignore (what the smoke script copies)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of the tracked tree (no build/ or egg-info of a working copy)."""
    tmp = tmp_path_factory.mktemp("wheel")
    archive = tmp / "src.tar"
    with tarfile.open(archive, "w") as tar:
        for name in tracked_files():
            tar.add(ROOT / name, arcname=name)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / "src", filter="data")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-q", str(tmp / "src"), "-w", str(tmp)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = tmp.glob("agentflows-*.whl")
    return built


def test_wheel_carries_every_module_and_run_time_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {name for name in tracked_files() if name.split("/")[0] in PACKAGES}
    assert not shipped - names, f"tracked files the wheel leaves out: {sorted(shipped - names)}"
    assert set(RUN_TIME_FILES) <= names
    assert any(n.startswith("agentflows/db/migrations/versions/") and n.endswith(".py") for n in names)
    templates = "agentflows/data/workspace/fraud/templates/"
    assert len([n for n in names if n.startswith(templates) and n.endswith(".md")]) > 1
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "agentflows = agentflows.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_declares_the_html_cleaner_itself(wheel: Path) -> None:
    """justext asks for `lxml[html_clean]`, an extra pip 23.2 does not match to lxml's `html-clean`."""
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = Parser().parsestr(metadata).get_all("Requires-Dist") or []
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requires}
    assert {"lxml-html-clean", "trafilatura", "python-dotenv"} <= names


PROBE = r"""
import json, sys
from pathlib import Path

import agentflows, deployments, flows, tasks, agents
from agentflows.db.migrate import MIGRATIONS, upgrade
from agentflows.fraud_templates import SHIPPED
from agentflows.settings import get_settings
from deployments.serve import SPEC_FILE, build_deployments, load_specs, run_directory
from prefect.flows import load_flow_from_entrypoint
from tasks.fraud.risk import SHIPPED_RULES

settings = get_settings()
upgrade()  # the shipped migrations, into the data dir the working directory's .env names
specs = load_specs()
loaded = {s.module_entrypoint: load_flow_from_entrypoint(s.module_entrypoint) for s in specs}
pooled = build_deployments(work_pool="agentflows")
print(json.dumps({
    "packages": [m.__file__ for m in (agentflows, deployments, flows, tasks, agents)],
    "spec_file": str(SPEC_FILE),
    "deployments": len(specs),
    "flow_files": [sys.modules[f.fn.__module__].__file__ for f in loaded.values()],
    "entrypoints": sorted({d.entrypoint for d in pooled}),
    "pull_dirs": sorted({d.storage.to_pull_step()["prefect.deployments.steps.set_working_directory"]["directory"]
                         for d in pooled}),
    "run_directory": str(run_directory()),
    "data_dir": str(settings.data_dir),
    "sender_name": settings.sender_name,
    "database": Path(settings.db_url.removeprefix("sqlite:///")).is_file(),
    "migrations": [str(MIGRATIONS), len(list((MIGRATIONS / "versions").glob("*.py")))],
    "templates": [str(SHIPPED), len(list(SHIPPED.glob("*.md")))],
    "calibration": [str(SHIPPED_RULES), SHIPPED_RULES.is_file()],
}))
"""


def test_installed_layout_finds_its_files_and_runs_in_the_working_directory(wheel: Path, tmp_path: Path) -> None:
    site, run = tmp_path / "site", tmp_path / "run"
    zipfile.ZipFile(wheel).extractall(site)
    run.mkdir()
    (run / ".env").write_text("AGENTFLOWS_DATA_DIR=state\nAGENTFLOWS_SENDER_NAME=Dot Env\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTFLOWS_", "PREFECT_"))}
    env |= {"PYTHONPATH": str(site), "PREFECT_HOME": str(tmp_path / "prefect-home")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=run, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    def inside_site(path: str) -> bool:
        return Path(path).resolve().is_relative_to(site.resolve())

    assert all(inside_site(p) for p in found["packages"]), found["packages"]
    assert inside_site(found["spec_file"])
    assert found["deployments"] == 12 and len(found["flow_files"]) == 12
    assert all(inside_site(p) for p in found["flow_files"]), found["flow_files"]
    assert all(":" not in e and "/" not in e for e in found["entrypoints"]), found["entrypoints"]  # module paths
    assert found["pull_dirs"] == [str(run.resolve())]  # workers run flows where `up` ran, not in site-packages
    assert found["run_directory"] == str(run.resolve())
    assert found["data_dir"] == str((run / "state").resolve()) and found["database"]
    assert found["sender_name"] == "Dot Env"
    assert inside_site(found["migrations"][0]) and found["migrations"][1] > 0
    assert inside_site(found["templates"][0]) and found["templates"][1] > 1
    assert inside_site(found["calibration"][0]) and found["calibration"][1]
    assert not (site / ".agentflows").exists() and not (site / "state").exists()  # nothing written into the install


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and an environment without project settings."""
    for name in [n for n in os.environ if n.startswith("AGENTFLOWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _settings() -> Settings:
    """A fresh Settings (not the cached `get_settings()`), read in the current working directory."""
    return Settings()


def test_env_in_the_working_directory_is_read(workdir: Path) -> None:
    (workdir / ".env").write_text("AGENTFLOWS_SENDER_NAME=Working Dir\n")
    assert _settings().sender_name == "Working Dir"


def test_env_in_the_data_dir_is_read_and_beats_the_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workdir / "srv"
    data.mkdir()
    (data / ".env").write_text("AGENTFLOWS_SENDER_NAME=Data Dir\n")
    (workdir / ".env").write_text("AGENTFLOWS_SENDER_NAME=Working Dir\nAGENTFLOWS_SELLER_COMPANY=Local Co\n")
    monkeypatch.setenv("AGENTFLOWS_DATA_DIR", str(data))
    settings = _settings()
    assert (settings.sender_name, settings.seller_company) == ("Data Dir", "Local Co")
    monkeypatch.setenv("AGENTFLOWS_SENDER_NAME", "Environment")  # an explicit variable always wins
    assert _settings().sender_name == "Environment"


def test_data_dir_named_in_the_working_directory_env_is_followed(workdir: Path) -> None:
    (workdir / ".env").write_text("AGENTFLOWS_DATA_DIR=elsewhere\n")
    (workdir / "elsewhere").mkdir()
    (workdir / "elsewhere" / ".env").write_text("AGENTFLOWS_SENDER_NAME=Followed\n")
    settings = _settings()
    assert settings.data_dir == (workdir / "elsewhere").resolve() and settings.sender_name == "Followed"


def test_default_data_dir_env_is_read(workdir: Path) -> None:
    (workdir / ".agentflows").mkdir()
    (workdir / ".agentflows" / ".env").write_text("AGENTFLOWS_SENDER_NAME=Default Data Dir\n")
    assert _settings().sender_name == "Default Data Dir"
