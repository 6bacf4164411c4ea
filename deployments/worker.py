"""`python -m deployments.worker start --pool P ...`: `prefect worker start ...`, with the paused-run guard.

`agentflows up --workers N` starts its process workers through this module rather than the `prefect`
script, so a run the receiver claimed and suspended between a worker's poll and its `Pending`
proposal does not end the worker (`agentflows.compat.prefect_runner`). Everything else is Prefect's
own CLI, arguments unchanged.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from agentflows.compat.prefect_runner import install_paused_run_guard

    install_paused_run_guard()
    from prefect.cli import app

    sys.argv = ["prefect", "worker", *argv]
    result = app()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
