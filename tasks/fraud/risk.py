"""Deterministic risk and the hard rules that bound what the orchestrator model may decide.

Deterministic risk is a logistic combination of the six rule scores, with weights and thresholds
fit on the training split only (`agentflows eval fraud --calibrate`, see `agentflows.fraud_eval`)
and shipped in `agentflows/data/fraud_calibration.json`. The model proposes a verdict; `bound`
then applies the rules below, in order, and says which one changed the proposal:

1. A case with a failed signal is never cleared automatically (at least `review`).
2. A case whose deterministic risk is at or above the review threshold is never cleared
   (at least `review`), whatever the model says.
3. `block` needs deterministic risk at or above the block threshold AND at least
   `block_min_strong` signals scoring >= `strong_signal`; otherwise a proposed block becomes `review`.
   Blocking is never decided by the model alone.
4. A model may always be more careful: `review` on a low-risk case stands.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import agentflows
from agentflows.settings import get_settings
from agents.fraud.models import SIGNAL_NAMES, Decision, Signal, SignalName

SHIPPED_CALIBRATION = Path(agentflows.__file__).parent / "data" / "fraud_calibration.json"
_ORDER: dict[Decision, int] = {"clear": 0, "review": 1, "block": 2}


class CalibrationError(ValueError):
    """The calibration file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Calibration:
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


def calibration_path() -> Path:
    return get_settings().fraud_calibration_file or SHIPPED_CALIBRATION


def load_calibration(path: Path | None = None) -> Calibration:
    """The calibration in use, with threshold overrides from settings applied."""
    path = path or calibration_path()
    try:
        data = json.loads(path.read_text())
        calibration = Calibration(
            weights={name: float(data["weights"][name]) for name in SIGNAL_NAMES},
            bias=float(data["bias"]),
            review_threshold=float(data["review_threshold"]),
            block_threshold=float(data["block_threshold"]),
            strong_signal=float(data.get("strong_signal", 0.5)),
            block_min_strong=int(data.get("block_min_strong", 3)),
            fit=dict(data.get("fit", {})),
        )
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found (AGENTFLOWS_FRAUD_CALIBRATION_FILE)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: not a valid fraud calibration ({type(exc).__name__}: {exc})") from None
    settings = get_settings()
    overrides: dict[str, float] = {}
    if settings.fraud_review_threshold is not None:
        overrides["review_threshold"] = settings.fraud_review_threshold
    if settings.fraud_block_threshold is not None:
        overrides["block_threshold"] = settings.fraud_block_threshold
    if overrides:
        calibration = replace(calibration, **overrides)
    if calibration.block_threshold < calibration.review_threshold:
        raise CalibrationError(
            f"block threshold {calibration.block_threshold} is below the review threshold "
            f"{calibration.review_threshold}; check {path} and AGENTFLOWS_FRAUD_*_THRESHOLD"
        )
    return calibration


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
