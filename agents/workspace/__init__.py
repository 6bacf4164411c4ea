"""What a workspace snapshot means: agents, writers, routing, knowledge, fraud rules, checked as a whole.

`agentflows.workspace` reads files; this package parses them into typed configuration and says
what is wrong with them (`check`), file and line, so nothing invalid goes live.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agentflows.workspace import Snapshot
from agents.workspace.agent_files import KNOWN_AGENTS, AgentFile, parse_agent_file
from agents.workspace.files import Problem, WorkspaceInvalid
from agents.workspace.knowledge import Knowledge, parse_knowledge
from agents.workspace.routing import RouteWhen
from agents.workspace.writers import WriterFile, parse_writer_file

__all__ = ["Problem", "Workspace", "WorkspaceInvalid", "check", "load_workspace"]


@dataclass(frozen=True)
class Workspace:
    """One snapshot, parsed: everything a run configures itself from."""

    snapshot: Snapshot
    agents: MappingProxyType[str, AgentFile]
    writers: MappingProxyType[str, WriterFile]
    knowledge: Knowledge
    fraud: Any = field(default=None)  # `agents.fraud.config.FraudConfig` (weights, thresholds, hard rules, templates)

    @property
    def version(self) -> str:
        return self.snapshot.id

    def agent(self, name: str) -> AgentFile:
        return self.agents[name]

    def refs(self, *paths: str) -> dict[str, str]:
        """`path -> version` of the given files (those that exist), for an output's record."""
        return {p: self.snapshot.version(p) for p in paths if p in self.snapshot.manifest}


def _collect(problems: list[Problem], parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except WorkspaceInvalid as exc:
        problems.extend(exc.problems)
        return None


def load_workspace(snapshot: Snapshot) -> Workspace:
    """Parse and check `snapshot`; `WorkspaceInvalid` lists every problem (file, line, what to do)."""
    problems: list[Problem] = []
    files = dict(snapshot.files)
    agents: dict[str, AgentFile] = {}
    for path in snapshot.paths("agents", (".yaml", ".yml")):
        parsed = _collect(problems, parse_agent_file, path, files[path], files, snapshot.version(path))
        if parsed is not None:
            agents[parsed.name] = parsed
    missing = [name for name in KNOWN_AGENTS if name not in agents]
    problems += [
        Problem(f"agents/{name}.yaml", "missing: every agent needs its file (copy the shipped one)")
        for name in missing
        if not any(p.path == f"agents/{name}.yaml" for p in problems)
    ]
    writers: dict[str, WriterFile] = {}
    for path in snapshot.paths("writers", (".md",)):
        parsed = _collect(problems, parse_writer_file, path, files[path], snapshot.version(path))
        if parsed is not None:
            writers[parsed.name] = parsed
    if not writers and not any(p.path.startswith("writers/") for p in problems):
        problems.append(Problem("writers/", "no writer files: add at least one writers/<type>.md"))
    problems += overlapping_writers(list(writers.values()))
    knowledge = _collect(problems, parse_knowledge, [(p, files[p]) for p in snapshot.paths("knowledge", (".md",))])
    fraud = _collect(problems, _fraud_config, snapshot)
    if problems:
        raise WorkspaceInvalid(problems)
    return Workspace(
        snapshot=snapshot,
        agents=MappingProxyType(agents),
        writers=MappingProxyType(dict(sorted(writers.items()))),
        knowledge=knowledge,
        fraud=fraud,
    )


def _fraud_config(snapshot: Snapshot) -> Any:
    from agents.fraud.config import parse_fraud_config

    return parse_fraud_config(snapshot)


def check(snapshot: Snapshot) -> list[Problem]:
    """Every problem in `snapshot` (empty: it may go live)."""
    try:
        load_workspace(snapshot)
    except WorkspaceInvalid as exc:
        return exc.problems
    return []


# --- two writers for the same prospect at the same priority ---------------------------------------

_ROLES = (
    "Owner",
    "CEO",
    "Founder",
    "VP Sales",
    "Head of Marketing",
    "CFO",
    "Data Engineer",
    "Head of IT",
    "Operations Manager",
)


def _example(a: RouteWhen, b: RouteWhen) -> dict[str, Any] | None:
    """A prospect profile both rules match, or None when no such profile exists (as far as we can tell)."""
    profile: dict[str, Any] = {}
    for name in ("seniority", "department", "industry", "region"):
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None:
            common = sorted({v.lower() for v in x} & {v.lower() for v in y})
            if not common:
                return None
            profile[name] = next(v for v in (*x, *y) if v.lower() == common[0])
        else:
            profile[name] = (x or y or ("Any",))[0]
    low = max(a.min_employees or 0, b.min_employees or 0)
    high = min(v for v in (a.max_employees, b.max_employees, 10**6) if v is not None)
    if low > high:
        return None
    profile["employees"] = low if low > 0 else min(high, 200)
    if a.is_customer is not None and b.is_customer is not None and a.is_customer != b.is_customer:
        return None
    profile["is_customer"] = a.is_customer if a.is_customer is not None else bool(b.is_customer)
    words = [w for r in (a.role_matches, b.role_matches) if r for w in re.findall(r"[A-Za-z]{2,}", r)]
    for role in (*_ROLES, *words, *(f"{x} {y}" for x, y in itertools.permutations(words, 2))):
        if all(r is None or re.search(r, role) for r in (a.role_matches, b.role_matches)):
            profile["role"] = role
            return profile
    return None


def overlapping_writers(writers: list[WriterFile]) -> list[Problem]:
    """Writers whose rules match the same prospect at the same priority, with an example profile."""
    problems: list[Problem] = []
    for w1, w2 in itertools.combinations(sorted(writers, key=lambda w: w.name), 2):
        if w1.priority != w2.priority:
            continue
        for r1, r2 in itertools.product(w1.rules, w2.rules):
            example = _example(r1, r2)
            if example is not None:
                shown = ", ".join(f"{k}={v}" for k, v in example.items())
                problems.append(
                    Problem(
                        w2.path,
                        f"matches the same prospects as {w1.path} at the same priority {w1.priority}, e.g. {shown}; "
                        "give one of them a higher priority or narrow its route_when",
                    )
                )
                break
    return problems
