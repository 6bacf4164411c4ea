"""The demo's local websites: generated from the CRM, reached only through `web_hosts`, and read into
briefs as `web:` facts by the same fetch and researcher the flows use (offline model).

The mapping's guards: only mapped names reach the mapped address (not its IP, not `localhost`, not a
redirect to either), names outside the mapping are untouched, and the fetch's size and redirect
limits hold for mapped sites as for any other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest
from werkzeug import Response

from agentflows.demo_sites import DemoSiteServer, build_sites
from agentflows.settings import get_settings
from agents.outreach.brief import ResearchInput, WebFindings
from tasks.crm import load_prospects_sync, pick_demo_prospects
from tasks.generation import research
from tasks.web import fetch_page_text
from tests.agents.outreach_data import shipped_workspace


def fetch(url: str) -> WebFindings:
    return asyncio.run(fetch_page_text(url))


@pytest.fixture
def web_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], None]]:
    """Set `AGENTFLOWS_WEB_HOSTS` for one test, as `agentflows demo` does for its stack."""

    def use(mapping: dict[str, str]) -> None:
        monkeypatch.setenv("AGENTFLOWS_WEB_HOSTS", json.dumps(mapping))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.fixture
def demo_sites(seeded_db: str, web_hosts: Callable[[dict[str, str]], None]) -> Iterator[DemoSiteServer]:
    with DemoSiteServer(build_sites("Northwind Analytics")) as server:
        web_hosts(server.hosts_mapping())
        yield server


def test_demo_briefs_carry_website_facts_from_the_local_sites(demo_sites: DemoSiteServer):
    ids = pick_demo_prospects()
    records = load_prospects_sync(ids)
    assert len(records) == 3
    for record in records.values():
        profile = record.profile
        assert profile.domain.endswith(".example")
        web = fetch(f"https://{profile.domain}/")  # what draft_for fetches
        assert web.available, web.error
        assert web.url == f"https://{profile.domain}/"
        brief = asyncio.run(
            research(
                ResearchInput(prospect=profile, history=record.history, web=web, prior_outreach=record.prior_outreach),
                shipped_workspace(),
            )
        )
        assert brief.web_source == f"used: https://{profile.domain}/"
        web_facts = [f for f in brief.facts if f.source == f"web:https://{profile.domain}/"]
        assert len(web_facts) == 2
        # the site says what the CRM row says: company, industry, region and size
        assert profile.company in web_facts[0].text
        assert profile.industry.lower() in web_facts[0].text and profile.region in web_facts[0].text
        assert f"{profile.employees:,} employees" in web_facts[0].text


def test_each_account_has_about_products_and_news_pages(demo_sites: DemoSiteServer):
    domain, site = next(iter(demo_sites.sites.items()))
    for path, expected in (("/about", "Founded in"), ("/products", "our "), ("/news", "2026:")):
        page = fetch(f"https://{domain}{path}")
        assert page.available and expected in page.text, (path, page)
    assert site.company in fetch(f"https://{domain}/about").text
    assert fetch(f"https://{domain}/nowhere").error == "HTTP 404"
    assert fetch("https://not-an-account.example/").error == "HTTP 404"


def test_the_mapped_address_is_reachable_only_through_mapped_names(
    demo_sites: DemoSiteServer, httpserver, monkeypatch: pytest.MonkeyPatch
):
    port = demo_sites.address.rsplit(":", 1)[1]
    for url in (f"http://{demo_sites.address}/", f"http://localhost:{port}/", f"https://127.0.0.1:{port}/"):
        page = fetch(url)
        assert not page.available and page.error.startswith("refused: "), (url, page)
    # a site outside the mapping (allowed on loopback by name) cannot redirect into it by address ...
    web_hosts_env = get_settings().web_hosts
    monkeypatch.setenv("AGENTFLOWS_FETCH_ALLOW_HOSTS", "localhost")
    get_settings.cache_clear()
    assert get_settings().web_hosts == web_hosts_env
    httpserver.expect_request("/to-ip").respond_with_response(
        Response(status=302, headers={"Location": f"http://127.0.0.1:{port}/"})
    )
    page = fetch(httpserver.url_for("/to-ip"))
    assert not page.available and page.error.startswith("refused: ")
    # ... while a name in the mapping is what it is for, wherever the link comes from
    domain = next(iter(demo_sites.sites))
    httpserver.expect_request("/to-name").respond_with_response(
        Response(status=302, headers={"Location": f"https://{domain}/about"})
    )
    assert fetch(httpserver.url_for("/to-name")).available
    # names that only look like demo domains are not mapped: they go to DNS and fail as before
    page = fetch(f"https://{domain}.com/")
    assert not page.available and not page.error.startswith("refused")


def test_mapped_sites_keep_the_size_and_redirect_limits(httpserver, web_hosts):
    web_hosts({"big.example": f"127.0.0.1:{httpserver.port}", "*.loop.example": f"127.0.0.1:{httpserver.port}"})
    big = "<html><body><p>" + "x" * (get_settings().web_max_bytes + 10) + "</p></body></html>"
    httpserver.expect_request("/", headers={"Host": "big.example"}).respond_with_data(big, content_type="text/html")
    page = fetch("https://big.example/")
    assert not page.available and page.error == f"page larger than {get_settings().web_max_bytes} bytes"

    httpserver.expect_request("/loop").respond_with_response(
        Response(status=302, headers={"Location": "https://a.loop.example/loop"})
    )
    page = fetch("https://a.loop.example/loop")
    assert not page.available and page.error == f"more than {get_settings().web_max_redirects} redirects"
    assert fetch("https://loop.example/loop").error == "ConnectError: could not connect to the site", (
        "*.loop.example maps subdomains only"
    )


def test_web_hosts_must_map_names_to_host_and_port(monkeypatch: pytest.MonkeyPatch):
    from pydantic import ValidationError

    from agentflows.settings import Settings

    assert Settings(web_hosts={"*.Example": "127.0.0.1:8080"}).web_hosts == {"*.example": "127.0.0.1:8080"}
    for bad in ({"*.example": "127.0.0.1"}, {"*.example": "http://127.0.0.1:80/"}, {"*.": "127.0.0.1:80"}):
        with pytest.raises(ValidationError, match="web_hosts"):
            Settings(web_hosts=bad)
