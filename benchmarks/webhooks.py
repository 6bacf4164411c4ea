"""Webhook receiver throughput and time-to-202 on loopback, against the Prefect API as baseline.

    .venv/bin/python benchmarks/webhooks.py [--rates 10,25,50,100] [--seconds 6] [--repeats 3]
                                           [--backends embedded,sqlite]

For each backend (where the Prefect server's database and the project's live, see BACKENDS) it
starts a Prefect server, applies the deployments (no runner: runs are created, not executed, so only
the trigger path is measured) and runs the receiver as `agentflows up` does, in its own uvicorn
process. Three paths get the same open-loop load (a request every 1/rate s whatever
the answers do; latency counts from the scheduled send) of signed `claim-opened` deliveries:

  receiver alone          the receiver against a stand-in Prefect API that answers instantly:
                          size cap, signature, payload, the deliveries table, the client call
  Prefect API alone       `create_flow_run_from_deployment` straight to the real server (baseline)
  receiver + Prefect API  end to end, what a webhook sender sees; after each cell the benchmark
                          waits for the queue to drain and reports when each run existed

Each cell is the median over `--repeats` runs. Client, receiver and servers share the machine's cores.
Prefect client retries are off here, so an overloaded server shows as errors (503) instead of minutes
of retries; the receiver answers those deliveries 503 and the sender retries them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="agentflows-bench-webhooks-"))
os.environ.update(
    {
        "AGENTFLOWS_DATA_DIR": str(WORK / "data"),
        "PREFECT_HOME": str(WORK / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # Overload shows as errors, not minutes of client retries (applies to the receivers too).
        "PREFECT_CLIENT_MAX_RETRIES": "0",
    }
)
from agentflows.prefect_server import free_port  # noqa: E402

PREFECT_PORT = free_port()
os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{PREFECT_PORT}/api"

import httpx  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from agentflows.prefect_server import start_prefect_server  # noqa: E402
from benchmarks.supervise import start_process, stop_process  # noqa: E402
from deployments.webhook_secrets import generate_secret  # noqa: E402

SECRET = generate_secret()
ROUTE = "/webhooks/shop/claim-opened"

Send = Callable[[int], Awaitable[str | None]]  # "started", "queued" (run created later) or None (failed)

BACKENDS = {  # name: (the Prefect server's database, the project database)
    "embedded": ("embedded PostgreSQL", "SQLite"),  # what `agentflows up` runs by default
    "embedded-all": ("embedded PostgreSQL", "embedded PostgreSQL"),
    "sqlite": ("SQLite", "SQLite"),
    "postgres": ("system PostgreSQL", "system PostgreSQL"),  # a throwaway server; needs PostgreSQL installed
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def open_loop(send: Send, rate: float, seconds: float) -> dict[str, float]:
    """Send `rate` requests per second for `seconds`, on schedule; latency from the scheduled time."""
    latencies: list[float] = []
    ok = queued = 0
    start, wall_start = time.perf_counter(), time.time()
    count = int(rate * seconds)

    async def one(i: int) -> None:
        nonlocal ok, queued
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        answer = await send(i)
        if answer:
            ok += 1
            queued += answer == "queued"
            latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.perf_counter() - start
    return {
        "accepted_rps": ok / wall,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "errors": count - ok,
        "queued": queued,
        "wall_start": wall_start,
    }


def time_to_run(db_url: str, run: str, rate: float, wall_start: float, timeout: float = 300) -> dict[str, float]:
    """After the load: when each delivery's flow run existed, from its scheduled send (the queue drains)."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.webhooks import DeliveryStatus, WebhookDelivery

    deadline = time.monotonic() + timeout
    while True:
        with session_scope(db_url) as session:
            rows = session.execute(
                select(WebhookDelivery.delivery_id, WebhookDelivery.status, WebhookDelivery.updated_at).where(
                    WebhookDelivery.delivery_id.like(f"bench-{run}-%")
                )
            ).all()
        if all(r.status != DeliveryStatus.ACCEPTED for r in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    delays = [
        r.updated_at.replace(tzinfo=UTC).timestamp() - (wall_start + int(r.delivery_id.rsplit("-", 1)[1]) / rate)
        for r in rows
        if r.status == DeliveryStatus.STARTED
    ]
    return {
        "run_p50_ms": percentile(delays, 0.5) * 1000,
        "run_p95_ms": percentile(delays, 0.95) * 1000,
        "not_started": len(rows) - len(delays),  # accepted (202) but no flow run by the deadline: lost
    }


def receiver_sender(client: httpx.AsyncClient, run: str) -> Send:
    signer = Webhook(SECRET)

    async def send(i: int) -> bool:
        body = json.dumps({"claim_id": i + 1}).encode()
        msg_id = f"bench-{run}-{i}"
        now = datetime.now(UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id, now, body.decode()),
            "content-type": "application/json",
        }
        try:
            answer = await client.post(ROUTE, content=body, headers=headers)
        except httpx.HTTPError:
            return None
        return answer.json()["status"] if answer.status_code == 202 else None

    return send


def prefect_sender(client, deployment_id, run: str) -> Send:  # type: ignore[no-untyped-def]
    async def send(i: int) -> bool:
        try:
            await client.create_flow_run_from_deployment(
                deployment_id, parameters={"case_id": i + 1}, idempotency_key=f"bench-{run}-{i}"
            )
        except Exception:  # counted as an error; the table shows how many
            return None
        return "started"

    return send


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the receiver (or stub); 5 s to drain its connections before SIGKILL."""
    stop_process(process, grace_s=5)


def start(argv: list[str], health_url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start_process(argv, health_url, os.environ | env, timeout_s=60, grace_s=5)


def start_receiver(port: int, db_url: str, api_url: str) -> subprocess.Popen[bytes]:
    env = {"AGENTFLOWS_WEBHOOK_SECRET_SHOP": SECRET, "AGENTFLOWS_DATABASE_URL": db_url, "PREFECT_API_URL": api_url}
    argv = [sys.executable, "-m", "uvicorn", "--factory", "deployments.webhooks.app:create_app"]
    argv += ["--port", str(port), "--log-level", "critical"]
    return start(argv, f"http://127.0.0.1:{port}/healthz", env)


def serve_stub(port: int, canned: Path) -> None:
    """A stand-in Prefect API answering the receiver's two calls with canned JSON (new run id each time)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    data = json.loads(canned.read_text())

    async def deployment(request: Request) -> Response:
        return JSONResponse(data["deployment"])

    async def create(request: Request) -> Response:
        await request.body()
        return JSONResponse(data["flow_run"] | {"id": str(uuid4())}, status_code=201)

    async def health(request: Request) -> Response:
        return JSONResponse(True)

    routes = [
        Route("/api/deployments/name/{flow}/{name}", deployment),
        Route("/api/deployments/{id}/create_flow_run", create, methods=["POST"]),
        Route("/api/health", health),
        Route("/api/admin/version", lambda request: JSONResponse("3.8.8")),
    ]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="critical")


async def measure(
    rates: list[float], seconds: float, repeats: int, urls: tuple[str, str], deployment_id, db_url: str
) -> list[dict]:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    rows = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=30, limits=limits) as http,
        httpx.AsyncClient(base_url=urls[1], timeout=30, limits=limits) as stubbed,
        get_client() as prefect,
    ):
        for client in (http, stubbed):  # connections, caches, first-query costs
            await open_loop(receiver_sender(client, f"warmup-{id(client)}"), 10, 2)
        paths = (
            ("receiver alone (Prefect API stubbed)", lambda r: receiver_sender(stubbed, r)),
            ("Prefect API alone (baseline)", lambda r: prefect_sender(prefect, deployment_id, r)),
            ("receiver + Prefect API (end to end)", lambda r: receiver_sender(http, r)),
        )
        for rate in rates:
            results: dict[str, list[dict[str, float]]] = {path: [] for path, _ in paths}
            for k in range(repeats):  # interleaved, so a drifting machine affects every path alike
                for n, (path, make) in enumerate(paths):  # every delivery id is new (no stored answers)
                    run = f"path{n}-{rate}-{k}"
                    result = await open_loop(make(run), rate, seconds)
                    if path.endswith("(end to end)"):  # the queue drains before the next cell starts
                        result |= await asyncio.to_thread(time_to_run, db_url, run, rate, result["wall_start"])
                    results[path].append(result)
            for path, runs in results.items():
                row = {"path": path, "offered_rps": rate}
                row |= {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                rows.append(row)
                print(
                    f"{rate:>5.0f} rps  {path:<42} accepted {row['accepted_rps']:6.1f}/s  "
                    f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  errors {row['errors']:.0f}  "
                    f"queued {row['queued']:.0f}  run p95 {row.get('run_p95_ms', float('nan')):.0f} ms  "
                    f"never started {row.get('not_started', 0):.0f}",
                    flush=True,
                )
    return rows


def run_backend(backend: str, rates: list[float], seconds: float, repeats: int) -> list[dict]:  # type: ignore[type-arg]
    """Prefect server + project database as BACKENDS[backend] says, receiver, the load."""
    from agentflows.db.migrate import upgrade
    from agentflows.settings import get_settings
    from deployments.serve import build_deployments

    pg = None
    if backend == "postgres":  # the system PostgreSQL: only the test suite's helper starts one
        from tests.triggers.postgres import start_postgres

        pg = start_postgres(["prefect", "agentflows"], durable=True)
    server = None
    children: list[subprocess.Popen[bytes]] = []
    try:
        server = start_prefect_server(
            WORK / backend / "prefect-server",
            port=PREFECT_PORT,
            database_url=pg.url("prefect", "asyncpg") if pg else None,
            embedded_pgdata=WORK / backend / "postgres" if backend.startswith("embedded") else None,
            # No runner picks the benchmark's runs up; marking thousands of them Late would load the server.
            extra_env={"PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false"},
        )
        if pg:
            db_url = pg.url("agentflows")
        elif backend == "embedded-all" and server.database is not None:
            server.database.ensure_database("agentflows")
            db_url = server.database.url("agentflows", driver="psycopg")
        else:
            db_url = f"sqlite:///{WORK / backend / 'agentflows.db'}"
        os.environ["AGENTFLOWS_DATABASE_URL"] = db_url
        get_settings.cache_clear()
        upgrade(db_url)
        ids = {d.full_name: d.apply() for d in build_deployments()}
        api = server.api_url
        deployment = httpx.get(f"{api}/deployments/name/fraud-check/on-demand", timeout=10).json()
        run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={"parameters": {"case_id": 1}})
        canned = WORK / backend / "canned.json"
        canned.write_text(json.dumps({"deployment": deployment, "flow_run": run.json()}))
        stub_port, port, stubbed_port = free_port(), free_port(), free_port()
        stub_argv = [sys.executable, __file__, "--stub-prefect", str(stub_port), str(canned)]
        children.append(start(stub_argv, f"http://127.0.0.1:{stub_port}/api/health", {}))
        children.append(start_receiver(port, db_url, api))
        children.append(start_receiver(stubbed_port, db_url, f"http://127.0.0.1:{stub_port}/api"))
        urls = (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stubbed_port}")
        rows = asyncio.run(measure(rates, seconds, repeats, urls, ids["fraud-check/on-demand"], db_url))
        return [r | {"backend": backend} for r in rows]
    finally:
        for child in children:
            stop(child)
        if server is not None:
            server.stop()  # and the embedded PostgreSQL under it
        if pg:
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="10,25,50,100")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--backends", default="embedded,sqlite", help=f"Prefect server + project database: {', '.join(BACKENDS)}"
    )
    parser.add_argument("--stub-prefect", nargs=2, metavar=("PORT", "CANNED_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stub_prefect:
        shutil.rmtree(WORK, ignore_errors=True)
        serve_stub(int(args.stub_prefect[0]), Path(args.stub_prefect[1]))
        return
    rates = [float(r) for r in args.rates.split(",")]
    backends = args.backends.split(",")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    rows = []
    for backend in backends:
        prefect_db, project_db = BACKENDS[backend]
        print(f"--- {backend}: Prefect server on {prefect_db}, project database on {project_db}", flush=True)
        rows += run_backend(backend, rates, args.seconds, args.repeats)
    cores = os.cpu_count()
    print(f"\nmedian of {args.repeats} runs of {args.seconds:g} s per cell; {cores} cores; client, receiver and server")
    print("share them. Latency counts from each request's scheduled send time (open loop).\n")
    print("Queued answers are 202s given before the run existed; time-to-run counts until it did.\n")
    print(
        "| database | offered req/s | path | accepted req/s | p50 / p95 time-to-202 (ms) | errors | queued "
        "| p50 / p95 time-to-run (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    shutil.rmtree(WORK, ignore_errors=True)
    for r in rows:
        run = f"{r['run_p50_ms']:.0f} / {r['run_p95_ms']:.0f}" if "run_p95_ms" in r else "-"
        run += f", {r['not_started']:.0f} never started" if r.get("not_started") else ""
        print(
            f"| {r['backend']} | {r['offered_rps']:.0f} | {r['path']} | {r['accepted_rps']:.1f} | "
            f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {r['errors']:.0f} | {r['queued']:.0f} | {run} |"
        )


if __name__ == "__main__":
    main()
