"""Prospect-outreach throughput against a slow, rate-limited model provider, with the engine's floor.

    .venv/bin/python benchmarks/throughput.py --prospects 1000 [--latency-ms 500] [--concurrency 50]
                                              [--rpm 600] [--repeats 1] [--workloads agents bare shape]
                                              [--database embedded|embedded-all|sqlite|postgres]

N prospects go through prospect outreach up to the approval pause: the drafting half of
`flows/prospect_outreach.py` (`load_prospects` + `draft_for` per prospect: website fetch, researcher
and writer requests through the real OpenAI SDK (the workspace's rules route: no request),
reviewer examples, drafts saved), in one flow run on a real Prefect server, against the fake
provider in its own process answering after
`--latency-ms` and refusing (429) more than `--concurrency` requests in flight. The client keeps
under that with the project's Prefect global concurrency limit per provider (and, with `--rpm`, a
Prefect rate limit), exactly as a production deployment configured for that provider would.

Printed in one run:
  ideal          requests x latency / concurrency: the provider's own ceiling
  agents         the workload above (wall time, ratio to ideal, requests/s, peak RSS of the flow process)
  bare tasks     the engine's floor: the same number of requests per prospect as plain Prefect tasks
                 posting to the same provider (no agents, no database, in-process semaphore)
  shape          the same, plus the agents' other task runs per prospect as empty tasks (fetch, style
                 examples, save: `SHAPE_EXTRA_TASKS`): the floor of the agents' task-run shape

Each workload runs in a fresh child process (peak RSS is that process's own) with an empty result store
(else a repeat would replay the cached model requests), on a fresh copy of the seeded CRM. Websites are
unreachable here (no network): the fetch fails fast and briefs say so.
With `--rpm R` the provider also enforces R requests per sliding minute and the run should hold
>= 90 % of it with no failed prospect. The last line is exactly `ratio=<agents/ideal> rss_mib=<peak>`.

`--database` says where the Prefect server's database and the project database (CRM, drafts) live, see
DATABASES; `embedded` is what `agentflows up` runs by default.

Diagnostics: BENCH_DEBUG=1 prints each workload's stderr; BENCH_PROFILE=<file> writes a cProfile of the
agents workload (read it with `python -m pstats <file>`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL_NAME = "gpt-4o-mini"
PROVIDER = "openai-compatible"
DATABASES = {  # name: (the Prefect server's database, the project database)
    "embedded": ("embedded PostgreSQL", "SQLite"),
    "embedded-all": ("embedded PostgreSQL", "embedded PostgreSQL"),
    "sqlite": ("SQLite", "SQLite"),
    "postgres": ("system PostgreSQL", "system PostgreSQL"),  # a throwaway server; needs PostgreSQL installed
}


# --- the two workloads, each run in its own child process -------------------------------------------


def run_agents(ids: list[int]) -> dict[str, float]:
    """The drafting half of prospect outreach, as the flow runs it, in one flow run."""
    import asyncio

    from agentflows.prefect_env import configure_prefect_env

    configure_prefect_env()
    from prefect import flow
    from prefect.context import get_run_context

    from flows.prospect_outreach import batch_inputs, draft_prospects

    @flow(name="outreach-drafting-benchmark", persist_result=True)
    async def drafting(prospect_ids: list[int]) -> tuple[int, float]:
        flow_started = time.time()  # the flow function's first line: "after the flow starts" counts from here
        batch_run_id = str(get_run_context().flow_run.id)
        workspace, records = await batch_inputs(prospect_ids)
        results = await draft_prospects(records, batch_run_id, workspace)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures[:3]:
            print(f"failed prospect: {type(failure).__name__}: {failure}"[:300], file=sys.stderr)
        return len(failures), flow_started

    started = time.perf_counter()
    failed, flow_started = asyncio.run(drafting(ids))
    return {"wall_s": time.perf_counter() - started, "failed": failed, "flow_started": flow_started}


SHAPE_EXTRA_TASKS = 3
"""A prospect's task runs besides its 2 model requests: fetch-website, select-style-examples, save-drafts."""


def run_bare(
    ids: list[int], requests_per_prospect: int, concurrency: int, base_url: str, rpm: int | None, extra_tasks: int = 0
) -> dict[str, float]:
    """The engine's floor: the same requests as plain Prefect tasks, one flow run, no agents (with
    `extra_tasks`, that many empty task runs per prospect too, results persisted like the agents')."""
    import asyncio

    import httpx

    from agentflows.prefect_env import configure_prefect_env

    configure_prefect_env()
    from prefect import flow, task

    from agentflows.provider_limits import RPM_PACE

    body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": "ping"}]}

    @flow(name="bare-tasks-benchmark")
    async def bare(prospect_ids: list[int]) -> tuple[int, float]:
        flow_started = time.time()
        slots = asyncio.Semaphore(concurrency)
        pace = asyncio.Lock()
        next_start = [time.monotonic()]

        async def paced() -> None:  # with --rpm the floor keeps to the provider's rate too
            if not rpm:
                return
            async with pace:
                wait = next_start[0] - time.monotonic()
                next_start[0] = max(next_start[0], time.monotonic()) + 60 / (rpm * RPM_PACE)  # as the pools do
            if wait > 0:
                await asyncio.sleep(wait)

        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:

            @task(name="provider-request")
            async def request(prospect: int, step: int) -> int:
                async with slots:
                    await paced()
                    answer = await http.post("/chat/completions", json=body, headers={"authorization": "Bearer x"})
                answer.raise_for_status()
                return answer.status_code

            @task(name="empty-step")
            async def empty_step(prospect: int, step: int) -> int:
                return step

            async def one(prospect: int) -> None:
                if extra_tasks:
                    await empty_step(prospect, -1)  # where the agents fetch the website
                for step in range(requests_per_prospect):  # sequential per prospect, like brief -> route -> write
                    await request(prospect, step)
                for step in range(1, extra_tasks):  # where they pick style examples and save the drafts
                    await empty_step(prospect, step)

            results = await asyncio.gather(*(one(p) for p in prospect_ids), return_exceptions=True)
        return sum(isinstance(r, BaseException) for r in results), flow_started

    started = time.perf_counter()
    failed, flow_started = asyncio.run(bare(ids))
    return {"wall_s": time.perf_counter() - started, "failed": failed, "flow_started": flow_started}


def child_main(args: argparse.Namespace) -> None:
    import resource

    ids = json.loads(Path(args.ids_file).read_text())
    began = time.time()
    if os.environ.get("BENCH_DEBUG"):  # the provider pools' asks, with their timing
        import logging

        logging.basicConfig(format="%(relativeCreated)8.0f ms %(name)s %(message)s")
        logging.getLogger("agentflows.models").setLevel(logging.DEBUG)
    if args.child == "agents" and os.environ.get("BENCH_PROFILE"):  # where the agents' time goes
        import cProfile

        with cProfile.Profile() as profile:
            result = run_agents(ids)
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    elif args.child == "agents":
        result = run_agents(ids)
    else:
        extra = SHAPE_EXTRA_TASKS if args.child == "shape" else 0
        result = run_bare(ids, args.requests_per_prospect, args.concurrency, args.base_url, args.rpm, extra)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["rss_mib"] = usage.ru_maxrss / 1024  # Linux: KiB
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["began"] = began
    print("RESULT " + json.dumps(result), flush=True)


# --- the driver -------------------------------------------------------------------------------------


def parallel_drafts(concurrency: int, rpm: int | None, latency_s: float) -> int:
    """Prospects drafting at once, as a deployment would configure it for this provider: enough to keep
    every slot the provider allows busy (each prospect sends its 2 requests one after another), and no
    more: past that, prospects only queue in the process and delay each other's first request."""
    in_flight = concurrency if not rpm else min(concurrency, max(1, round(rpm / 60 * latency_s * 2)))
    return max(8, in_flight * 2)


def settle(pid: int, timeout_s: float = 300) -> None:
    """Wait until the Prefect server has worked through the previous workload's events (under 10 % of a
    core for a second), so a workload does not pay for its predecessor's backlog."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1)
        if cpu_seconds(pid) - before < 0.1:
            return


def cpu_seconds(*pids: int) -> float:
    """CPU time (user + system) used so far by these processes and every process in their groups (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups = {os.getpgid(pid) for pid in pids if Path(f"/proc/{pid}").exists()}
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        if pid in pids or int(fields[2]) in groups:  # fields: state ppid pgrp ... utime(11) stime(12)
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_child(kind: str, env: dict[str, str], ids_file: Path, extra: list[str]) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", kind, "--ids-file", str(ids_file), *extra]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if os.environ.get("BENCH_DEBUG"):
        print(done.stderr, file=sys.stderr)
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} workload failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prospects", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=500)
    parser.add_argument("--concurrency", type=int, default=50, help="the provider's limit of requests in flight")
    parser.add_argument("--rpm", type=int, default=None, help="the provider's requests-per-minute limit")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--database", choices=list(DATABASES), default="embedded")
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=["agents", "bare", "shape"],
        default=["agents", "bare", "shape"],
        help="run only these workloads (the last line needs agents)",
    )
    parser.add_argument("--child", choices=["agents", "bare", "shape"], help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--requests-per-prospect", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    work = Path(tempfile.mkdtemp(prefix="agentflows-bench-throughput-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AGENTFLOWS_"))}
    env |= {
        "AGENTFLOWS_DATA_DIR": str(work / "data"),
        "PREFECT_HOME": str(work / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(work / "results"),
    }
    os.environ.update(env)
    from agentflows.prefect_server import free_port, start_prefect_server

    prefect_port = free_port()
    os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"] = f"http://127.0.0.1:{prefect_port}/api"

    from agentflows_fake_provider import FakeProviderProcess, FaultConfig
    from sqlalchemy import func, select

    from agentflows.db import session_scope
    from agentflows.db.crm import Contact
    from agentflows.db.migrate import upgrade
    from agentflows.seed.crm import seed_crm
    from agentflows.settings import get_settings

    pg = None
    if args.database == "postgres":  # the system PostgreSQL: only the test suite's helper starts one
        from tests.triggers.postgres import start_postgres

        pg = start_postgres(["prefect", "agentflows"], durable=True)
    # The Prefect server first: with embedded-all, the project database lives on its embedded PostgreSQL.
    server = start_prefect_server(
        work / "prefect-server",
        port=prefect_port,
        database_url=pg.url("prefect", "asyncpg") if pg else None,
        embedded_pgdata=work / "postgres" if args.database.startswith("embedded") else None,
    )
    shared = None  # one PostgreSQL project database for every run (else a fresh SQLite copy per run)
    if pg:
        shared = pg.url("agentflows")
    elif args.database == "embedded-all" and server.database is not None:
        server.database.ensure_database("agentflows")
        shared = server.database.url("agentflows", driver="psycopg")
    template = shared or f"sqlite:///{work / 'crm-template.db'}"
    os.environ["AGENTFLOWS_DATABASE_URL"] = template
    get_settings.cache_clear()
    try:  # on a failure here, stop the servers (the main try below stops them after the runs)
        upgrade(template)
        seed_crm()
        with session_scope(template) as session:
            ids = list(session.scalars(select(Contact.id).order_by(Contact.id).limit(args.prospects)))
            available = session.scalar(select(func.count(Contact.id)))
        if len(ids) < args.prospects:
            raise SystemExit(f"the seeded CRM has {available} contacts; ask for at most that many prospects")
    except BaseException:
        server.stop()
        if pg:
            pg.stop()
        raise
    server_pids = [server.process.pid] + ([server.database.process.pid] if server.database else [])
    ids_file = work / "ids.json"
    ids_file.write_text(json.dumps(ids))

    faults = FaultConfig(
        latency_ms=args.latency_ms,
        max_concurrency=args.concurrency,
        rpm_limit=args.rpm,
        retry_after_s=0.5,
    )
    provider = FakeProviderProcess(faults, responder="tests.providers.responders:offline_responder").start()
    limits = {"AGENTFLOWS_PROVIDER_CONCURRENCY": json.dumps({PROVIDER: args.concurrency})}
    if args.rpm:
        limits["AGENTFLOWS_PROVIDER_RPM"] = json.dumps({PROVIDER: args.rpm})
    agent_env = (
        env
        | limits
        | {
            "AGENTFLOWS_MODEL": f"{PROVIDER}:{MODEL_NAME}@{provider.openai_base_url}",
            "AGENTFLOWS_OPENAI_API_KEY": "sk-benchmark-not-a-real-key",
            "AGENTFLOWS_MAX_PARALLEL_DRAFTS": str(parallel_drafts(args.concurrency, args.rpm, args.latency_ms / 1000)),
            "AGENTFLOWS_WEB_TIMEOUT_S": "2",
        }
    )
    rows: dict[str, list[dict[str, float]]] = {"agents": [], "bare": [], "shape": []}
    try:
        for repeat in range(args.repeats):
            for kind in args.workloads:
                db_url = shared or f"sqlite:///{work / f'crm-{kind}-{repeat}.db'}"
                if not shared:  # the backup API, not a file copy: the template's recent writes may sit in its WAL
                    with (
                        sqlite3.connect(template.removeprefix("sqlite:///")) as source,
                        sqlite3.connect(db_url.removeprefix("sqlite:///")) as target,
                    ):
                        source.backup(target)
                else:  # one PostgreSQL database: clear the drafts and usage of the previous run
                    from agentflows.db.crm import OutreachDraft
                    from agentflows.db.usage import ModelUsage

                    with session_scope(template) as session:
                        session.query(OutreachDraft).delete()
                        session.query(ModelUsage).delete()
                provider.reset_stats()
                per_prospect = (
                    statistics.median(r["requests"] / len(ids) for r in rows["agents"])
                    if kind in ("bare", "shape") and rows["agents"]
                    else 3
                )
                extra = ["--base-url", provider.openai_base_url, "--concurrency", str(args.concurrency)]
                extra += ["--rpm", str(args.rpm)] if args.rpm else []
                extra += ["--requests-per-prospect", str(round(per_prospect))]
                settle(server.process.pid)
                server_cpu = cpu_seconds(*server_pids)
                provider_cpu = cpu_seconds(provider.process.pid)
                # A fresh result store per run: with the one before it, a repeat would replay every model
                # request from the cache (a re-run with the same inputs is not paid again) and measure nothing.
                fresh = {
                    "AGENTFLOWS_DATABASE_URL": db_url,
                    "PREFECT_LOCAL_STORAGE_PATH": str(work / f"results-{kind}-{repeat}"),
                }
                result = run_child(
                    kind,
                    (agent_env if kind == "agents" else env) | fresh,
                    ids_file,
                    extra,
                )
                result["server_cpu_s"] = cpu_seconds(*server_pids) - server_cpu
                result["provider_cpu_s"] = cpu_seconds(provider.process.pid) - provider_cpu
                stats = provider.stats
                sent = [e for e in stats.log if e.status == 200]
                first_sent = min((e.time - e.duration_s for e in sent), default=result["began"])
                if os.environ.get("BENCH_DEBUG"):  # requests sent per 5 s since the first one
                    buckets = collections.Counter(int((e.time - e.duration_s - first_sent) // 5) for e in sent)
                    print(f"{kind} sends per 5 s:", [buckets[i] for i in range(max(buckets) + 1)], file=sys.stderr)
                    firsts = sorted(stats.log, key=lambda e: e.time - e.duration_s)[:5]
                    print(
                        f"{kind} first requests (arrival after the flow started, status, duration):",
                        [
                            (round(e.time - e.duration_s - result["flow_started"], 2), e.status, round(e.duration_s, 2))
                            for e in firsts
                        ],
                        file=sys.stderr,
                    )
                result |= {
                    "warmup_s": first_sent - result.pop("began"),  # process start to the first request sent
                    "first_request_s": first_sent - result.pop("flow_started"),  # the flow's start to it
                    "busy_rps": len(sent) / max(1e-9, max((e.time for e in sent), default=0) - first_sent),
                    "requests": stats.successes,
                    "rejected": sum(stats.faults.values()),
                    "rps": stats.successes / result["wall_s"],
                    "ideal_s": stats.successes * args.latency_ms / 1000 / args.concurrency,
                    "flow_cpu_ms": result["cpu_s"] / len(ids) * 1000,
                    "server_cpu_ms": result["server_cpu_s"] / len(ids) * 1000,
                }
                if args.rpm:
                    result["ideal_s"] = max(result["ideal_s"], stats.successes / (args.rpm / 60))
                    result["held"] = result["rps"] * 60 / args.rpm
                if not stats.successes:
                    raise SystemExit(f"{kind}: the provider answered no request; rerun with BENCH_DEBUG=1 to see why")
                result["ratio"] = result["wall_s"] / result["ideal_s"]
                rows[kind].append(result)
                held = f", held {result['held']:.0%} of {args.rpm}/min" if args.rpm else ""
                print(
                    f"{kind:<6} run {repeat + 1}: {result['wall_s']:.1f} s for {stats.successes} requests "
                    f"(ideal {result['ideal_s']:.1f} s, ratio {result['ratio']:.2f}), {result['rps']:.1f} req/s{held}, "
                    f"{result['rejected']:.0f} rejected by the provider, {result['failed']:.0f} failed prospects, "
                    f"peak RSS {result['rss_mib']:.0f} MiB; CPU: {result['cpu_s']:.1f} s in the flow process "
                    f"({result['flow_cpu_ms']:.0f} ms a prospect), {result['server_cpu_s']:.1f} s in the Prefect "
                    f"server and its database ({result['server_cpu_ms']:.0f} ms a prospect), "
                    f"{result['provider_cpu_s']:.1f} s in the provider; first request "
                    f"{result['first_request_s']:.2f} s after the flow started "
                    f"({result['warmup_s']:.1f} s after the process), then "
                    f"{result['busy_rps']:.1f} req/s; load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        provider.stop()
        server.stop()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    med = {
        kind: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for kind, runs in rows.items() if runs
    }
    limit = f", {args.rpm} requests/min" if args.rpm else ""
    print(
        f"\n{args.prospects} prospects; provider: {args.latency_ms:g} ms per request, at most {args.concurrency} "
        f"in flight{limit}; {args.database}: Prefect server on {DATABASES[args.database][0]}, project database on "
        f"{DATABASES[args.database][1]}; median of {args.repeats}; {os.cpu_count()} cores.\n"
    )
    print(
        "| workload | requests | wall (s) | ideal (s) | ratio | req/s | 429s | failed | peak RSS (MiB) "
        "| first request after flow start (s) | flow CPU / prospect (ms) | server CPU / prospect (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {
        "agents": "prospect outreach (agents)",
        "bare": "bare Prefect tasks (floor)",
        "shape": f"bare tasks + {SHAPE_EXTRA_TASKS} empty ones a prospect (the agents' shape)",
    }
    for kind, m in med.items():
        print(
            f"| {names[kind]} | {m['requests']:.0f} | {m['wall_s']:.1f} | {m['ideal_s']:.1f} | {m['ratio']:.2f} | "
            f"{m['rps']:.1f} | {m['rejected']:.0f} | {m['failed']:.0f} | {m['rss_mib']:.0f} | "
            f"{m['first_request_s']:.2f} | {m['flow_cpu_ms']:.0f} | {m['server_cpu_ms']:.0f} |"
        )
    if "agents" not in med:
        return
    for floor in ("bare", "shape"):
        if floor in med:
            a, b = med["agents"], med[floor]
            print(
                f"\nagents / {floor}: wall {a['wall_s'] / b['wall_s']:.2f}x, flow CPU a prospect "
                f"{a['flow_cpu_ms'] / b['flow_cpu_ms']:.2f}x, server CPU a prospect "
                f"{a['server_cpu_ms'] / b['server_cpu_ms']:.2f}x"
            )
    if args.rpm:
        print(f"\nheld {med['agents']['held']:.0%} of the provider's {args.rpm} requests/min (median of the runs)")
    print(
        f"ratio={med['agents']['ratio']:.2f} rss_mib={med['agents']['rss_mib']:.0f} "
        f"first_request_s={med['agents']['first_request_s']:.2f} flow_cpu_ms={med['agents']['flow_cpu_ms']:.0f} "
        f"server_cpu_ms={med['agents']['server_cpu_ms']:.0f}"
    )


if __name__ == "__main__":
    main()
