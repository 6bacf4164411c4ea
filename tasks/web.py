"""Fetching a company's website: bounded in time, size and redirects, and never fatal.

Website text is untrusted: it goes to the researcher only as data, and a page that fails, is slow,
is too large or is not HTML yields `available=False` with the reason instead of failing the run.
"""

from __future__ import annotations

import functools
import ssl

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
