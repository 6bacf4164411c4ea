"""The fraud part of the workspace: `fraud/rules.yaml` (weights, thresholds, hard rules) and `fraud/templates/`.

`parse_fraud_config` is called by the workspace check (`agents.workspace.load_workspace`): every
problem is a `Problem` naming the file and, for rules.yaml, the line, so a fraud analyst fixes the
file in an editor and nothing invalid goes live. What is checked, and why it matters:

- the weights name exactly the six signals (a misspelt signal would silently weigh nothing);
- thresholds and `strong_signal` are in [0, 1], review at or below block (else nothing could be
  reviewed before being blockable);
- every hard rule has a name, a description, at least one condition from the fixed condition
  language (`agents.fraud.rules.CONDITIONS`) with a value of the right type, and a consequence
  that is `review` or `block` (a hard rule never clears);
- every template parses and no two share a name.

rules.yaml layout (the shipped one is `agentflows/data/workspace/fraud/rules.yaml`):

    weights: {address: 2.6, return_distance: 7.0, customer: 4.7, tracking: 6.7, payment: 8.8, conversation: 5.2}
    bias: -8.66
    review_threshold: 0.2
    block_threshold: 0.68
    strong_signal: 0.5        # optional, default 0.5
    block_min_strong: 3       # optional, default 3
    fit: {...}                # optional, informational: where the fitted values came from
    hard_rules:
      - name: known-fraud-address
        description: A delivery address on the known-fraud list is never cleared automatically.
        when: {address_on_fraud_list: true}
        at_least: review
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentflows.fraud_templates import TEMPLATES_FOLDER, TemplateSet, snapshot_templates
from agentflows.workspace import Snapshot
from agents.fraud.models import SIGNAL_NAMES, SignalName
from agents.fraud.rules import CONDITIONS, CONSEQUENCES, Calibration, Condition, HardRule
from agents.workspace.files import Problem, WorkspaceInvalid, line_of, load_yaml

RULES_PATH = "fraud/rules.yaml"
TOP_KEYS = (
    "weights",
    "bias",
    "review_threshold",
    "block_threshold",
    "strong_signal",
    "block_min_strong",
    "fit",
    "hard_rules",
)
RULE_KEYS = ("name", "description", "when", "at_least")
CLAIM_KINDS = ("not_received", "arrived_broken", "refund_request")
RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")


@dataclass(frozen=True)
class FraudConfig:
    """The fraud check's configuration from one workspace snapshot."""

    calibration: Calibration  # as written in rules.yaml; settings overrides are applied by `tasks.fraud.risk`
    templates: TemplateSet
    rules_version: str

    @property
    def rules_ref(self) -> str:
        return f"{RULES_PATH}@{self.rules_version}"


def parse_fraud_config(snapshot: Snapshot) -> FraudConfig:
    """The fraud configuration of `snapshot`; `WorkspaceInvalid` lists every problem (file, line)."""
    problems: list[Problem] = []
    templates = snapshot_templates(snapshot)
    problems += [Problem(str(p.path), f"fraud template does not parse: {p.reason}") for p in templates.problems]
    calibration = None
    if RULES_PATH not in snapshot.files:
        problems.append(
            Problem(RULES_PATH, "missing: the fraud check needs its weights and thresholds (copy the shipped one)")
        )
    else:
        try:
            calibration = parse_rules(RULES_PATH, snapshot.text(RULES_PATH), {t.name for t in templates.templates})
        except WorkspaceInvalid as exc:
            problems += exc.problems
    if problems or calibration is None:
        raise WorkspaceInvalid(problems)
    return FraudConfig(calibration=calibration, templates=templates, rules_version=snapshot.version(RULES_PATH))


# --- rules.yaml ---------------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    """Collects problems for one file, each with the line of the key it is about."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, message: str, line: int | None) -> None:
        self.problems.append(Problem(self.path, message, line))

    def fraction(self, mapping: Any, key: str, what: str) -> float | None:
        value = mapping.get(key)
        if not _number(value):
            self.add(f"`{what}` must be a number between 0 and 1, got {value!r}", line_of(mapping, key))
            return None
        if not 0 <= value <= 1:
            self.add(f"`{what}` must be between 0 and 1, got {value}", line_of(mapping, key))
            return None
        return float(value)


def parse_rules(path: str, text: str, template_names: set[str] | None = None) -> Calibration:
    """A `Calibration` (with its hard rules) from rules.yaml text; `WorkspaceInvalid` names every problem and line."""
    raw = load_yaml(path, text)
    if not isinstance(raw, dict):
        raise WorkspaceInvalid([Problem(path, "must be a mapping (weights: ..., review_threshold: ...)", 1)])
    check = _Checker(path)
    for key in raw:
        if key not in TOP_KEYS:
            check.add(f"unknown field `{key}`; rules.yaml may set {', '.join(TOP_KEYS)}", line_of(raw, key))
    for key in ("weights", "bias", "review_threshold", "block_threshold"):
        if key not in raw:
            check.add(f"`{key}` is missing", 1)
    weights = _weights(check, raw)
    bias = raw.get("bias")
    if "bias" in raw and not _number(bias):
        check.add(f"`bias` must be a number, got {bias!r}", line_of(raw, "bias"))
    review = check.fraction(raw, "review_threshold", "review_threshold") if "review_threshold" in raw else None
    block = check.fraction(raw, "block_threshold", "block_threshold") if "block_threshold" in raw else None
    if review is not None and block is not None and review > block:
        check.add(
            f"review_threshold {review} is above block_threshold {block}: every case must be reviewable "
            "before it can be blocked",
            line_of(raw, "review_threshold"),
        )
    strong = check.fraction(raw, "strong_signal", "strong_signal") if "strong_signal" in raw else 0.5
    min_strong = raw.get("block_min_strong", 3)
    if not isinstance(min_strong, int) or isinstance(min_strong, bool) or not 1 <= min_strong <= len(SIGNAL_NAMES):
        check.add(
            f"`block_min_strong` must be a whole number from 1 to {len(SIGNAL_NAMES)}, got {min_strong!r}",
            line_of(raw, "block_min_strong"),
        )
    fit = raw.get("fit") or {}
    if not isinstance(fit, dict):
        check.add("`fit` must be a mapping (it only records where the values came from)", line_of(raw, "fit"))
    rules = _hard_rules(check, raw, template_names)
    if check.problems:
        raise WorkspaceInvalid(check.problems)
    return Calibration(
        weights=weights,
        bias=float(bias),  # type: ignore[arg-type]
        review_threshold=review,  # type: ignore[arg-type]
        block_threshold=block,  # type: ignore[arg-type]
        strong_signal=strong,  # type: ignore[arg-type]
        block_min_strong=min_strong,
        fit=dict(fit),
        hard_rules=rules,
    )


def _weights(check: _Checker, raw: Any) -> dict[SignalName, float]:
    weights = raw.get("weights")
    if "weights" not in raw:
        return {}
    if not isinstance(weights, dict):
        check.add("`weights` must map each of the six signals to a number", line_of(raw, "weights"))
        return {}
    out: dict[SignalName, float] = {}
    for name, value in weights.items():
        if name not in SIGNAL_NAMES:
            check.add(
                f"unknown signal `{name}` in weights; the signals are {', '.join(SIGNAL_NAMES)}", line_of(weights, name)
            )
        elif not _number(value):
            check.add(f"weight of `{name}` must be a number, got {value!r}", line_of(weights, name))
        else:
            out[name] = float(value)
    missing = [n for n in SIGNAL_NAMES if n not in weights]
    if missing:
        check.add(
            f"weights for {', '.join(missing)} are missing (every signal needs one; 0 ignores it)",
            line_of(raw, "weights"),
        )
    return out


def _hard_rules(check: _Checker, raw: Any, template_names: set[str] | None) -> tuple[HardRule, ...]:
    listed = raw.get("hard_rules")
    if listed is None:
        return ()
    if not isinstance(listed, list):
        check.add(
            "`hard_rules` must be a list of rules (- name: ..., when: ..., at_least: review)",
            line_of(raw, "hard_rules"),
        )
        return ()
    rules: list[HardRule] = []
    seen: set[str] = set()
    for item in listed:
        if not isinstance(item, dict):
            check.add(
                "each hard rule must be a mapping with name, description, when and at_least", line_of(raw, "hard_rules")
            )
            continue
        start = min(item.lines.values()) if getattr(item, "lines", None) else line_of(raw, "hard_rules")
        rule = _hard_rule(check, item, start, template_names)
        if rule is None:
            continue
        if rule.name in seen:
            check.add(f"two hard rules are named `{rule.name}`; names must be unique", line_of(item, "name"))
            continue
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _hard_rule(check: _Checker, item: Any, start: int | None, template_names: set[str] | None) -> HardRule | None:
    before = len(check.problems)
    for key in item:
        if key not in RULE_KEYS:
            check.add(f"unknown field `{key}` in a hard rule; a rule has {', '.join(RULE_KEYS)}", line_of(item, key))
    name = item.get("name")
    if not isinstance(name, str) or not RULE_NAME.match(name):
        check.add(
            f"a hard rule's `name` must be lowercase letters, digits and dashes, got {name!r}",
            line_of(item, "name") or start,
        )
    description = item.get("description")
    if not isinstance(description, str) or not description.strip():
        check.add(
            "a hard rule needs a `description`: one sentence saying why it exists",
            line_of(item, "description") or start,
        )
    at_least = item.get("at_least")
    if at_least == "clear":
        check.add(
            "`at_least: clear` is not allowed: a hard rule can only add caution (review or block)",
            line_of(item, "at_least"),
        )
    elif at_least not in CONSEQUENCES:
        check.add(
            f"unknown consequence `at_least: {at_least}`; use {' or '.join(CONSEQUENCES)}",
            line_of(item, "at_least") or start,
        )
    conditions = _conditions(check, item, start, template_names)
    if len(check.problems) > before:
        return None
    return HardRule(
        name=name,  # type: ignore[arg-type]
        description=" ".join(description.split()),  # type: ignore[union-attr]
        when=conditions,
        at_least=at_least,  # type: ignore[arg-type]
        line=start,
    )


def _conditions(
    check: _Checker, item: Any, start: int | None, template_names: set[str] | None
) -> tuple[Condition, ...]:
    when = item.get("when")
    if not isinstance(when, dict) or not when:
        check.add(
            "a hard rule needs `when:` with at least one condition, e.g. `when: {address_on_fraud_list: true}`",
            line_of(item, "when") or start,
        )
        return ()
    out: list[Condition] = []
    for key, value in when.items():
        line = line_of(when, key)
        spec = CONDITIONS.get(key)
        if spec is None:
            check.add(f"unknown field `{key}`; a condition may test {', '.join(CONDITIONS)}", line)
            continue
        parsed = _value(check, key, spec.kind, value, line, template_names)
        if parsed is not None:
            out.append(Condition(key, parsed))
    return tuple(out)


def _value(check: _Checker, key: str, kind: str, value: Any, line: int | None, template_names: set[str] | None) -> Any:
    """The condition's value in its typed form, or None after recording why it is wrong."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        check.add(f"`{key}` must be true or false, got {value!r}", line)
    elif kind in ("amount", "count"):
        whole = kind == "count"
        if _number(value) and value >= 0 and (not whole or float(value).is_integer()):
            return int(value) if whole else float(value)
        check.add(f"`{key}` must be a {'whole ' if whole else ''}number >= 0, got {value!r}", line)
    elif kind == "fraction":
        if _number(value) and 0 <= value <= 1:
            return float(value)
        check.add(f"`{key}` must be a number between 0 and 1, got {value!r}", line)
    elif kind == "claim_kinds":
        kinds = [value] if isinstance(value, str) else value
        if isinstance(kinds, list) and kinds and all(k in CLAIM_KINDS for k in kinds):
            return tuple(kinds)
        check.add(f"`{key}` must be a list drawn from {', '.join(CLAIM_KINDS)}, got {value!r}", line)
    elif kind == "templates":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            check.add(f"`{key}` must be a list of template names, got {value!r}", line)
        elif template_names is not None and (unknown := [n for n in names if n not in template_names]):
            check.add(
                f"`{key}` names templates that are not in {TEMPLATES_FOLDER}/: {', '.join(unknown)}"
                f" (known: {', '.join(sorted(template_names)) or 'none'})",
                line,
            )
        else:
            return tuple(names)
    elif kind == "signal_scores":
        if not isinstance(value, dict) or not value:
            check.add(f"`{key}` must map signal names to scores, e.g. {{address: 0.8}}, got {value!r}", line)
            return None
        scores: list[tuple[SignalName, float]] = []
        for name, score in value.items():
            at = line_of(value, name) or line
            if name not in SIGNAL_NAMES:
                check.add(f"unknown signal `{name}`; the signals are {', '.join(SIGNAL_NAMES)}", at)
            elif not _number(score) or not 0 <= score <= 1:
                check.add(f"the score for `{name}` must be between 0 and 1, got {score!r}", at)
            else:
                scores.append((name, float(score)))
        if len(scores) == len(value):
            return tuple(scores)
    return None


def shipped_rules_path() -> Path:
    """The shipped default rules.yaml (what a new workspace starts from)."""
    from agentflows.workspace import SHIPPED

    return SHIPPED / RULES_PATH


# --- writing fitted values back (for `agentflows eval fraud --calibrate`'s proposal) ----------------------


_SCALAR_LINE = re.compile(r"^(?P<head>\s*(?P<key>[\w-]+):[ \t]*)(?P<value>[^#\n]*?)(?P<tail>[ \t]*(?:#.*)?)$")


def _set_line(lines: list[str], key: str, line: int | None, value: Any) -> bool:
    """Replace the value on a `key: value  # comment` line (1-based); False when the line has another shape."""
    if line is None or not 0 < line <= len(lines):
        return False
    match = _SCALAR_LINE.match(lines[line - 1])
    if match is None or match["key"] != key or not match["value"].strip() or match["value"].lstrip()[:1] in "[{":
        return False
    lines[line - 1] = f"{match['head']}{value!r}{match['tail']}"
    return True


def _replace_block(lines: list[str], line: int | None, text: str) -> bool:
    """Replace a top-level `key:` line and the indented lines under it with `text`."""
    if line is None or lines[line - 1][:1].isspace():
        return False
    end = line
    while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
        end += 1
    lines[line - 1 : end] = text.rstrip("\n").split("\n")
    return True


def with_fitted_values(text: str, fitted: Calibration) -> str:
    """rules.yaml `text` with `fitted`'s weights, bias, thresholds and `fit:`; everything else as written.

    The values are replaced on their own lines, so comments and the hard rules stay exactly as the
    team wrote them. A file in another shape (e.g. `weights: {address: 2.6, ...}` on one line) is
    written out again whole instead, without its comments, with a comment at the top saying so.
    """
    raw = load_yaml(RULES_PATH, text)
    lines = text.split("\n")
    weights = raw.get("weights") if isinstance(raw, dict) else None
    ok = isinstance(weights, dict)
    for key in ("bias", "review_threshold", "block_threshold"):
        ok = ok and _set_line(lines, key, line_of(raw, key), round(getattr(fitted, key), 6))
    for name in SIGNAL_NAMES:
        ok = ok and _set_line(lines, name, line_of(weights, name), round(fitted.weights[name], 6))
    fit_block = yaml.safe_dump({"fit": fitted.fit}, sort_keys=True, allow_unicode=True, width=200)
    if ok and "fit" in raw:
        ok = _replace_block(lines, line_of(raw, "fit"), fit_block)
    elif ok:
        at = line_of(raw, "block_min_strong") or line_of(raw, "block_threshold")
        lines[at:at] = fit_block.rstrip("\n").split("\n")  # type: ignore[misc]
    result = "\n".join(lines)
    if ok:
        try:
            check = parse_rules(RULES_PATH, result)
        except WorkspaceInvalid:
            check = None
        ok = check is not None and (check.weights, check.bias, check.review_threshold, check.block_threshold) == (
            {n: round(fitted.weights[n], 6) for n in SIGNAL_NAMES},
            round(fitted.bias, 6),
            round(fitted.review_threshold, 6),
            round(fitted.block_threshold, 6),
        )
    if ok:
        return result
    data = dict(raw) if isinstance(raw, dict) else {}
    data |= {
        "weights": {n: round(fitted.weights[n], 6) for n in SIGNAL_NAMES},
        "bias": round(fitted.bias, 6),
        "review_threshold": round(fitted.review_threshold, 6),
        "block_threshold": round(fitted.block_threshold, 6),
        "fit": fitted.fit,
    }
    header = "# Rewritten by `agentflows eval fraud --calibrate` (the original's layout could not be kept).\n"
    return header + yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, width=200)


def _plain(value: Any) -> Any:
    """YAML-loaded mappings (with line numbers) as plain dicts, for `yaml.safe_dump`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
