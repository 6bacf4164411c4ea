"""Which calibration the fraud check uses: the shipped file, or `AGENTFLOWS_FRAUD_CALIBRATION_FILE`.

The weights and thresholds themselves, and the hard rules they feed, are pure and live with the
agents (`agents.fraud.rules`), since the offline orchestrator proposes with them. Reading the file
and applying the threshold overrides from settings is this module's part.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import agentflows
from agentflows.settings import get_settings
from agents.fraud.models import SIGNAL_NAMES
from agents.fraud.rules import Calibration

SHIPPED_CALIBRATION = Path(agentflows.__file__).parent / "data" / "fraud_calibration.json"


class CalibrationError(ValueError):
    """The calibration file is missing or malformed; the message names the file."""


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
