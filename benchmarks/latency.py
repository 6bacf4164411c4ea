"""Latency where people wait: a landing plan, one prospect's approval form, one claim's fraud decision.

    .venv/bin/python benchmarks/latency.py [--quick] [--sequential 30] [--rate 5] [--seconds 60]
                                           [--modes offline,fake] [--paths landing,outreach,fraud]
                                           [--cold 3] [--no-floor] [--json FILE]

For each model mode (`offline`: no model time; `fake`: the fake provider answering every request after
1 s) it starts `agentflows up` on free loopback ports, as a user does, plus a second receiver on the same
stack with `AGENTFLOWS_WARM_RUNS=` (empty), and measures in the same run:

  warm     the stack's receiver: it runs these flows as Prefect flow runs in its own process
  cold     today's deployment-run path: the run waits for the runner's poll and a new process
  plain    the same agent called by plain pydantic-ai in this process (no Prefect): landing only,
           the other paths' steps are Prefect tasks themselves
  floor    (offline) `benchmarks.latency_floor` against the same server: an empty flow with one task run
           warm through the same `run_flow` path, and the four bare API round trips of every warm run

What "done" means per path (latency counts from the request's scheduled send):

  landing   signed `POST /webhooks/landing/form-submitted?wait=30` until its answer carries the plan
  outreach  signed `POST /webhooks/crm/prospects-selected` (one contact) until that prospect's
            `outreach-approval` run is Paused with its form (answerable)
  fraud     signed `POST /webhooks/shop/claim-opened` until the run is Completed (decided) or Paused
            (the analyst's review form)

Loads: `--sequential` requests one after the other, then an open loop at `--rate` requests/s for
`--seconds` (a request every 1/rate s whatever the answers do). `cold` gets only a few sequential
requests (`--cold`, 3 by default): each costs seconds, and an open loop would only measure its backlog.
`--quick` is 10 sequential, 5 req/s for 15 s. After each open loop the stack settles (no run in flight,
at most 3 minutes) so a backlog does not slow the next path. The table has p50/p95/max, the provider time
(fake mode: per warm sequential request, the time a model request was in flight, from the fake
provider's own log; 0 offline) and the engine overhead, p95 minus provider time; the warm sequential
rows also print the receiver's and the Prefect server's CPU per request. The last line is
`landing_p95_overhead_ms=<n> outreach_p95_overhead_ms=<n>` (offline, warm, the worse of sequential and
open loop).

Client, stack and fake provider share the machine's cores; on a shared machine compare the ratios.
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
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from agentflows.prefect_server import free_port  # noqa: E402
from benchmarks.supervise import start_process, stop_process  # noqa: E402
from deployments.webhook_secrets import generate_secret  # noqa: E402

SECRETS = {source: generate_secret() for source in ("crm", "shop", "landing")}
FAKE_LATENCY_MS = 1000
SITE = (
    b"<html><head><title>Acme Produce</title></head><body><article><p>We run forty warehouses across the "
    b"Midwest and ship fresh produce to grocery chains every day.</p><p>Our planners rebuild the weekly demand "
    b"forecast in spreadsheets every Monday.</p></article></body></html>"
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# --- the visitor's website: a local page, so the fetch costs what a fast site costs ----------------


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(SITE)))
        self.end_headers()
        self.wfile.write(SITE)

    def log_message(self, *args: Any) -> None:
        pass


def serve_site() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


# --- ids no request shares (a claim is decided once; a prospect gets one outreach) --------------------


@dataclass
class Ids:
    contacts: list[int]
    claims: list[int]
    emails: list[str]

    def take(self, kind: str) -> Any:
        pool = {"contacts": self.contacts, "claims": self.claims, "emails": self.emails}[kind]
        if not pool:
            raise SystemExit(f"ran out of seeded {kind}: ask for fewer requests")
        return pool.pop(0)


def seed(url: str) -> Ids:
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.crm import Contact
    from agentflows.db.fraud import Claim
    from agentflows.seed.crm import seed_crm
    from agentflows.seed.marketplace import seed_marketplace
    from tests.helpers import seed_database

    seed_database(url, seed_crm, seed_marketplace)
    with session_scope(url) as session:
        contacts = list(session.scalars(select(Contact.id).order_by(Contact.id)))
        emails = list(session.scalars(select(Contact.email).order_by(Contact.id.desc())))
        claims = list(session.scalars(select(Claim.id).order_by(Claim.id)))
    return Ids(contacts=contacts, claims=claims, emails=emails)


# --- the stack -------------------------------------------------------------------------------------


@dataclass
class Stack:
    up: Any  # tests.triggers.stack.UpProcess
    cold: subprocess.Popen[bytes]
    warm_url: str
    cold_url: str
    db_url: str
    env: dict[str, str]

    @property
    def api(self) -> str:
        return self.up.api

    @property
    def pids(self) -> dict[str, int]:
        """The processes whose CPU a warm request costs: the receiver (runs the flow) and the Prefect server."""
        services = self.up.services()
        return {"receiver": services["webhooks"], "prefect-server": services["prefect-server"]}

    def stop(self) -> None:
        stop_process(self.cold)
        self.up.stop()


def start_stack(work: Path, mode: str, provider_url: str | None) -> tuple[Stack, Ids]:
    from tests.triggers.stack import stack_env, start_up

    data_dir = work / f"stack-{mode}"
    db_url = f"sqlite:///{data_dir / 'agentflows.db'}"
    data_dir.mkdir(parents=True)
    ids = seed(db_url)
    extra = {f"AGENTFLOWS_WEBHOOK_SECRET_{s.upper()}": v for s, v in SECRETS.items()}
    extra |= {"AGENTFLOWS_LANDING_ALLOW_PRIVATE_WEBSITES": "true", "AGENTFLOWS_SCHEDULES_ENABLED": "false"}
    if provider_url:
        extra |= {
            "AGENTFLOWS_MODEL": f"openai-compatible:gpt-4o-mini@{provider_url}",
            "AGENTFLOWS_OPENAI_API_KEY": "sk-benchmark-not-a-real-key",
        }
    env = stack_env(data_dir, **extra)
    up = start_up(data_dir, env)
    cold_port = free_port()
    cold_env = env | {
        "AGENTFLOWS_WARM_RUNS": "",
        "PREFECT_API_URL": up.api,
        "AGENTFLOWS_WEBHOOK_PORT": str(cold_port),
    }
    argv = [sys.executable, "-m", "uvicorn", "--factory", "deployments.webhooks.app:create_app"]
    cold = start_process(
        [*argv, "--port", str(cold_port), "--log-level", "warning"],
        f"http://127.0.0.1:{cold_port}/healthz",
        cold_env,
    )
    warm_url = f"http://127.0.0.1:{env['AGENTFLOWS_WEBHOOK_PORT']}"
    return Stack(up, cold, warm_url, f"http://127.0.0.1:{cold_port}", db_url, env), ids


def signed(source: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    msg_id = f"msg_{uuid4().hex}"
    at = datetime.now(UTC)
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(SECRETS[source]).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


# --- one request per path, until what a person waits for exists --------------------------------------


Request = Callable[[httpx.AsyncClient], Awaitable[None]]


WAIT_S = 120  # a request not done by then counts as an error (a backlog must not hang the benchmark)


def past(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise RuntimeError(f"{what} not done within {WAIT_S} s")


async def run_state(client: httpx.AsyncClient, api: str, flow_run_id: str) -> str:
    run = (await client.get(f"{api}/flow_runs/{flow_run_id}")).json()
    return (run.get("state") or {}).get("type", "NONE")


async def run_id_of(client: httpx.AsyncClient, base: str, answer: httpx.Response) -> str:
    if answer.status_code >= 300:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
    data = answer.json()
    deadline = time.monotonic() + WAIT_S
    while data.get("flow_run_id") is None:
        past(deadline, "the queued delivery's run")
        await asyncio.sleep(0.05)
        data = (await client.get(base + data["status_url"])).json()
    return data["flow_run_id"]


def landing_request(base: str, ids: Ids, site: str) -> Request:
    email = ids.take("emails")

    async def go(client: httpx.AsyncClient) -> None:
        visitor = {"company": "Acme Produce", "role": "VP Marketing", "email": email, "website": site}
        body, headers = signed("landing", visitor | {"goals": "Grow repeat orders."})
        answer = await client.post(f"{base}/webhooks/landing/form-submitted?wait=30", content=body, headers=headers)
        if answer.status_code != 200 or not answer.json().get("plan"):
            raise RuntimeError(f"no plan: {answer.status_code} {answer.text[:200]}")

    return go


def fraud_request(base: str, ids: Ids, api: str) -> Request:
    claim = ids.take("claims")

    async def go(client: httpx.AsyncClient) -> None:
        body, headers = signed("shop", {"claim_id": claim})
        run_id = await run_id_of(
            client, base, await client.post(f"{base}/webhooks/shop/claim-opened", content=body, headers=headers)
        )
        deadline = time.monotonic() + WAIT_S
        while (state := await run_state(client, api, run_id)) not in {"COMPLETED", "PAUSED"}:
            past(deadline, f"fraud check {run_id}")
            if state in {"FAILED", "CRASHED", "CANCELLED"}:
                raise RuntimeError(f"fraud check {run_id} {state}")
            await asyncio.sleep(0.05)

    return go


def outreach_request(base: str, ids: Ids, api: str, db_url: str) -> Request:
    contact = ids.take("contacts")

    def approval_run(batch_run_id: str) -> str | None:
        from sqlalchemy import select

        from agentflows.db import session_scope
        from agentflows.db.crm import OutreachDraft

        with session_scope(db_url) as session:
            return session.scalar(select(OutreachDraft.flow_run_id).where(OutreachDraft.batch_run_id == batch_run_id))

    async def go(client: httpx.AsyncClient) -> None:
        body, headers = signed("crm", {"contact_ids": [contact]})
        answer = await client.post(f"{base}/webhooks/crm/prospects-selected", content=body, headers=headers)
        batch = await run_id_of(client, base, answer)
        deadline = time.monotonic() + WAIT_S
        while (approval := await asyncio.to_thread(approval_run, batch)) is None:
            past(deadline, f"outreach {batch}")
            if await run_state(client, api, batch) in {"FAILED", "CRASHED", "CANCELLED"}:
                raise RuntimeError(f"outreach {batch} did not draft")
            await asyncio.sleep(0.05)
        while (state := await run_state(client, api, approval)) != "PAUSED":
            past(deadline, f"approval {approval}")
            if state in {"FAILED", "CRASHED", "CANCELLED", "COMPLETED"}:
                raise RuntimeError(f"approval {approval} {state}")
            await asyncio.sleep(0.05)

    return go


# --- loads ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    mode: str
    path: str
    how: str
    load: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)  # wall-clock (start, end) of each ok request
    provider_s: list[float] = field(default_factory=list)  # per ok request: time a model request was in flight
    cpu_ms: dict[str, float] = field(default_factory=dict)  # process -> CPU ms per ok request (warm sequential)
    overhead_ms: float | None = None

    def summary(self) -> dict[str, Any]:
        ms = [x * 1000 for x in self.latencies]
        return {
            "mode": self.mode,
            "path": self.path,
            "how": self.how,
            "load": self.load,
            "n": len(ms),
            "errors": len(self.errors),
            "p50_ms": percentile(ms, 0.5),
            "p95_ms": percentile(ms, 0.95),
            "max_ms": max(ms) if ms else None,
            "provider_ms": statistics.median(self.provider_s) * 1000 if self.provider_s else None,
            "p95_overhead_ms": self.overhead_ms,
            "cpu_ms_per_request": self.cpu_ms,
        }

    def row(self) -> list[str]:
        ms = [x * 1000 for x in self.latencies]
        p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
        over = "-" if self.overhead_ms is None else f"{self.overhead_ms:.0f}"
        mx = f"{max(ms):.0f}" if ms else "-"
        provider = f"{statistics.median(self.provider_s) * 1000:.0f}" if self.provider_s else "-"
        return [
            self.mode,
            self.path,
            self.how,
            self.load,
            str(len(ms)),
            str(len(self.errors)),
            f"{p50:.0f}",
            f"{p95:.0f}",
            mx,
            provider,
            over,
        ]


async def sequential(make: Callable[[], Request], n: int, cell: Cell) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(n):
            request = make()
            started, wall = time.perf_counter(), time.time()
            try:
                await request(client)
                cell.latencies.append(time.perf_counter() - started)
                cell.windows.append((wall, time.time()))
            except Exception as exc:
                cell.errors.append(str(exc))


async def open_loop(make: Callable[[], Request], rate: float, seconds: float, cell: Cell) -> None:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:
        start = time.perf_counter()

        async def one(i: int) -> None:
            due = start + i / rate
            request = make()
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                await request(client)
                cell.latencies.append(time.perf_counter() - due)
            except Exception as exc:
                cell.errors.append(str(exc))

        await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """user + system CPU seconds of each process so far (Linux /proc; 0 for one that is gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


def settle(api: str, timeout_s: float = 180) -> None:
    """Until no flow run is scheduled, pending or running on the stack (or `timeout_s`)."""
    body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING"]}}}}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{api}/flow_runs/count", json=body, timeout=10).json() == 0:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    print(f"the stack still had runs in flight after {timeout_s:.0f} s", flush=True)


def provider_busy(log: list[Any], windows: list[tuple[float, float]]) -> list[float]:
    """Per request window: seconds during which at least one model request was in flight at the provider
    (the union of the fake provider's logged request intervals inside the window)."""
    intervals = sorted((entry.time - entry.duration_s, entry.time) for entry in log)
    busy = []
    for start, end in windows:
        total, reach = 0.0, start
        for a, b in intervals:
            a, b = max(a, reach), min(b, end)
            if b > a:
                total += b - a
                reach = b
        busy.append(total)
    return busy


def plain_landing(stack: Stack, ids: Ids, site: str, n: int, cell: Cell) -> None:
    """The planner agent called directly, as a plain web handler would (after its own fetch and lookup)."""
    os.environ["AGENTFLOWS_DATABASE_URL"] = stack.db_url
    for key in ("AGENTFLOWS_MODEL", "AGENTFLOWS_OPENAI_API_KEY"):
        if key in stack.env:
            os.environ[key] = stack.env[key]
        else:
            os.environ.pop(key, None)
    from agentflows.settings import get_settings

    get_settings.cache_clear()
    from agents.landing import planner
    from agents.landing.plan import Visitor
    from agents.outreach.brief import WebFindings
    from flows.landing_plan import match_account_sync, write_plan
    from tasks.workspace import active_workspace

    settings = get_settings()
    workspace = active_workspace()

    async def once() -> None:
        visitor = Visitor(
            company="Acme Produce", role="VP Marketing", email=ids.take("emails"), website=site, goals="Grow."
        )
        web = WebFindings(url=site, available=True, text=SITE.decode())
        match = await asyncio.to_thread(match_account_sync, visitor.email)
        data = planner.planner_input(
            visitor,
            web,
            match,
            workspace.knowledge,
            seller_company=settings.seller_company,
            offer=settings.seller_offer,
        )
        await write_plan(data, workspace)

    async def run() -> None:
        for _ in range(n):
            started = time.perf_counter()
            try:
                await once()
                cell.latencies.append(time.perf_counter() - started)
            except Exception as exc:
                cell.errors.append(f"{type(exc).__name__}: {exc}"[:200])

    asyncio.run(run())


# --- the run ---------------------------------------------------------------------------------------------


def measure_floor(stack: Stack, n: int) -> list[Cell]:
    """`benchmarks.latency_floor` in a fresh process with the receiver's Prefect environment (same server)."""
    env = stack.env | {
        "PREFECT_API_URL": stack.api,
        "PREFECT_HOME": str(stack.up.data_dir / "prefect"),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency_floor", "--n", str(n)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        print(f"floor failed: {done.stderr[-2000:]}", flush=True)
        return []
    data = json.loads(done.stdout.strip().splitlines()[-1])
    cells = [
        Cell("offline", "floor: empty flow + 1 task", "warm run_flow", f"sequential x{n}"),
        Cell("offline", "floor: landing's 5 empty tasks", "warm run_flow", f"sequential x{n}"),
    ]
    for cell, key in zip(cells, ("empty_flow", "landing_shape"), strict=True):
        cell.latencies = [ms / 1000 for ms in data[key]]
    for call, values in data["round_trips"].items():
        cell = Cell("offline", f"floor: API {call}", "bare client", f"sequential x{n}")
        cell.latencies = [ms / 1000 for ms in values]
        cells.append(cell)
    for cell in cells:
        print(" | ".join(cell.row()), flush=True)
    return cells


def measure_mode(mode: str, args: argparse.Namespace, work: Path, site: str) -> list[Cell]:
    provider = None
    if mode == "fake":
        from agentflows_fake_provider import FakeProviderProcess, FaultConfig

        provider = FakeProviderProcess(
            FaultConfig(latency_ms=FAKE_LATENCY_MS), responder="tests.providers.responders:offline_responder"
        ).start()
    stack, ids = start_stack(work, mode, provider.openai_base_url if provider else None)
    cells: list[Cell] = []
    try:
        if mode == "offline" and not args.no_floor:
            cells += measure_floor(stack, args.sequential)
        for path in args.paths:

            def maker(base: str, path: str = path) -> Callable[[], Request]:
                return {
                    "landing": lambda: landing_request(base, ids, site),
                    "fraud": lambda: fraud_request(base, ids, stack.api),
                    "outreach": lambda: outreach_request(base, ids, stack.api, stack.db_url),
                }[path]

            for how, base, n in (("warm", stack.warm_url, args.sequential), ("cold", stack.cold_url, args.cold)):
                if n <= 0:
                    continue
                asyncio.run(sequential(maker(base), 2, Cell(mode, path, how, "warm-up")))  # first-run imports
                if provider:
                    provider.reset_stats()
                cell = Cell(mode, path, how, f"sequential x{n}")
                before = cpu_seconds(stack.pids)
                asyncio.run(sequential(maker(base), n, cell))
                if how == "warm" and cell.latencies:
                    after = cpu_seconds(stack.pids)
                    cell.cpu_ms = {k: (after[k] - before[k]) * 1000 / len(cell.latencies) for k in before}
                if provider:
                    cell.provider_s = provider_busy(provider.stats.log, cell.windows)
                cells.append(cell)
                print(" | ".join(cell.row()), cell.cpu_ms or "", flush=True)
            if args.seconds > 0:
                cell = Cell(mode, path, "warm", f"open loop {args.rate:g}/s x {args.seconds:g}s")
                asyncio.run(open_loop(maker(stack.warm_url), args.rate, args.seconds, cell))
                cells.append(cell)
                print(" | ".join(cell.row()), flush=True)
                settle(stack.api)  # a backlog left behind must not slow the next path's figures
            if path == "landing":
                cell = Cell(mode, path, "plain", f"sequential x{args.sequential}")
                plain_landing(stack, ids, site, args.sequential, cell)
                cells.append(cell)
                print(" | ".join(cell.row()), flush=True)
    finally:
        stack.stop()
        if provider:
            provider.stop()
    for cell in cells:
        errors = sorted(set(cell.errors))[:3]
        if errors:
            print(f"errors in {cell.mode}/{cell.path}/{cell.how}/{cell.load}: {errors}", flush=True)
    return cells


def add_overheads(cells: list[Cell]) -> None:
    """p95 minus provider time: 0 offline; with the fake provider, the median time a model request of the
    path was in flight per warm sequential request (the same figure for every load and way of that path)."""
    provider = {
        (c.mode, c.path): statistics.median(c.provider_s)
        for c in cells
        if c.how == "warm" and c.provider_s and c.load.startswith("sequential")
    }
    for c in cells:
        if not c.latencies or c.path.startswith("floor"):
            continue
        provider_s = 0.0 if c.mode == "offline" else provider.get((c.mode, c.path))
        if provider_s is not None:
            c.overhead_ms = (percentile(c.latencies, 0.95) - provider_s) * 1000


def table(cells: list[Cell]) -> str:
    head = ["mode", "path", "how", "load", "n", "errors", "p50 ms", "p95 ms", "max ms", "provider ms"]
    head.append("p95 overhead ms")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.row()) + " |" for c in cells]
    return "\n".join(lines)


def worst_overhead(cells: list[Cell], path: str) -> float:
    values = [c.overhead_ms for c in cells if c.mode == "offline" and c.path == path and c.how == "warm"]
    return max((v for v in values if v is not None), default=float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 sequential, 5/s for 15 s")
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--cold", type=int, default=3, help="sequential requests through today's path")
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--modes", default="offline,fake")
    parser.add_argument("--paths", default="landing,outreach,fraud")
    parser.add_argument("--no-floor", action="store_true", help="skip the empty-flow and round-trip floor")
    parser.add_argument("--json", type=Path, help="also write every cell's figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.sequential, args.seconds = min(args.sequential, 10), min(args.seconds, 15.0)
    args.paths = args.paths.split(",")
    work = Path(tempfile.mkdtemp(prefix="agentflows-bench-latency-"))
    site = serve_site()
    cells: list[Cell] = []
    try:
        for mode in args.modes.split(","):
            cells += measure_mode(mode, args, work, site)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    add_overheads(cells)
    if args.json:
        args.json.write_text(json.dumps([c.summary() for c in cells], indent=1))
    print()
    print(table(cells))
    print(
        f"landing_p95_overhead_ms={worst_overhead(cells, 'landing'):.0f} "
        f"outreach_p95_overhead_ms={worst_overhead(cells, 'outreach'):.0f}"
    )


if __name__ == "__main__":
    main()
