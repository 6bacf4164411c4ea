"""`agentflows workspace check`: every broken file is named with its line, and nothing invalid goes live."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from agentflows.settings import get_settings
from agentflows.workspace import SHIPPED, Snapshot, WorkspaceFolderError, read_folder, shipped_snapshot
from agents.workspace import check


def edited(**files: str | None) -> Snapshot:
    """The shipped workspace with some files replaced (None: removed)."""
    contents = dict(shipped_snapshot().files)
    for path, text in files.items():
        path = path.replace("__", "/")
        if text is None:
            contents.pop(path, None)
        else:
            contents[path] = text
    return Snapshot(contents)


def messages(snapshot: Snapshot) -> list[str]:
    return [str(p) for p in check(snapshot)]


WRITER = """---
name: finance-leader
description: Finance leaders at companies that are not customers yet.
route_when:
  is_customer: false
  department: [Finance]
priority: 25
angles:
  - {angle: faster close, subject: "A faster month-end at {company}", opening: "Month-end should not take a week."}
  - {angle: audit trail, subject: "Numbers you can trace", opening: "Auditors ask where each number came from."}
  - {angle: forecast, subject: "Forecasts from live data", opening: "A forecast is only as fresh as its data."}
---
Your reader runs finance: be precise, cite numbers, no hype.
"""


def test_the_shipped_workspace_passes():
    assert messages(shipped_snapshot()) == []


def test_a_new_writer_file_adds_a_writer_type():
    assert messages(edited(writers__finance_leader=None, **{"writers/finance-leader.md": WRITER})) == []


def test_broken_yaml_is_reported_with_file_and_line():
    broken = WRITER.replace("priority: 25", "priority: [25")
    [problem] = messages(edited(**{"writers/finance-leader.md": broken}))
    assert problem.startswith("writers/finance-leader.md:") and "YAML does not parse" in problem
    assert int(problem.split(":")[1]) >= 8


def test_a_writer_with_two_angles_is_refused():
    two = "\n".join(line for line in WRITER.splitlines() if "angle: forecast" not in line)
    [problem] = messages(edited(**{"writers/finance-leader.md": two}))
    assert "writers/finance-leader.md:8" in problem and "at least 3" in problem


def test_an_unknown_routing_field_names_the_field():
    bad = WRITER.replace("department: [Finance]", "departement: [Finance]")
    problems = messages(edited(**{"writers/finance-leader.md": bad}))
    assert any("writers/finance-leader.md:4" in p and "departement" in p for p in problems), problems


def test_an_unknown_template_variable_is_refused():
    bad = WRITER.replace("{company}", "{compnay}")
    [problem] = messages(edited(**{"writers/finance-leader.md": bad}))
    assert "{compnay}" in problem and "does not exist" in problem


def test_two_writers_for_the_same_prospect_at_the_same_priority_show_an_example():
    clash = WRITER.replace("priority: 25", "priority: 20")  # technical-buyer is 20 too; a Finance "Data" role is both
    problems = messages(edited(**{"writers/finance-leader.md": clash}))
    assert any("same priority 20" in p and "department=Finance" in p for p in problems), problems


def test_an_agent_file_for_an_unknown_agent_and_unknown_fields():
    problems = messages(
        edited(
            **{
                "agents/outreach-reseacher.yaml": "instructions: hi\n",
                "agents/outreach-router.yaml": "instructions: choose\noutput_schema: {}\ntemperature: 2\n",
            }
        )
    )
    assert any(p.startswith("agents/outreach-reseacher.yaml:1") and "unknown agent" in p for p in problems)
    assert any(p.startswith("agents/outreach-router.yaml:2") and "fixed in code" in p for p in problems)
    assert any(p.startswith("agents/outreach-router.yaml:3") and "unknown field `temperature`" in p for p in problems)


def test_a_knowledge_file_without_sections_and_a_missing_seller():
    problems = messages(edited(**{"knowledge/notes.md": "just some text\n", "knowledge/company.md": None}))
    assert any(p.startswith("knowledge/notes.md:1") and "no sections" in p for p in problems), problems
    problems = messages(edited(**{"knowledge/company.md": None}))
    assert any("no file names the seller" in p for p in problems), problems


def test_a_missing_or_empty_proposal_folder_is_refused(tmp_path: Path):
    with pytest.raises(WorkspaceFolderError, match="no such folder"):
        read_folder(tmp_path / "nope")
    (tmp_path / "empty" / "writers").mkdir(parents=True)
    with pytest.raises(WorkspaceFolderError, match="no workspace files"):
        read_folder(tmp_path / "empty")


def test_an_invalid_edit_never_goes_live(monkeypatch, tmp_path: Path, empty_db):
    from tasks.workspace import active_workspace

    folder = tmp_path / "ws"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(folder))
    get_settings.cache_clear()
    good = active_workspace()
    (folder / "writers" / "finance-leader.md").write_text(WRITER.replace("priority: 25", "priority: [25"))
    seen: list[str] = []
    log = logging.getLogger("test.workspace")
    log.addHandler(handler := logging.Handler())
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    try:
        kept = active_workspace(log)  # a flow passes its run logger
    finally:
        log.removeHandler(handler)
    assert kept.version == good.version and "finance-leader" not in kept.writers
    assert "writers/finance-leader.md:8" in seen[0] and "last valid version" in seen[0]
    (folder / "writers" / "finance-leader.md").write_text(WRITER)
    assert "finance-leader" in active_workspace().writers, "the next run picks up a valid change"


def test_nested_model_settings_keep_an_agent_file_usable_as_a_cache_key():
    from agents.workspace import load_workspace

    text = shipped_snapshot().text("agents/outreach-researcher.yaml") + (
        "model_settings:\n  temperature: 0.2\n  extra_body:\n    reasoning: {effort: low}\n"
    )
    file = load_workspace(edited(**{"agents/outreach-researcher.yaml": text})).agent("outreach-researcher")
    assert hash(file) is not None
    assert file.settings_dict == {"temperature": 0.2, "extra_body": {"reasoning": {"effort": "low"}}}


def test_two_runs_storing_the_same_new_version_at_once_both_succeed(empty_db):
    from concurrent.futures import ThreadPoolExecutor

    from tasks.workspace import last_live_version, store_snapshot

    snapshot = edited(**{"writers/finance-leader.md": WRITER})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: store_snapshot(snapshot, live=True), range(16)))
    assert last_live_version() == snapshot.id
