"""Which weights, thresholds, hard rules and templates a fraud check uses, and in which order they win.

The fraud team's values live in the workspace (`fraud/rules.yaml`, `fraud/templates/`, parsed by
`agents.fraud.config`), read from the run's snapshot. Operators keep three switches from before
the workspace, each an override on top of it. Precedence, strongest first:

1. `AGENTFLOWS_FRAUD_REVIEW_THRESHOLD` / `AGENTFLOWS_FRAUD_BLOCK_THRESHOLD`: the thresholds alone;
2. `AGENTFLOWS_FRAUD_CALIBRATION_FILE` (JSON, the format `Calibration.to_json` writes): weights,
   bias, thresholds, `strong_signal`, `block_min_strong`;
3. the workspace's `fraud/rules.yaml`.

The hard rules always come from the workspace. `AGENTFLOWS_FRAUD_TEMPLATES_DIR` replaces the
workspace's templates with that folder, re-read at every run. An override applies to every run,
and to both sides of a comparison (`tasks.fraud.evaluation.compare_fraud` says so in its report).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from agentflows.fraud_templates import TemplateSet, load_templates
from agentflows.settings import get_settings
from agents.fraud.config import shipped_rules_path
from agents.fraud.models import SIGNAL_NAMES
from agents.fraud.rules import Calibration
from agents.workspace import Workspace
from tasks.workspace import active_workspace

SHIPPED_RULES = shipped_rules_path()


class CalibrationError(ValueError):
    """The calibration file is missing or malformed; the message names the file."""


def load_calibration_file(path: Path) -> Calibration:
    """Weights and thresholds from an `AGENTFLOWS_FRAUD_CALIBRATION_FILE` JSON file (no hard rules)."""
    try:
        data = json.loads(path.read_text())
        return Calibration(
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


def load_calibration(path: Path | None = None, workspace: Workspace | None = None) -> Calibration:
    """The calibration a check uses: `workspace`'s rules.yaml (default: the active workspace) under the overrides.

    `path` is a calibration JSON file to use instead of the settings' one.
    """
    workspace = workspace or active_workspace()
    settings = get_settings()
    calibration: Calibration = workspace.fraud.calibration
    source = f"{workspace.fraud.rules_ref} (workspace {workspace.version})"
    file = path or settings.fraud_calibration_file
    if file is not None:
        calibration = replace(load_calibration_file(file), hard_rules=calibration.hard_rules)
        source = str(file)
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
            f"{calibration.review_threshold}; check {source} and AGENTFLOWS_FRAUD_*_THRESHOLD"
        )
    return calibration


def overrides_in_use() -> list[str]:
    """The settings that override the workspace's fraud values right now (for reports that compare workspaces)."""
    settings = get_settings()
    named = {
        "AGENTFLOWS_FRAUD_CALIBRATION_FILE": settings.fraud_calibration_file,
        "AGENTFLOWS_FRAUD_REVIEW_THRESHOLD": settings.fraud_review_threshold,
        "AGENTFLOWS_FRAUD_BLOCK_THRESHOLD": settings.fraud_block_threshold,
        "AGENTFLOWS_FRAUD_TEMPLATES_DIR": settings.fraud_templates_dir,
    }
    return [f"{name}={value}" for name, value in named.items() if value is not None]


def templates_in_use(workspace: Workspace) -> TemplateSet:
    """The templates a check compares messages with: `AGENTFLOWS_FRAUD_TEMPLATES_DIR` (read now) or the snapshot's."""
    folder = get_settings().fraud_templates_dir
    if folder is not None:
        return load_templates(folder.expanduser().resolve())
    return workspace.fraud.templates  # type: ignore[no-any-return]
