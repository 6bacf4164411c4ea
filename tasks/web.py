"""Fetching a company's website: bounded in time, size and redirects, and never fatal.

Website text is untrusted: it goes to the researcher only as data, and a page that fails, is slow,
is too large or is not HTML yields `available=False` with the reason instead of failing the run.

`web_hosts` (`AGENTFLOWS_WEB_HOSTS`, set by `agentflows demo` for its local demo sites) sends the
listed domains to another address: every request whose host matches, redirects included, goes there
over plain HTTP with its own `Host` header, under the same timeout, size and redirect limits. The
mapped address itself is refused under any other name (a page cannot redirect to `127.0.0.1:<port>`
to reach it), so the mapping opens loopback to the mapped domains only.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping

import certifi
import httpx
import trafilatura
from prefect import task

from agentflows.settings import get_settings
from agents.outreach.brief import WebFindings

HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "agentflows-research/0.1 (+prospect research; respects robots by fetching one page)"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context per process: loading the CA bundle costs ~40 ms of CPU per client."""
    return ssl.create_default_context(cafile=certifi.where())


class RefusedAddress(httpx.TransportError):
    """A request for a `web_hosts` address under a name that is not mapped to it."""


class _MappedHost(httpx.AsyncBaseTransport):
    """Sends a mapped domain's requests to its address: plain HTTP, same path and `Host` header."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._host, self._port = host.strip("[]"), int(port)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme="http", host=self._host, port=self._port)
        local = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        return await self._inner.handle_async_request(local)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Refuse(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RefusedAddress(f"{request.url.host}:{request.url.port} is reachable only through a mapped domain")


def host_mounts(hosts: Mapping[str, str]) -> dict[str, httpx.AsyncBaseTransport]:
    """httpx mounts for `web_hosts`: each mapped name to its address, each address (by IP or
    `localhost`) refused. Names as httpx matches them: `*.example` is any subdomain of `example`."""
    mounts: dict[str, httpx.AsyncBaseTransport] = {f"all://{name}": _MappedHost(a) for name, a in hosts.items()}
    for address in set(hosts.values()):
        host, _, port = address.rpartition(":")
        names = {host.strip("[]"), "localhost", "127.0.0.1", "::1"} if host in {"127.0.0.1", "localhost"} else {host}
        for name in names:
            mounts[f"all://{f'[{name}]' if ':' in name else name}:{port}"] = _Refuse()
    return mounts


async def fetch_page_text(url: str) -> WebFindings:
    """Download one page and extract its readable text. Never raises for network or content errors."""
    settings = get_settings()
    if not url.startswith(("http://", "https://")):
        return WebFindings(url=url, available=False, error="not an http(s) URL")
    try:
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(settings.web_timeout_s),
                verify=tls_context(),
                follow_redirects=True,
                max_redirects=settings.web_max_redirects,
                headers={"User-Agent": USER_AGENT, "Accept": "text/html"},
                mounts=host_mounts(settings.web_hosts) or None,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                return WebFindings(url=url, available=False, error=f"HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in HTML_TYPES:
                return WebFindings(url=url, available=False, error=f"not HTML ({content_type or 'no type'})")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > settings.web_max_bytes:
                    return WebFindings(
                        url=url, available=False, error=f"page larger than {settings.web_max_bytes} bytes"
                    )
                chunks.append(chunk)
            encoding = response.encoding or "utf-8"
    except RefusedAddress as exc:
        return WebFindings(url=url, available=False, error=f"refused: {exc}")
    except httpx.TooManyRedirects:
        return WebFindings(url=url, available=False, error=f"more than {settings.web_max_redirects} redirects")
    except httpx.TimeoutException:
        return WebFindings(url=url, available=False, error=f"timed out after {settings.web_timeout_s:g}s")
    except httpx.ConnectError:  # the OS's wording varies run to run; keep the brief (and its cache key) stable
        return WebFindings(url=url, available=False, error="ConnectError: could not connect to the site")
    except httpx.HTTPError as exc:
        return WebFindings(url=url, available=False, error=f"{type(exc).__name__}: {exc}"[:200])
    html = b"".join(chunks).decode(encoding, errors="replace")
    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True) or ""
    text = " ".join(text.split())[: settings.web_max_chars]
    if not text:
        return WebFindings(url=url, available=False, error="no readable text on the page")
    return WebFindings(url=url, available=True, text=text)


@task(name="fetch-website", retries=0, timeout_seconds=60)
async def fetch_website(url: str) -> WebFindings:
    """The Prefect task around `fetch_page_text`; its result is persisted so a retry does not refetch."""
    return await fetch_page_text(url)
