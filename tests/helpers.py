"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class BackgroundFlow:
    """A flow run started in its own thread and event loop, as `agentflows run` would run it."""

    thread: threading.Thread
    result: list[Any] = field(default_factory=list)
    error: list[BaseException] = field(default_factory=list)

    def check(self) -> None:
        """Raise the flow's error right away if it already failed (instead of waiting for a timeout)."""
        if self.error:
            raise self.error[0]

    def join(self, timeout: float = 120) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"flow still running after {timeout}s"
        if self.error:
            raise self.error[0]
        return self.result[0]


def run_in_background(make: Callable[[], Coroutine[Any, Any, Any]]) -> BackgroundFlow:
    bg = BackgroundFlow(thread=threading.Thread(daemon=True, target=lambda: None))

    def target() -> None:
        try:
            bg.result.append(asyncio.run(make()))
        except BaseException as exc:  # handed to the test through join()
            bg.error.append(exc)

    bg.thread = threading.Thread(target=target, daemon=True)
    bg.thread.start()
    return bg


def wait_for(predicate: Callable[[], Any], timeout: float = 90, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pending_by_contact(contact_ids: list[int]) -> dict[int, Any]:
    """Paused outreach runs for these contacts, keyed by contact id."""
    from agentflows.approvals import pending_approvals

    return {p.contact_id: p for p in asyncio.run(pending_approvals()) if p.contact_id in contact_ids}


def flow_run_state(flow_run_id: str) -> str:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    async def read() -> str:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(flow_run_id))
            return run.state.type.value if run.state else "NONE"

    return asyncio.run(read())


def reject_all_when_paused(contact_ids: list[int], bg: BackgroundFlow, timeout: float = 180) -> None:
    """Wait until every contact's approval run is paused, then reject each through Prefect's API."""
    from agentflows.approvals import approval_input, submit

    pending = wait_for(
        lambda: bg.check() or ((p := pending_by_contact(contact_ids)) and len(p) == len(contact_ids) and p),
        timeout=timeout,
        what=f"{len(contact_ids)} paused approval runs",
    )
    for p in pending.values():
        run_input = approval_input(p.flow_run_id, variant=None, reviewer="test", note="not now", reject=True)
        asyncio.run(submit(p.flow_run_id, run_input))


def processes_running(flow_run_id: str) -> list[int]:
    """Pids of processes executing this flow run (Prefect's runner starts each with PREFECT__FLOW_RUN_ID)."""
    from pathlib import Path

    needle = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextmanager
def using_database(url: str) -> Iterator[str]:
    """The project database is `url` inside the block (settings re-read on the way in and out)."""
    from agentflows.settings import get_settings

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AGENTFLOWS_DATABASE_URL", url)
            get_settings.cache_clear()
            yield url
    finally:
        get_settings.cache_clear()


def seed_database(url: str, *seeders: Callable[[], object]) -> str:
    """Migrate `url` and run the seeders against it, e.g. for a stack the test starts; returns `url`."""
    from agentflows.db.migrate import upgrade

    with using_database(url):
        upgrade(url)
        for seed in seeders:
            seed()
    return url


def artifacts_markdown(flow_run_id: str) -> str:
    """Every artifact of a flow run, as text (what the run's Artifacts tab shows)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> str:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]))
            )
        return "\n".join(str(a.data) for a in found)

    return asyncio.run(read())


def self_signed_cert(
    folder: Path, dns_names: tuple[str, ...] = (), ips: tuple[str, ...] = ("127.0.0.1",)
) -> tuple[Path, Path]:
    """A certificate that is its own CA, for `dns_names` and `ips`, so a local HTTPS site can be fetched with
    verification on; writes `site.pem` and `site.key` into `folder` and returns their paths."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names or ips)[0])])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "site.pem", folder / "site.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
