"""Website fetching: bounded, never fatal, and only HTML text reaches the researcher.

The local test server is on loopback, which the guarded fetch refuses unless the host is allowed by name:
these tests allow `localhost` (`AGENTFLOWS_FETCH_ALLOW_HOSTS`) and test the other limits; the address
guards themselves are tested in tests/safety/test_fetch_guard.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from werkzeug import Response

from agentflows.settings import get_settings
from tasks.web import fetch_page_text

PAGE = """<html><head><title>Byrne Freight</title></head><body><nav>Home | About</nav>
<article><h1>Cold-chain logistics for the Baltics</h1>
<p>Byrne Freight moves temperature-controlled cargo between Tallinn, Riga and Vilnius every day.</p>
<p>Our 40 trucks report their temperature every minute so that pharmacies receive intact deliveries.</p>
</article><footer>Copyright 2026</footer></body></html>"""


@pytest.fixture(autouse=True)
def allow_localhost(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AGENTFLOWS_FETCH_ALLOW_HOSTS", "localhost")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def fetch(url: str):
    return asyncio.run(fetch_page_text(url))


def test_extracts_readable_text(httpserver):
    httpserver.expect_request("/").respond_with_data(PAGE, content_type="text/html; charset=utf-8")
    page = fetch(httpserver.url_for("/"))
    assert page.available and page.error is None
    assert "temperature-controlled cargo" in page.text
    assert "Copyright" not in page.text and "<p>" not in page.text


def test_non_html_is_refused(httpserver):
    httpserver.expect_request("/file.pdf").respond_with_data(b"%PDF-1.7", content_type="application/pdf")
    page = fetch(httpserver.url_for("/file.pdf"))
    assert not page.available and page.error == "not HTML (application/pdf)"


def test_http_error_is_recorded(httpserver):
    httpserver.expect_request("/gone").respond_with_data("no", status=404, content_type="text/html")
    page = fetch(httpserver.url_for("/gone"))
    assert not page.available and page.error == "HTTP 404"


def test_oversized_page_is_refused(httpserver, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_WEB_MAX_BYTES", "10000")
    get_settings.cache_clear()
    httpserver.expect_request("/big").respond_with_data("<p>" + "x" * 50_000 + "</p>", content_type="text/html")
    page = fetch(httpserver.url_for("/big"))
    get_settings.cache_clear()
    assert not page.available and page.error == "page larger than 10000 bytes"


def test_redirect_loops_are_cut(httpserver):
    for i in range(6):
        httpserver.expect_request(f"/r{i}").respond_with_response(
            Response(status=302, headers={"Location": httpserver.url_for(f"/r{i + 1}")})
        )
    page = fetch(httpserver.url_for("/r0"))
    assert not page.available and page.error == f"more than {get_settings().web_max_redirects} redirects"


def test_slow_site_times_out_quickly(httpserver, monkeypatch):
    monkeypatch.setenv("AGENTFLOWS_WEB_TIMEOUT_S", "0.5")
    get_settings.cache_clear()

    def slow(_request):
        time.sleep(2)
        return Response(PAGE, content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    page = fetch(httpserver.url_for("/slow"))
    get_settings.cache_clear()
    assert not page.available and page.error == "timed out after 0.5s"
    assert time.monotonic() - started < 1.9


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)"])
def test_only_http_urls_are_fetched(url):
    page = fetch(url)
    assert not page.available and page.error == "not an http(s) URL"


def test_unreachable_host_is_not_fatal():
    from agentflows.prefect_server import free_port

    page = fetch(f"http://localhost:{free_port()}/")
    assert not page.available and page.error and "ConnectError" in page.error
