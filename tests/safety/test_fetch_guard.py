"""The guarded website fetch against the attacks an attack run carried out (issue 15, points 1 and 2).

A local HTTPS site plays the prospect's (or visitor's) public website. Its name resolves through a fake
DNS (the `resolve` seam of `agentflows.guarded_fetch`) to 127.0.0.1, and `AGENTFLOWS_FETCH_ALLOW_HOSTS`
names it, so the fetch may connect to it; everything it redirects to is checked like any other host.
Each attack first shows it is real (the internal page answers when asked directly, the site does serve
the redirect), then that the fetch refuses it at the hop, and the flows go on with "unavailable: <why>".
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpcore
import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select, update
from werkzeug import Request, Response

import agentflows.guarded_fetch as guarded_fetch
import tasks.web
from agentflows.db import session_scope
from agentflows.db.crm import Account, Contact, OutreachDraft
from agentflows.guarded_fetch import CONNECT_ERROR, non_public_kind
from agentflows.settings import get_settings
from tasks.web import fetch_page_text
from tests.helpers import self_signed_cert

SITE = "shop.test"  # the "public" site; the fake DNS sends it to the local server
OTHER = "shop-two.test"  # a second allowed name on the same server
NOT_IN_CERT = "wrong-name.test"  # allowed and resolved to the server, but not a name on its certificate
INTERNAL = (
    "<html><body><article><p>Internal admin console: payroll export, API keys, every customer's invoices.</p>"
    "<p>Staff only. This page is reachable from inside the network and must never reach a prompt.</p></article>"
    "</body></html>"
)
PAGE = (
    "<html><body><article><h1>Shop Test Ltd</h1><p>Shop Test sells hand-made garden furniture across Norway and "
    "ships every order within two working days from its own workshop.</p></article></body></html>"
)


class FakeDns:
    """The `resolve` seam: fixed answers per name, or a list of answers given one after the other."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def set(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in {"127.0.0.1", "::1"}:
            return [host]
        queue = self.answers.get(host)
        if not queue:
            raise OSError(f"{host}: name not known")
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    for name in (SITE, OTHER, NOT_IN_CERT):
        fake.set(name, ["127.0.0.1"])
    fake.set("intranet.corp.test", ["10.1.2.3"])
    monkeypatch.setattr(guarded_fetch, "resolve", fake)
    return fake


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dns: FakeDns) -> Iterator[HTTPServer]:
    """The local HTTPS site, trusted by the fetch (its CA added to the usual ones: verification stays on)."""
    pem, _ = self_signed_cert(tmp_path, dns_names=(SITE, OTHER))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pem, tmp_path / "site.key")
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context, threaded=True)
    server.start()
    client_context = ssl.create_default_context(cafile=certifi.where())
    client_context.load_verify_locations(cafile=pem)
    monkeypatch.setattr(tasks.web, "tls_context", lambda: client_context)
    monkeypatch.setenv("AGENTFLOWS_FETCH_ALLOW_HOSTS", f"{SITE},{OTHER},{NOT_IN_CERT}")
    monkeypatch.setenv("AGENTFLOWS_LANDING_ALLOW_PRIVATE_WEBSITES", "false")
    get_settings.cache_clear()
    server.client_context = client_context  # type: ignore[attr-defined]
    yield server
    server.clear()
    server.stop()
    get_settings.cache_clear()


def fetch(url: str) -> Any:
    return asyncio.run(fetch_page_text(url))


def redirect(site: HTTPServer, path: str, location: str) -> None:
    site.expect_request(path).respond_with_response(Response(status=302, headers={"Location": location}))


def served(site: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in site.log if request.path == path)


# --- the address rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.4.4", "private"),
        ("192.168.1.10", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback (IPv4 inside IPv6)"),
        ("::ffff:10.0.0.1", "private (IPv4 inside IPv6)"),
        ("2002:7f00:1::", "loopback (IPv4 inside IPv6)"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private (IPv4 inside IPv6)"),  # NAT64 of 10.0.0.1
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_non_public_ranges(address: str, kind: str | None) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


# --- redirects into the network, hop by hop -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://127.0.0.1:{port}/internal", "127.0.0.1 is a non-public address (loopback)"),
        ("https://[::1]:{port}/internal", "::1 is a non-public address (loopback)"),
        ("https://[::ffff:127.0.0.1]:{port}/internal", "is a non-public address (loopback (IPv4 inside IPv6))"),
        ("http://192.168.1.10/admin", "192.168.1.10 is a non-public address (private)"),
        ("http://10.0.0.5:4200/api/health", "10.0.0.5 is a non-public address (private)"),
        ("http://intranet.corp.test/", "intranet.corp.test resolves to 10.1.2.3, a non-public address (private)"),
        ("http://169.254.169.254/latest/meta-data/", "a non-public address (link-local)"),
        ("file:///etc/passwd", "file: is not http(s)"),
    ],
)
def test_a_redirect_into_the_network_is_refused_at_the_hop(site: HTTPServer, target: str, reason: str) -> None:
    site.expect_request("/internal").respond_with_data(INTERNAL, content_type="text/html")
    direct = httpx.get(f"https://127.0.0.1:{site.port}/internal", verify=site.client_context)  # type: ignore[attr-defined]
    assert "payroll export" in direct.text, "the internal page is really there"
    target = target.format(port=site.port)
    redirect(site, "/go", target)
    start = f"https://{SITE}:{site.port}/go"

    page = fetch(start)
    assert served(site, "/go") == 1, "the site served the redirect"
    assert not page.available and page.error.startswith("refused: redirect to ") and reason in page.error, page
    assert served(site, "/internal") == 1, "only the direct check above reached the internal page"
    assert "payroll" not in page.text


def test_redirects_are_followed_hop_by_hop_and_the_final_url_is_the_source(site: HTTPServer) -> None:
    redirect(site, "/old", f"https://{OTHER}:{site.port}/moved")
    redirect(site, "/moved", "/home")  # relative, on the second host
    site.expect_request("/home").respond_with_data(PAGE, content_type="text/html")
    page = fetch(f"https://{SITE}:{site.port}/old")
    assert page.available, page.error
    assert page.url == f"https://{OTHER}:{site.port}/home", "the brief cites where the text came from"
    assert [r.headers["Host"] for r, _ in site.log] == [f"{SITE}:{site.port}", *[f"{OTHER}:{site.port}"] * 2]


def test_a_site_not_named_in_the_allow_list_is_refused_on_loopback(site: HTTPServer, dns: FakeDns) -> None:
    dns.set("unlisted.test", ["127.0.0.1"])
    site.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    page = fetch(f"https://unlisted.test:{site.port}/")
    assert page.error == "refused: unlisted.test resolves to 127.0.0.1, a non-public address (loopback)"
    assert not site.log


# --- DNS rebinding: resolved once, connected to what was checked ----------------------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The `base_backend` seam: records every TCP connect; "the internet" (public addresses) is unreachable here."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if non_public_kind(ipaddress.ip_address(host)) is None:
            raise httpcore.ConnectError("no internet in the test")
        return await self._inner.connect_tcp(host, port, *args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> RecordingBackend:
    backend = RecordingBackend()
    monkeypatch.setattr(guarded_fetch, "base_backend", lambda: backend)
    return backend


def test_a_dns_answer_that_changes_after_the_check_cannot_reach_a_private_address(
    site: HTTPServer, dns: FakeDns, network: RecordingBackend
) -> None:
    site.expect_request("/").respond_with_data(INTERNAL, content_type="text/html")
    dns.set("rebind.test", ["93.184.215.14"], ["127.0.0.1"])  # public for the check, loopback for a second lookup
    assert asyncio.run(guarded_fetch.resolve("rebind.test", 443)) == ["93.184.215.14"]
    assert asyncio.run(guarded_fetch.resolve("rebind.test", 443)) == ["127.0.0.1"], "the rebinding DNS is real"
    dns.set("rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    dns.asked.clear()

    page = fetch(f"https://rebind.test:{site.port}/")
    assert dns.asked == ["rebind.test"], "resolved once"
    assert network.connects == [("93.184.215.14", site.port)], "the connection went to the checked address"
    assert not site.log, "nothing reached the loopback server"
    assert not page.available and page.error == CONNECT_ERROR


def test_the_pinned_connection_still_verifies_the_certificate_for_the_name(
    site: HTTPServer, network: RecordingBackend
) -> None:
    site.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    page = fetch(f"https://{SITE}:{site.port}/")
    assert page.available, page.error
    assert network.connects == [("127.0.0.1", site.port)], "connected to the resolved address ..."
    assert site.log[0][0].headers["Host"] == f"{SITE}:{site.port}", "... with the name in Host and SNI"
    # the same server and address under a name its certificate does not carry: TLS verification refuses it
    page = fetch(f"https://{NOT_IN_CERT}:{site.port}/")
    assert not page.available and page.error == CONNECT_ERROR
    assert len(site.log) == 1 and network.connects[-1] == ("127.0.0.1", site.port)


# --- a page that trickles bytes ------------------------------------------------------------------------------


def trickle(_request: Request) -> Response:
    """Headers at once, then one byte a second for a minute: no single read ever times out."""

    def body() -> Iterator[bytes]:
        yield b"<html><body><article><p>"
        for _ in range(60):
            time.sleep(1)
            yield b"x"

    return Response(body(), content_type="text/html")


def test_a_trickling_page_ends_at_the_deadline(site: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTFLOWS_WEB_DEADLINE_S", "2")
    get_settings.cache_clear()
    site.expect_request("/slow").respond_with_handler(trickle)
    url = f"https://127.0.0.1:{site.port}/slow"
    with httpx.stream("GET", url, verify=site.client_context, timeout=3) as direct:  # type: ignore[attr-defined]
        chunks = direct.iter_raw()
        got = [next(chunks) for _ in range(3)]  # the attack is real: bytes keep coming, each read within 3 s
        assert b"".join(got).startswith(b"<html>") and len(got) == 3
    started = time.monotonic()
    page = fetch(f"https://{SITE}:{site.port}/slow")
    elapsed = time.monotonic() - started
    assert page.error == "deadline: no complete page within 2s"
    # The page would trickle for 60 s, each byte within the read timeout: only a deadline on the whole fetch ends it
    # this early (the bound is loose on purpose: a loaded machine must not fail the test, a missing deadline must).
    assert elapsed < 20, elapsed


# --- through the real flows ----------------------------------------------------------------------------------


def two_prospects() -> tuple[int, int]:
    """Two contacts at two different accounts of the seeded CRM."""
    with session_scope() as session:
        contacts = list(session.scalars(select(Contact).order_by(Contact.id).limit(40)))
    first = contacts[0]
    second = next(c for c in contacts if c.account_id != first.account_id)
    return first.id, second.id


def set_domain(contact_id: int, domain: str) -> None:
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        session.execute(update(Account).where(Account.id == contact.account_id).values(domain=domain))


@pytest.mark.e2e
def test_outreach_drafts_past_a_refused_redirect_and_a_trickling_site(
    prefect_server: str, seeded_db: str, site: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch, two prospects: one site redirects to the Prefect API on loopback, one trickles. Both are
    drafted from the CRM alone, the brief says why the web was unavailable, nothing internal is in it."""
    from flows.prospect_outreach import prospect_outreach

    monkeypatch.setenv("AGENTFLOWS_WEB_DEADLINE_S", "2")
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_TIMEOUT_S", "2")  # nobody answers: each ends timed out, nothing sent
    get_settings.cache_clear()
    site.expect_request("/internal").respond_with_data(INTERNAL, content_type="text/html")
    site.expect_request("/", headers={"Host": f"{OTHER}:{site.port}"}).respond_with_handler(trickle)
    site.expect_request("/", headers={"Host": f"{SITE}:{site.port}"}).respond_with_response(
        Response(status=302, headers={"Location": f"https://127.0.0.1:{site.port}/internal"})
    )
    redirecting, trickling = two_prospects()
    set_domain(redirecting, f"{SITE}:{site.port}")
    set_domain(trickling, f"{OTHER}:{site.port}")
    # the attack is real: the internal page answers, the public page sends the fetcher there
    assert "payroll" in httpx.get(f"https://127.0.0.1:{site.port}/internal", verify=site.client_context).text  # type: ignore[attr-defined]
    site.clear_log()

    started = time.monotonic()
    result = asyncio.run(prospect_outreach([redirecting, trickling]))
    assert [o.outcome for o in result.outcomes] == ["timed_out", "timed_out"], result
    with session_scope() as session:
        briefs = {d.contact_id: d.brief for d in session.scalars(select(OutreachDraft))}
    assert set(briefs) == {redirecting, trickling}, "both prospects were drafted"
    assert briefs[redirecting]["web_source"] == (
        f"unavailable: refused: redirect to https://127.0.0.1:{site.port}/internal: "
        "127.0.0.1 is a non-public address (loopback)"
    )
    assert briefs[trickling]["web_source"] == "unavailable: deadline: no complete page within 2s"
    assert "payroll" not in str(briefs) and served(site, "/internal") == 0
    assert not any(f["source"].startswith("web:") for b in briefs.values() for f in b["facts"])
    assert time.monotonic() - started < 45


@pytest.mark.e2e
def test_landing_plan_refuses_a_redirect_to_an_internal_host(
    prefect_server: str, seeded_db: str, site: HTTPServer
) -> None:
    from agents.landing.plan import Visitor
    from flows.landing_plan import landing_plan

    redirect(site, "/", "http://intranet.corp.test/wiki")
    visitor = Visitor(
        company="Shop Test Ltd",
        role="Founder",
        email="founder@shop.test",
        website=f"https://{SITE}:{site.port}/",
        goals="More repeat orders from garden centres",
    )
    plan = asyncio.run(landing_plan(visitor))
    assert served(site, "/") == 1, "the visitor's site was asked and redirected"
    assert "Website not used: refused" in plan.caveats
    shown = plan.model_dump_json()
    assert "intranet.corp.test" not in shown and "10.1.2.3" not in shown, "the visitor learns nothing of the network"
    assert not any(f.source.startswith("web:") for f in plan.facts)


@pytest.mark.parametrize("url", ["http://xn--a.example/", "http://[::1/", "http://exa mple.com/", "http://%zz/"])
def test_malformed_urls_are_unavailable_never_raised(url: str) -> None:
    page = fetch(url)
    assert not page.available and page.error, page


def test_the_deadline_stays_below_the_fetch_tasks_own_timeouts() -> None:
    from pydantic import ValidationError

    from agentflows.settings import Settings
    from flows.landing_plan import fetch_visitor_website
    from tasks.web import fetch_website

    assert Settings(web_deadline_s=25).web_deadline_s == 25
    with pytest.raises(ValidationError, match="web_deadline_s"):
        Settings(web_deadline_s=26)
    assert min(fetch_visitor_website.timeout_seconds or 0, fetch_website.timeout_seconds or 0) >= 25 + 5
