"""`agentflows workspace check / show / export`: what an analyst types, and what they see."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.settings import get_settings
from agentflows.workspace import SHIPPED, read_folder
from tests.workspace.test_check import WRITER


@pytest.fixture
def active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_db) -> Path:
    folder = tmp_path / "active"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(folder))
    get_settings.cache_clear()
    return folder


def run(*args: str):
    return CliRunner().invoke(app, ["workspace", *args], env={"COLUMNS": "250"})


def test_check_passes_the_active_workspace_and_names_each_broken_line(active: Path, tmp_path: Path):
    ok = run("check")
    assert ok.exit_code == 0 and f"version {read_folder(active).id}" in ok.output
    proposal = tmp_path / "proposal"
    shutil.copytree(active, proposal)
    (proposal / "writers" / "finance-leader.md").write_text(WRITER.replace("priority: 25", "priority: [25"))
    (proposal / "knowledge" / "notes.md").write_text("no headings here\n")
    bad = run("check", str(proposal))
    assert bad.exit_code == 1
    assert "writers/finance-leader.md:8: YAML does not parse" in bad.output
    assert "knowledge/notes.md:1: no sections" in bad.output and "2 problem(s)" in bad.output
    assert run("check", str(tmp_path / "missing")).exit_code == 1


def test_propose_refuses_a_broken_folder_before_any_server_is_asked(active: Path, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    result = run("propose", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "no workspace files" in result.output and "nothing was proposed" in result.output


def test_show_lists_files_and_export_writes_a_version_back_for_a_rollback(active: Path, tmp_path: Path):
    from tasks.workspace import active_workspace

    old = active_workspace().version
    (active / "writers" / "finance-leader.md").write_text(WRITER)
    new = active_workspace().version
    assert new != old
    shown = run("show")
    assert shown.exit_code == 0 and new in shown.output and "writers/finance-leader.md" in shown.output
    exported = run("export", old, str(tmp_path / "rollback"))
    assert exported.exit_code == 0, exported.output
    assert read_folder(tmp_path / "rollback").id == old, "the exported folder is exactly the old version"
    assert run("export", "000000000000", str(tmp_path / "nope")).exit_code == 2
