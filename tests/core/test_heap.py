"""The receiver and a batch freeze their imports out of the garbage collector, once per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_freezing_once_takes_the_imports_out_of_full_collections_and_later_garbage_is_still_collected() -> None:
    script = textwrap.dedent(
        """
        import gc, time, weakref
        import prefect, pydantic_ai  # the heap a receiver carries
        from agentflows.heap import freeze_imported_heap

        def full_collection_ms():
            start = time.perf_counter(); gc.collect(); return (time.perf_counter() - start) * 1000

        before = min(full_collection_ms() for _ in range(3))
        frozen = freeze_imported_heap()
        after = min(full_collection_ms() for _ in range(3))
        again = freeze_imported_heap()

        class Node: pass
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle created after the freeze: still garbage the collector frees
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(frozen, again, gone() is None, round(before, 1), round(after, 1))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    frozen, again, collected, before, after = int(out[0]), int(out[1]), out[2], float(out[3]), float(out[4])
    assert frozen > 100_000, "the imports' objects are frozen"
    assert again == 0, "a second call freezes nothing more (frozen objects are never collected as cycles)"
    assert collected == "True"
    assert after < before / 5, f"a full collection after the freeze walks far less ({after} ms against {before} ms)"
