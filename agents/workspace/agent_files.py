"""`agents/<agent-name>.yaml`: what an agent is told, its model and settings, in pydantic-ai's own format.

The file is a pydantic-ai `AgentSpec` (the format `Agent.from_file` reads), validated by pydantic-ai
itself, so its field names and meaning are pydantic-ai's documented ones. We read only the fields a
domain team may change: `instructions` (or `instructions_file`, a Markdown file beside it, via
`metadata`), `model`, `model_settings` and `retries` (output retries). The output type is bound in
Python by the agent's name: a file can change what an agent is told, never the shape of its answer;
a spec's `output_schema`, `deps_schema` or `capabilities` are refused rather than silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_ai.agent.spec import AgentSpec

from agents.workspace.files import Problem, WorkspaceInvalid, line_of, load_yaml

KNOWN_AGENTS = (
    "outreach-researcher",
    "outreach-router",
    "fraud-signal-address",
    "fraud-signal-return-distance",
    "fraud-signal-customer",
    "fraud-signal-tracking",
    "fraud-signal-payment",
    "fraud-signal-conversation",
    "fraud-orchestrator",
    "landing-planner",
)
"""Every agent configured by a file in `agents/` (the writers are `writers/*.md`); tests/agents/test_catalog.py
checks it against `agents.catalog` and the shipped workspace."""

_NOT_YOURS = ("output_schema", "deps_schema", "capabilities", "json_schema_path")


@dataclass(frozen=True, kw_only=True)
class ModelChoice:
    """What an agent or writer file may say about its model; hashable, so built agents are cached by it."""

    model: str | None = None
    model_settings: str = "{}"  # JSON: a nested setting (extra_body: {...}) must still leave the file hashable
    output_retries: int | None = None

    @property
    def settings_dict(self) -> dict[str, Any] | None:
        return json.loads(self.model_settings) or None


def settings_json(settings: dict[str, Any] | None) -> str:
    return json.dumps(dict(settings or {}), sort_keys=True, default=str)


@dataclass(frozen=True)
class AgentFile(ModelChoice):
    """One agent's configuration from the workspace."""

    name: str
    instructions: str
    version: str


def parse_agent_file(path: str, text: str, files: dict[str, str], version: str) -> AgentFile:
    """The `AgentFile` for `path`; `WorkspaceInvalid` names the file, line and field when it cannot be used."""
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if name not in KNOWN_AGENTS:
        raise WorkspaceInvalid(
            [Problem(path, f"unknown agent {name!r}; agent files are named after one of: {', '.join(KNOWN_AGENTS)}", 1)]
        )
    raw = load_yaml(path, text)
    if not isinstance(raw, dict):
        raise WorkspaceInvalid([Problem(path, "must be a mapping (instructions: ..., model: ...)", 1)])
    problems = [
        Problem(path, f"`{key}` is fixed in code for this agent; remove it", line_of(raw, key))
        for key in _NOT_YOURS
        if key in raw
    ]
    allowed = set(AgentSpec.model_fields) - set(_NOT_YOURS)
    problems += [
        Problem(path, f"unknown field `{key}`; an agent file may set {', '.join(sorted(allowed))}", line_of(raw, key))
        for key in raw
        if key not in allowed and key not in _NOT_YOURS
    ]
    if raw.get("name", name) != name:
        problems.append(Problem(path, f"`name` is {raw['name']!r} but the file is for {name!r}", line_of(raw, "name")))
    metadata = raw.get("metadata") or {}
    instructions_file = metadata.get("instructions_file") if isinstance(metadata, dict) else None
    if instructions_file is not None:
        sibling = path.rsplit("/", 1)[0] + "/" + str(instructions_file)
        if sibling not in files:
            problems.append(
                Problem(path, f"instructions_file {instructions_file!r} is not in agents/", line_of(raw, "metadata"))
            )
        else:
            raw = _Merged({**raw, "instructions": files[sibling]}, raw)
    if problems:
        raise WorkspaceInvalid(problems)
    try:
        spec = AgentSpec.model_validate({k: v for k, v in raw.items() if k != "metadata"} | {"name": name})
    except ValidationError as exc:
        raise WorkspaceInvalid(
            [
                Problem(
                    path,
                    f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}",
                    line_of(raw, str(e["loc"][0])) if e["loc"] else None,
                )
                for e in exc.errors()
            ]
        ) from None
    instructions = spec.instructions if isinstance(spec.instructions, str) else "\n".join(spec.instructions or [])
    if not instructions.strip():
        raise WorkspaceInvalid(
            [Problem(path, "`instructions` is empty; say what the agent should do", line_of(raw, "instructions") or 1)]
        )
    retries = (
        spec.retries if isinstance(spec.retries, int) or spec.retries is None else getattr(spec.retries, "output", None)
    )
    return AgentFile(
        name=name,
        instructions=instructions.strip(),
        version=version,
        model=spec.model if isinstance(spec.model, str) else None,
        model_settings=settings_json(spec.model_settings),  # type: ignore[arg-type]
        output_retries=retries,
    )


class _Merged(dict):  # type: ignore[type-arg]
    """A copy of a YAML mapping that keeps the original's line numbers."""

    def __init__(self, mapping: dict[str, Any], original: Any) -> None:
        super().__init__(mapping)
        self.lines = getattr(original, "lines", {})
