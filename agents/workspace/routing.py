"""Routing, deterministic first: the highest-priority writer whose `route_when` matches the prospect wins.

The router model is asked only when no writer's rule matches, or two match at the same priority;
its answer must then be one of those candidates (or any active writer when none matched).
`route_when` is a mapping of profile fields (all must hold), or a list of such mappings (any one
may hold). An empty mapping matches every prospect, which suits a catch-all writer at low priority.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from agents.outreach.brief import ProspectProfile
    from agents.workspace.writers import WriterFile


class RouteWhen(BaseModel):
    """Which prospect profiles a writer is for; every field given must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seniority: tuple[str, ...] | None = None
    department: tuple[str, ...] | None = None
    industry: tuple[str, ...] | None = None
    region: tuple[str, ...] | None = None
    min_employees: int | None = Field(default=None, ge=0)
    max_employees: int | None = Field(default=None, ge=0)
    is_customer: bool | None = None
    role_matches: str | None = Field(default=None, description="A regular expression searched in the role")

    @field_validator("role_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _range(self) -> RouteWhen:
        if (
            self.min_employees is not None
            and self.max_employees is not None
            and self.min_employees > self.max_employees
        ):
            raise ValueError("min_employees is above max_employees: no prospect can match")
        return self

    def matches(self, p: ProspectProfile) -> bool:
        def among(values: tuple[str, ...] | None, value: str) -> bool:
            return values is None or value.strip().lower() in {v.strip().lower() for v in values}

        return (
            among(self.seniority, p.seniority)
            and among(self.department, p.department)
            and among(self.industry, p.industry)
            and among(self.region, p.region)
            and (self.min_employees is None or p.employees >= self.min_employees)
            and (self.max_employees is None or p.employees <= self.max_employees)
            and (self.is_customer is None or p.is_customer == self.is_customer)
            and (self.role_matches is None or re.search(self.role_matches, p.role) is not None)
        )

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items()]
        return ", ".join(parts) or "any prospect"


@dataclass(frozen=True)
class RuleRoute:
    """What the rules decided: a writer, or the candidates the router model must choose between (empty: any)."""

    writer: str | None
    reason: str
    candidates: tuple[str, ...] = ()


def matching(writer: WriterFile, p: ProspectProfile) -> RouteWhen | None:
    """The first of the writer's rules that matches the prospect (None: the writer is not for them)."""
    return next((rule for rule in writer.rules if rule.matches(p)), None)


def rule_route(p: ProspectProfile, writers: Sequence[WriterFile]) -> RuleRoute:
    hits = [(w, rule) for w in writers if (rule := matching(w, p)) is not None]
    if not hits:
        return RuleRoute(None, "no writer's route_when matches")
    top = max(w.priority for w, _ in hits)
    best = [(w, rule) for w, rule in hits if w.priority == top]
    if len(best) > 1:
        names = tuple(sorted(w.name for w, _ in best))
        return RuleRoute(None, f"{', '.join(names)} all match at priority {top}", names)
    writer, rule = best[0]
    return RuleRoute(writer.name, f"rule: {writer.path} route_when ({rule.describe()}) matched, priority {top}")
