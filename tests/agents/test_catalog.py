"""The agents a workspace may configure are exactly the agents the code runs: an agent added in Python without
its name in `KNOWN_AGENTS` (or a shipped file) would be impossible to change from the workspace, and a name
left in `KNOWN_AGENTS` after its agent is gone would accept files that nothing reads."""

from __future__ import annotations

from pathlib import Path

from agents.catalog import COMPOSERS
from agents.outreach import writers
from agents.workspace.agent_files import KNOWN_AGENTS

SHIPPED_AGENTS = Path(__file__).resolve().parents[2] / "agentflows" / "data" / "workspace" / "agents"


def test_every_agent_but_the_writers_is_configured_by_a_file_of_its_name() -> None:
    assert set(KNOWN_AGENTS) == set(COMPOSERS) - {writers.NAME}
    assert len(KNOWN_AGENTS) == len(set(KNOWN_AGENTS))


def test_the_shipped_workspace_has_a_file_for_every_known_agent() -> None:
    shipped = {path.stem for path in SHIPPED_AGENTS.glob("*.yaml")}
    assert shipped == set(KNOWN_AGENTS)
