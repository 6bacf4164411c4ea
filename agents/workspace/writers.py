"""`writers/<writer-type>.md`: one writer type per file; adding a file adds a writer, deleting one removes it.

Front matter: `name` (the writer type; the file's name), `description` (what the router model
reads when no rule decides), `route_when` (which prospects route here; see `agents.workspace.routing`),
`priority` (higher wins), `angles` (at least three: angle, subject, opening; the offline model's
angle library and a hint to a real one), optional `model`, `model_settings`, `output_retries`.
The Markdown body is the writer's instructions: who the reader is and how to write for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents.workspace.agent_files import ModelChoice, settings_json
from agents.workspace.files import Problem, WorkspaceInvalid, line_of, split_front_matter
from agents.workspace.routing import RouteWhen

WRITER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")
MIN_ANGLES = 3
TEMPLATE_FIELDS = ("company", "industry", "employees", "name", "first_name", "role", "region")
"""The `{...}` variables an angle's subject and opening may use (filled from the prospect's profile)."""


class Angle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    angle: str = Field(min_length=3, max_length=80)
    subject: str = Field(min_length=3, max_length=150)
    opening: str = Field(min_length=3, max_length=300)


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = Field(min_length=3)
    route_when: RouteWhen | list[RouteWhen] = Field(default_factory=list)
    priority: int = 0
    angles: list[Angle]
    model: str | None = None
    model_settings: dict[str, Any] = Field(default_factory=dict)
    output_retries: int | None = Field(default=None, ge=0, le=10)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not WRITER_NAME.match(value):
            raise ValueError("must be lowercase letters, digits and dashes, e.g. finance-leader")
        return value


@dataclass(frozen=True)
class WriterFile(ModelChoice):
    """One writer type, as its file defines it."""

    name: str
    description: str
    rules: tuple[RouteWhen, ...]
    priority: int
    angles: tuple[Angle, ...]
    instructions: str
    version: str
    path: str


_VARIABLE = re.compile(r"\{(\w*)\}")


def parse_writer_file(path: str, text: str, version: str) -> WriterFile:
    header, body, body_line = split_front_matter(path, text)
    stem = path.rsplit("/", 1)[-1].removesuffix(".md")
    try:
        parsed = _Header.model_validate(header)
    except ValidationError as exc:
        raise WorkspaceInvalid(
            [
                Problem(
                    path,
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
                    line_of(header, str(e["loc"][0]), 1) if e["loc"] else 2,
                )
                for e in exc.errors()
            ]
        ) from None
    problems: list[Problem] = []
    if parsed.name != stem:
        problems.append(
            Problem(
                path, f"`name` is {parsed.name!r}; it must match the file name ({stem!r})", line_of(header, "name", 1)
            )
        )
    if len(parsed.angles) < MIN_ANGLES:
        problems.append(
            Problem(
                path,
                f"{len(parsed.angles)} angles; a writer needs at least {MIN_ANGLES} (three drafts, three angles)",
                line_of(header, "angles", 1) or 2,
            )
        )
    if len({a.angle.lower() for a in parsed.angles}) != len(parsed.angles):
        problems.append(Problem(path, "two angles have the same name", line_of(header, "angles", 1)))
    for angle in parsed.angles:
        for text_ in (angle.subject, angle.opening):
            for variable in _VARIABLE.findall(text_):
                if variable not in TEMPLATE_FIELDS:
                    problems.append(
                        Problem(
                            path,
                            f"angle {angle.angle!r} uses {{{variable}}}, which does not exist; use one of "
                            + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS),
                            line_of(header, "angles", 1),
                        )
                    )
    if not body.strip():
        problems.append(
            Problem(
                path,
                "no instructions: write who the reader is and how to write for them below the front matter",
                body_line,
            )
        )
    if problems:
        raise WorkspaceInvalid(problems)
    rules = parsed.route_when if isinstance(parsed.route_when, list) else [parsed.route_when]
    return WriterFile(
        name=parsed.name,
        description=" ".join(parsed.description.split()),
        rules=tuple(rules),
        priority=parsed.priority,
        angles=tuple(parsed.angles),
        instructions=body.strip(),
        version=version,
        path=path,
        model=parsed.model,
        model_settings=settings_json(parsed.model_settings),
        output_retries=parsed.output_retries,
    )
