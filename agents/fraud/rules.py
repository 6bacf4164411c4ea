"""Deterministic risk and the hard rules that bound what the orchestrator model may decide.

Deterministic risk is a logistic combination of the six rule scores, with weights and thresholds
fit on the training split only (`agentflows eval fraud --calibrate`, see `tasks.fraud.evaluation`)
and loaded by `tasks.fraud.risk`. The model proposes a verdict; `bound` then applies the rules
below, in order, and says which one changed the proposal:

1. A case with a failed signal is never cleared automatically (at least `review`).
2. A case whose deterministic risk is at or above the review threshold is never cleared
   (at least `review`), whatever the model says.
3. `block` needs deterministic risk at or above the block threshold AND at least
   `block_min_strong` signals scoring >= `strong_signal`; otherwise a proposed block becomes `review`.
   Blocking is never decided by the model alone.
4. A model may always be more careful: `review` on a low-risk case stands.

Pure functions of the signals and a `Calibration`, no files or database: the offline orchestrator
(`agents.fraud.orchestrator`) proposes with `rule_decision`, and the tasks bound every proposal
with `bound`, so both sides apply the very same rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.fraud.models import SIGNAL_NAMES, Decision, Signal, SignalName

_ORDER: dict[Decision, int] = {"clear": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class Calibration:
    """Risk weights and thresholds fit on the training split (shipped in `agentflows/data/fraud_calibration.json`)."""

    weights: dict[SignalName, float]
    bias: float
    review_threshold: float
    block_threshold: float
    strong_signal: float = 0.5
    block_min_strong: int = 3
    fit: dict[str, Any] = field(default_factory=dict)

    def risk(self, scores: Mapping[SignalName, float]) -> float:
        """P(fraud) from the six rule scores (a missing or failed signal counts as 0 here)."""
        z = self.bias + sum(self.weights[name] * float(scores.get(name, 0.0)) for name in SIGNAL_NAMES)
        return round(1.0 / (1.0 + math.exp(-z)), 4)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def deterministic_risk(signals: Iterable[Signal], calibration: Calibration) -> float:
    return calibration.risk({s.name: s.rule_score for s in signals if s.status == "ok"})


def floor_decision(risk: float, signals: list[Signal], calibration: Calibration) -> Decision:
    """The least severe decision the rules allow, before hearing the model."""
    if risk >= calibration.review_threshold or any(s.status == "failed" for s in signals):
        return "review"
    return "clear"


def may_block(risk: float, signals: list[Signal], calibration: Calibration) -> bool:
    strong = sum(1 for s in signals if s.status == "ok" and s.rule_score >= calibration.strong_signal)
    return risk >= calibration.block_threshold and strong >= calibration.block_min_strong


def bound(proposed: Decision, risk: float, signals: list[Signal], calibration: Calibration) -> tuple[Decision, str]:
    """The decision to apply and the rule that produced it (see the module docstring)."""
    failed = [s.name for s in signals if s.status == "failed"]
    if proposed == "clear" and failed:
        return "review", f"rule 1: signals failed ({', '.join(failed)}); a case is never cleared without them"
    if proposed == "clear" and risk >= calibration.review_threshold:
        return "review", (
            f"rule 2: deterministic risk {risk:.2f} >= review threshold {calibration.review_threshold:.2f}; "
            "the model may not clear it"
        )
    if proposed == "block" and not may_block(risk, signals, calibration):
        return "review", (
            f"rule 3: block needs risk >= {calibration.block_threshold:.2f} and {calibration.block_min_strong} "
            f"signals >= {calibration.strong_signal}; risk is {risk:.2f}"
        )
    return proposed, "model proposal kept"


def rule_decision(risk: float, signals: list[Signal], calibration: Calibration) -> Decision:
    """What the rules alone decide (the offline orchestrator's proposal)."""
    if may_block(risk, signals, calibration):
        return "block"
    return floor_decision(risk, signals, calibration)


def more_severe(a: Decision, b: Decision) -> Decision:
    return a if _ORDER[a] >= _ORDER[b] else b
