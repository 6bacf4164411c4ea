"""Whether a process still runs, for the supervisors that record pids (`agentflows up`, the warm-run ledger)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` exists, ours or another user's (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, we may just not signal it
    return True
