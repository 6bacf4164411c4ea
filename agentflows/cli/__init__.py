"""The `agentflows` command line: one module per command group, all on the `app` of `common`.

Prefect reads its settings at import, so `main` configures the Prefect environment before anything
imports Prefect; the commands import flows, tasks and deployments lazily, inside the command.

This is the top layer, like `deployments/`: it may import every other package. No command module
imports another, they share `agentflows.cli.common`; this module imports them, in the order
`--help` lists the commands, and that import is what registers them.
"""

from __future__ import annotations

from agentflows.cli.common import app
from agentflows.prefect_env import configure_prefect_env

# Importing a command module registers its commands, and `--help` lists them in registration order.
# isort: off
from agentflows.cli import data, imports, outreach, usage, demo, fraud, memory, outbox, triggers, workspace
# isort: on

COMMAND_MODULES = (data, imports, outreach, usage, demo, fraud, memory, outbox, triggers, workspace)
"""Every command module, in `--help` order."""

__all__ = ["COMMAND_MODULES", "app", "main"]


def main() -> None:
    """The console script (`agentflows = "agentflows.cli:main"` in pyproject.toml)."""
    configure_prefect_env()
    app()
