"""The fraud part of the workspace (`fraud/rules.yaml`, `fraud/templates/`): filled in by the fraud work."""

from __future__ import annotations

from typing import Any

from agentflows.workspace import Snapshot


def parse_fraud_config(snapshot: Snapshot) -> Any:
    return None
