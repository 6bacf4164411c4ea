"""Benchmark: the six deterministic fraud signals, set-wise vs per claim, in claims per second.

    .venv/bin/python benchmarks/fraud_signals.py [--repeats 5] [--sample 200] [--full-baseline]

Seeds the marketplace into a temporary SQLite database (or uses `--database-url`), then for batch
sizes 100, 1,000 and 2,000 times:
  - set-wise: `assess_batch(ids)`: each signal computed once for the whole batch (a fixed number
    of queries), then each signal's rule applied per claim;
  - per claim (the baseline, same run, same database): `assess_batch([id])` for every claim.
Figures are medians over `--repeats` runs. The per-claim path's cost does not depend on the batch
size (every claim is independent), so by default it is timed on a `--sample` of each batch;
`--full-baseline` times every claim (slow: about 80 ms per claim). Both paths must give identical
scores; the script checks that on the sample.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100, help="claims timed one by one per repeat (baseline)")
    parser.add_argument("--full-baseline", action="store_true", help="time every claim one by one (slow)")
    parser.add_argument("--database-url", default=None, help="an already seeded database (default: a fresh one)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="agentflows-bench-"))
    os.environ["AGENTFLOWS_DATA_DIR"] = str(workdir)
    os.environ["AGENTFLOWS_DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    os.environ.setdefault("AGENTFLOWS_MODEL", "offline")

    from sqlalchemy import event

    from agentflows.db.migrate import upgrade
    from agentflows.fraud_templates import load_templates
    from agentflows.seed.marketplace import seed_marketplace
    from tasks.fraud.common import engine
    from tasks.fraud.signals import assess_batch

    upgrade()
    started = time.perf_counter()
    counts = seed_marketplace()
    print(f"marketplace: {counts} ({time.perf_counter() - started:.1f}s)")
    templates = load_templates()
    queries = [0]

    def count(*_args: object) -> None:
        queries[0] += 1

    event.listen(engine(), "before_cursor_execute", count)
    assess_batch(list(range(1, 101)), templates)  # warm caches, imports, the SQLite page cache

    rows = []
    for size in (100, 1000, 2000):
        ids = list(range(1, size + 1))
        sample = ids if args.full_baseline else ids[:: max(1, size // args.sample)][: args.sample]
        batch_times, single_times = [], []
        for _ in range(args.repeats):
            queries[0] = 0
            t = time.perf_counter()
            batch = assess_batch(ids, templates)
            batch_times.append(time.perf_counter() - t)
            batch_queries = queries[0]
            queries[0] = 0
            t = time.perf_counter()
            single = {cid: assess_batch([cid], templates)[cid] for cid in sample}
            single_times.append((time.perf_counter() - t) / len(sample))
            single_queries = queries[0] / len(sample)
        for cid, signals in single.items():
            assert {n: s.rule_score for n, s in signals.items()} == {n: s.rule_score for n, s in batch[cid].items()}
        batch_rate = size / statistics.median(batch_times)
        single_rate = 1 / statistics.median(single_times)
        rows.append((size, batch_rate, single_rate, batch_queries, single_queries, len(sample)))

    print(f"\nsix deterministic signals, median of {args.repeats} repeats, SQLite, {os.cpu_count()} CPUs\n")
    print(
        "| batch | set-wise claims/s | per-claim claims/s | speed-up | queries (set-wise, whole batch) "
        "| queries (per claim, each) | per-claim sample |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, batch_rate, single_rate, bq, sq, n in rows:
        print(
            f"| {size:,} | {batch_rate:,.0f} | {single_rate:,.1f} | {batch_rate / single_rate:,.0f}x | {bq} "
            f"| {sq:.0f} | {n} |"
        )


if __name__ == "__main__":
    main()
