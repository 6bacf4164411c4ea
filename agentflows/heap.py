"""Keep Python's cyclic garbage collector off the heap of imported modules in long-lived processes.

Importing Prefect, pydantic-ai, the model SDKs, SQLAlchemy and pandas leaves ~350,000 objects the
collector tracks. A full (generation 2) collection walks all of them: ~100-230 ms on this project's
2-core machines, and it starts whenever enough objects have survived since the last one, so it
lands in the middle of some request and becomes that request's tail latency (a landing plan's p95).
Those objects live as long as the process; `gc.freeze()` moves them to a permanent generation the
collector never walks, so a full collection only walks what was created since.

Freeze once per process, after the imports and before serving: objects frozen are never collected
as cycles, so freezing again in a running server would keep whatever cyclic garbage existed then.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_imported_heap() -> int:
    """Collect once, then freeze what survives; returns how many objects were frozen (0 if done before)."""
    global _frozen
    if _frozen:
        return 0
    gc.collect()
    gc.freeze()
    _frozen = True
    return gc.get_freeze_count()
