"""`agentflows up`: the whole stack on one machine, as one supervised group.

    Prefect server (UI)  -- or the external server PREFECT_API_URL points at
    runner               -- serves every deployment of prefect.yaml (or N process workers: --workers N)
    webhook receiver     -- deployments.webhooks on 127.0.0.1:8000; runs the flows people wait for itself
                            (landing plan, fraud check, outreach drafting: `deployments.warm`)
    SMTP sink            -- in this process, when AGENTFLOWS_SMTP_URL is on loopback (the demo's mail)

Children are subprocesses in their own sessions, each logging to `<data_dir>/logs/<name>.log`, and
are stopped by their own process group id, never by name. `<data_dir>/up.lock` (an flock held for
the supervisor's lifetime) makes a second `up` report what runs instead of crashing, from
`<data_dir>/up.json`. Policy when a child exits on its own:

- the runner, a worker or the receiver hold no state of their own (runs and their states are in
  Prefect, queued deliveries in the project database, a warm run a dead receiver left `Running` is
  marked `Crashed` when it starts again), so `up` prints a red line with the exit code and log and
  starts it again, at most `RESTARTS` times within `RESTART_WINDOW_S`, once the stack has come up
  (a child that dies while the stack starts is a configuration error, not a blip);
- the Prefect server, its database, or a child that keeps dying: the red line, then everything
  else is stopped and `up` exits 1, so a broken stack never looks healthy; restart it with
  `agentflows up` once the log says what went wrong.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import httpx
from rich.console import Console
from rich.table import Table

from agentflows import prefect_auth
from agentflows.prefect_server import (
    PrefectServer,
    ServerStartError,
    healthy,
    port_in_use,
    prefect_database_choice,
    start_prefect_server,
)
from agentflows.processes import pid_alive
from agentflows.settings import Settings, get_settings
from agentflows.smtp_sink import SmtpSink
from deployments import webhook_secrets
from deployments.serve import load_specs, run_directory

STOP_TIMEOUT_S = 15
RESTARTS = 3
"""How often a stateless child (runner, worker, receiver) is started again within `RESTART_WINDOW_S`."""
RESTART_WINDOW_S = 300.0
# Prefect's runner polls for scheduled runs every 10 s. The receiver runs what people wait for itself
# (`deployments.warm`); the runner takes the rest (approvals resumed, the warm path's overflow, schedules),
# and a 2 s poll costs one query per poll while cutting the wait for those runs by 8 s.
RUNNER_POLL_S = "2"


class UpError(RuntimeError):
    """The stack cannot start; the message says what to do."""


@dataclass
class Service:
    """One running part of the stack, as recorded in up.json."""

    name: str
    pid: int
    url: str = ""
    log: str = ""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    stopper: Callable[[], None] | None = None  # its own way to stop (the database: a fast shutdown)
    argv: list[str] = field(default_factory=list)  # set for the stateless children `up` may start again
    restarts: list[float] = field(default_factory=list)  # when it was started again (monotonic)
    earlier_groups: list[int] = field(default_factory=list)  # process groups of its earlier lives

    def may_restart(self, now: float) -> bool:
        """Stateless, and started again fewer than RESTARTS times within the window."""
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        return bool(self.argv) and len(self.restarts) < RESTARTS

    def stop(self) -> None:
        """SIGTERM to the child's process group (its flow-run subprocesses too), SIGKILL if it lingers."""
        for group in self.earlier_groups:  # flow-run processes an earlier life of a restarted runner left
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)
        if self.process.poll() is not None:
            return
        if self.stopper is not None:
            self.stopper()
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass


def answers(url: str) -> bool:
    if not url:
        return False
    if url.startswith("smtp://"):
        parsed = urlparse(url)
        return port_in_use(parsed.hostname or "127.0.0.1", parsed.port or 25)
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


class _Stop(Exception):
    """SIGINT or SIGTERM arrived: shut everything down."""


@dataclass
class Stack:
    settings: Settings
    console: Console
    workers: int = 0
    bind_host: str | None = None  # `up --host`: where the Prefect server and the receiver listen
    generate_auth: bool = False  # `up --generate-auth`: create the Prefect auth string if none exists
    children: list[Child] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    sink: SmtpSink | None = None
    auth_note: str = ""
    _lock: IO[str] | None = None

    # --- paths -------------------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.settings.data_dir / "up.lock"

    @property
    def state_path(self) -> Path:
        return self.settings.data_dir / "up.json"

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    @property
    def receiver_url(self) -> str:
        return f"http://{self.settings.webhook_host}:{self.settings.webhook_port}"

    # --- the one-instance rule --------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lock; False (after reporting what runs) when another `up` holds it."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = self.lock_path.open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            self.report_running()
            return False
        self._lock = lock
        leftovers = [s for s in self.recorded() if pid_alive(s.pid) and answers(s.url)]
        if leftovers:  # a previous `up` was killed without cleaning up
            names = ", ".join(f"{s.name} (pid {s.pid})" for s in leftovers)
            raise UpError(f"services of an earlier `up` still run: {names}. Stop them (kill PID) and try again.")
        return True

    def recorded(self) -> list[Service]:
        if not self.state_path.exists():
            return []
        try:
            return [Service(**s) for s in json.loads(self.state_path.read_text())["services"]]
        except (ValueError, KeyError, TypeError):
            return []

    def report_running(self) -> None:
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        self.console.print(
            f"[yellow]agentflows is already up[/] (supervisor pid {state.get('pid', '?')}, data dir "
            f"{self.settings.data_dir}); stop it with Ctrl-C in its terminal or `kill -INT {state.get('pid', 'PID')}`."
        )
        table = Table("service", "pid", "alive", "answers", "url", "log")
        for s in self.recorded():
            alive = pid_alive(s.pid)
            table.add_row(
                s.name, str(s.pid), "yes" if alive else "[red]no[/]", "yes" if answers(s.url) else "-", s.url, s.log
            )
        self.console.print(table)

    def save_state(self) -> None:
        state = {"pid": os.getpid(), "started_at": time.time(), "services": [asdict(s) for s in self.services]}
        partial = self.state_path.with_suffix(".json.partial")  # a reader never sees half a file
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(self.state_path)

    # --- starting ------------------------------------------------------------------------------

    def check_ports(self, start_server: bool) -> None:
        s = self.settings
        wanted = [("webhook receiver", s.webhook_host, s.webhook_port, "AGENTFLOWS_WEBHOOK_PORT")]
        if start_server:
            wanted.append(("Prefect server", s.prefect_host, s.prefect_port, "AGENTFLOWS_PREFECT_PORT"))
        smtp = self._smtp_address()
        if smtp:
            wanted.append(("SMTP sink", smtp[0], smtp[1], "AGENTFLOWS_SMTP_URL"))
        busy = [f"{name} port {host}:{port} (set {var})" for name, host, port, var in wanted if port_in_use(host, port)]
        if busy:
            raise UpError("ports already in use: " + "; ".join(busy) + ". Stop what uses them or pick other ports.")

    def _smtp_address(self) -> tuple[str, int] | None:
        url = urlparse(self.settings.smtp_url)
        if url.scheme == "smtp" and url.hostname in {"127.0.0.1", "localhost", "::1"}:
            return url.hostname, url.port or 25
        return None

    def spawn(self, name: str, argv: list[str], url: str = "") -> Child:
        """Start a stateless child (runner, worker, receiver), logging to `<data_dir>/logs/<name>.log`."""
        log_path = self.log_dir / f"{name}.log"
        child = Child(name=name, process=self._popen(argv, log_path), log_path=log_path, url=url, argv=argv)
        self.children.append(child)
        self.services.append(Service(name=name, pid=child.process.pid, url=url, log=str(log_path)))
        return child

    def _popen(self, argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = os.environ | {"PYTHONUNBUFFERED": "1", "AGENTFLOWS_DATA_DIR": str(self.settings.data_dir)}
        with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(  # cwd: the caller's `.env` and data dir, not the install's directory
                argv, cwd=run_directory(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def restart(self, child: Child, code: int) -> None:
        """Start a stateless child again after it exited on its own; the red line says so."""
        child.restarts.append(time.monotonic())
        old = child.process.pid
        child.earlier_groups.append(old)  # flow-run processes it started go on; `up`'s stop ends them
        child.process = self._popen(child.argv, child.log_path)
        for service in self.services:
            if service.name == child.name:
                service.pid = child.process.pid
        self.save_state()
        self.console.print(
            f"[bold red]{child.name} (pid {old}) exited with code {code}[/]; started it again as pid "
            f"{child.process.pid} ({len(child.restarts)} of {RESTARTS} within {RESTART_WINDOW_S / 60:.0f} min); "
            f"log: {child.log_path}",
            highlight=False,
            soft_wrap=True,
        )

    def setup_auth(self) -> dict[str, str]:
        """Prefect's basic auth (see `agentflows.prefect_auth`): the server's environment, and this process's.

        Beyond loopback without an auth string it refuses (UpError, saying what to set). With one, this
        process and every child (runner, workers, their flow runs, the receiver) send it: it goes into
        `os.environ` here, before anything imports Prefect, and is never printed or logged.
        """
        host = self.bind_host or self.settings.prefect_host
        try:
            value = prefect_auth.for_server(self.settings, host, generate_missing=self.generate_auth)
        except prefect_auth.PrefectAuthError as exc:
            raise UpError(str(exc)) from None
        server_env = {"PREFECT_UI_API_URL": "/api"} if host in {"0.0.0.0", "::"} else {}  # the UI follows the browser
        if value is None:
            return server_env
        prefect_auth.apply_client_env(value)
        if "prefect" in sys.modules:  # Prefect read its settings before the string was set: its clients would get 401
            from prefect.settings import get_current_settings

            sent = get_current_settings().api.auth_string
            if sent is None or sent.get_secret_value() != value:
                raise UpError("Prefect was imported before `up` set its auth string; start `agentflows up` anew")
        stored = prefect_auth.stored(self.settings) == value
        where = prefect_auth.auth_path(self.settings) if stored else "AGENTFLOWS_PREFECT_AUTH_STRING"
        self.auth_note = f"Prefect API and UI: basic auth on; the UI's Login takes the auth string in {where}"
        return server_env | {"PREFECT_SERVER_API_AUTH_STRING": value}

    def start_prefect(self, api_url: str, server_env: dict[str, str] | None = None) -> str:
        """The API URL in use: the external server's, or a local one started (or found) here."""
        s = self.settings
        if api_url != s.prefect_api_url:
            if not healthy(api_url):
                raise UpError(f"PREFECT_API_URL points at {api_url}, which does not answer /health")
            self.console.print(f"[green]Prefect server[/] external at {api_url}")
            return api_url
        choice = prefect_database_choice(s)
        if choice.note:
            self.console.print(f"[yellow]note:[/] {choice.note}")
        embedded = s.prefect_pgdata if choice.kind == "embedded-postgres" else None
        where = {"embedded-postgres": "on the embedded PostgreSQL", "sqlite": "on SQLite"}.get(choice.kind, "")
        self.console.print(f"starting the Prefect server {where} (about 10 s) ...".replace("  ", " "))
        try:
            server = start_prefect_server(
                s.prefect_home,
                self.bind_host or s.prefect_host,
                s.prefect_port,
                database_url=choice.url,
                embedded_pgdata=embedded,
                extra_env=server_env,
            )
        except ServerStartError as exc:
            raise UpError(str(exc)) from None
        self._adopt_server(server)
        return server.api_url

    def _adopt_server(self, server: PrefectServer) -> None:
        if server.database is not None:  # first in, last out: stopped after the server
            database = server.database
            self.children.append(
                Child(name="postgres", process=database.process, log_path=database.log_path, stopper=database.stop)
            )
            self.services.append(
                Service("postgres", database.process.pid, f"socket {database.socket_dir}", str(database.log_path))
            )
        child = Child(
            name="prefect-server", process=server.process, log_path=server.log_path, url=server.api_url + "/health"
        )
        self.children.append(child)
        self.services.append(Service("prefect-server", server.process.pid, server.ui_url, str(server.log_path)))

    def start_runners(self) -> None:
        python = sys.executable
        if self.workers == 0:
            os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", RUNNER_POLL_S)  # a user's own value wins
            self.spawn("runner", [python, "-m", "deployments.serve"])
            return
        from deployments.serve import apply_to_pool

        names = apply_to_pool(self.settings.work_pool, self.settings)
        self.console.print(f"[green]deployed[/] {len(names)} deployments to work pool {self.settings.work_pool!r}")
        prefect = str(Path(python).with_name("prefect"))
        host = socket.gethostname()
        for i in range(1, self.workers + 1):
            argv = [prefect, "worker", "start", "--pool", self.settings.work_pool, "--type", "process"]
            if self.settings.worker_limit:
                argv += ["--limit", str(self.settings.worker_limit)]
            self.spawn(f"worker-{i}", [*argv, "--name", f"agentflows-{host}-{i}"])

    def start_receiver(self) -> None:
        s = self.settings
        receiver = ["--factory", "deployments.webhooks.app:create_app"]
        argv = [sys.executable, "-m", "uvicorn", *receiver, "--host", self.bind_host or s.webhook_host]
        self.spawn(
            "webhooks", [*argv, "--port", str(s.webhook_port), "--log-level", "warning"], self.receiver_url + "/healthz"
        )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the receiver answers and every deployment (and worker) is registered."""
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        names = [spec.full_name for spec in load_specs()]
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while True:
                self.check_children()
                try:
                    for name in names:
                        client.read_deployment_by_name(name)
                    workers = client.read_workers_for_work_pool(self.settings.work_pool) if self.workers else []
                    online = [w for w in workers if w.status and w.status.value == "ONLINE"]
                    if len(online) >= self.workers and answers(self.receiver_url + "/healthz"):
                        return
                except ObjectNotFound:
                    pass
                if time.monotonic() > deadline:
                    raise UpError(f"the stack was not ready within {timeout:.0f}s; see the logs in {self.log_dir}")
                time.sleep(0.5)

    def check_children(self, restart: bool = False) -> None:
        """Raise ChildExited for a child that exited; with `restart`, start a stateless one again first."""
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            if restart and child.may_restart(time.monotonic()):
                self.restart(child, code)
                continue
            raise ChildExited(child, code)

    def start(self, on_ready: Callable[[Stack], None] | None = None) -> None:
        local = os.environ.get("PREFECT_API_URL", self.settings.prefect_api_url) == self.settings.prefect_api_url
        server_env = self.setup_auth() if local else {}  # before Prefect is imported (it reads settings then)

        from prefect.settings import PREFECT_API_URL

        from agentflows.db.migrate import upgrade

        upgrade()
        api_url = PREFECT_API_URL.value()
        self.check_ports(start_server=api_url == self.settings.prefect_api_url)
        api_url = self.start_prefect(api_url, server_env)
        generated = webhook_secrets.ensure_dev_secrets(self.settings)
        address = self._smtp_address()
        if address:
            self.sink = SmtpSink(address[0], address[1], self.settings.mail_dir).start()
            self.services.append(Service("smtp-sink", os.getpid(), self.sink.url, str(self.settings.mail_dir)))
        self.start_runners()
        self.start_receiver()
        self.save_state()
        self.wait_ready()
        self.print_summary(api_url, generated)
        if on_ready:
            on_ready(self)

    # --- supervising and stopping ---------------------------------------------------------------

    def supervise(self, interval: float = 0.5) -> None:
        while True:
            self.check_children(restart=True)
            time.sleep(interval)

    def stop(self) -> None:
        for child in reversed(self.children):  # receiver, runners, then the server
            child.stop()
        if self.sink is not None:
            self.sink.stop()
        if self._lock is not None:
            self.state_path.unlink(missing_ok=True)
            self._lock.close()

    def print_summary(self, api_url: str, generated: dict[str, str]) -> None:
        from agentflows.prefect_env import prefect_ui_url

        table = Table("service", "pid", "where", "log", title="agentflows is up")
        for s in self.services:
            table.add_row(s.name, str(s.pid), s.url, s.log)
        self.console.print(table)
        self.console.print(f"Prefect UI: {prefect_ui_url()}  (Deployments page: {prefect_ui_url()}/deployments)")
        if self.auth_note:
            self.console.print(self.auth_note, highlight=False, soft_wrap=True)
        dev = self._dev_file_secrets()
        if dev:
            fresh = f"generated now for {', '.join(sorted(generated))}; " if generated else ""
            self.console.print(
                f"[yellow]development webhook secrets[/] ({fresh}kept in "
                f"{webhook_secrets.dev_secrets_path(self.settings)}; set AGENTFLOWS_WEBHOOK_SECRET_<SOURCE> "
                "or a Prefect Secret block for real senders):"
            )
            for source, secret in sorted(dev.items()):
                self.console.print(
                    f"  AGENTFLOWS_WEBHOOK_SECRET_{source.upper()}={secret}", highlight=False, soft_wrap=True
                )
        self.console.print(
            f"Webhooks on {self.receiver_url}; try one: agentflows webhook sign --source shop --file payload.json"
        )
        self.console.print("[bold]Ctrl-C[/] stops everything.")

    def _dev_file_secrets(self) -> dict[str, str]:
        """Sources whose secret in use is a development one (from the dev file), for printing."""
        used = webhook_secrets.resolve(self.settings)
        return {
            source: values[0]
            for source, values in used.items()
            if values and values == webhook_secrets.from_dev_file(self.settings, source)
        }


class ChildExited(Exception):
    def __init__(self, child: Child, code: int) -> None:
        self.child, self.code = child, code
        super().__init__(f"{child.name} (pid {child.process.pid}) exited with code {code}; log: {child.log_path}")


def run_up(
    console: Console,
    workers: int | None = None,
    on_ready: Callable[[Stack], None] | None = None,
    host: str | None = None,
    generate_auth: bool = False,
) -> int:
    """Start, supervise until Ctrl-C/SIGTERM or a child's death, stop everything; the exit code."""
    settings = get_settings()
    stack = Stack(
        settings=settings,
        console=console,
        workers=settings.workers if workers is None else workers,
        bind_host=host,
        generate_auth=generate_auth,
    )
    try:
        if not stack.acquire():
            return 0
    except UpError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2

    def on_signal(signum: int, frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal (make and timeout both send one) must
            signal.signal(sig, signal.SIG_IGN)  # not interrupt the "stopping" message or the cleanup
        raise _Stop()

    # SIGINT too: a shell that starts `up` in the background hands it SIGINT ignored, and `kill -INT` must work.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        stack.start(on_ready)
        stack.supervise()
    except (KeyboardInterrupt, _Stop):  # Ctrl-C, kill -INT, kill -TERM
        console.print("\nstopping ...")
    except ChildExited as exc:
        console.print(f"[bold red]{exc}[/]", highlight=False, soft_wrap=True)
        code = 1
    except UpError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        code = 2
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("stopped" if code == 0 else "stopped everything else")
    return code
