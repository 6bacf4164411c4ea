"""The workspace a run starts with: an unchanged folder costs a read, a changed one goes live at once.

The warm receiver starts hundreds of runs a minute; each used to parse and check every workspace file
and write the live mark. These tests hold the two promises that made skipping that safe: an edit is
still picked up by the very next run, and a return to an earlier version is recorded as live again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from agentflows.settings import get_settings
from agentflows.workspace import SHIPPED


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(folder))
    get_settings.cache_clear()
    return folder


def live_marks() -> dict[str, object]:
    from agentflows.db import session_scope
    from agentflows.db.workspace import WorkspaceSnapshot

    with session_scope() as session:
        return dict(session.execute(select(WorkspaceSnapshot.id, WorkspaceSnapshot.live_at)).tuples().all())


def test_an_unchanged_folder_is_parsed_once_and_writes_nothing(folder: Path, empty_db: str, monkeypatch):
    import tasks.workspace as module

    parsed: list[str] = []
    real = module.load_workspace
    monkeypatch.setattr(module, "load_workspace", lambda s: parsed.append(s.id) or real(s))
    monkeypatch.setattr(module, "_VALIDATED", {})

    first = module.active_workspace()
    marks = live_marks()
    for _ in range(5):
        assert module.active_workspace() is first
    assert parsed == [first.version], "one parse for one version"
    assert live_marks() == marks, "runs on an unchanged folder leave the database alone"


def test_an_edit_goes_live_on_the_next_run_and_going_back_is_live_again(folder: Path, empty_db: str):
    from tasks.workspace import active_workspace, last_live_version

    original = active_workspace()
    offer = folder / "knowledge" / "company.md"
    text = offer.read_text()
    offer.write_text(text + "\nA new line about the offer.\n")
    edited = active_workspace()
    assert edited.version != original.version and last_live_version() == edited.version
    assert "A new line about the offer." in edited.snapshot.text("knowledge/company.md")

    offer.write_text(text)
    assert active_workspace().version == original.version
    assert last_live_version() == original.version, "the earlier version is marked live again"
