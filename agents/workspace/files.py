"""Reading workspace files the way a person wrote them: YAML and front matter, with line numbers.

Every problem names the file and, where there is one, the line, because the person fixing it opens
the file in an editor, not a stack trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one workspace file."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}{f':{self.line}' if self.line else ''}: {self.message}"


class WorkspaceInvalid(ValueError):
    """A workspace that must not go live, with every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems) or "invalid workspace")


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line each mapping key was written on (`__lines__`)."""


def _mapping_with_lines(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    return _Lined(mapping, lines)


class _Lined(dict):  # type: ignore[type-arg]
    """A mapping from YAML that knows on which line each of its keys stands."""

    def __init__(self, mapping: dict[str, Any], lines: dict[str, int]) -> None:
        super().__init__(mapping)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_lines)


def line_of(mapping: Any, key: str, offset: int = 0) -> int | None:
    """The line `key` was written on in the file (None for mappings not read by `load_yaml`)."""
    lines = getattr(mapping, "lines", None)
    return lines[key] + offset if lines and key in lines else None


def load_yaml(path: str, text: str, offset: int = 0) -> Any:
    """Parse YAML; a syntax error becomes a `WorkspaceInvalid` naming the file and line.

    `offset` is the number of lines before this text in its file (front matter starts on line 2).
    """
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 + offset if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise WorkspaceInvalid([Problem(path, f"YAML does not parse: {reason}", line)]) from None


_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(path: str, text: str) -> tuple[dict[str, Any], str, int]:
    """(front matter mapping, body, line the body starts on) of a Markdown file with a YAML header."""
    match = _FRONT.match(text)
    if match is None:
        raise WorkspaceInvalid([Problem(path, "no front matter: the file must start with a '---' line", 1)])
    header = load_yaml(path, match[1] or "", offset=1)
    if not isinstance(header, dict):
        raise WorkspaceInvalid([Problem(path, "the front matter must be a mapping of fields (name: ...)", 2)])
    body_line = text[: match.end()].count("\n") + 1
    return header, text[match.end() :], body_line


def slug(text: str) -> str:
    """A heading as a URL fragment: lowercase words joined by dashes (`Case study: Acme` -> `case-study-acme`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
