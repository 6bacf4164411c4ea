"""Fetching a company's website: through the one guarded fetch, never fatal, only readable text kept.

Website text is untrusted: it goes to the researcher only as data, and a page that is refused (it or a
redirect points inside a network), slow past the deadline, too large or not HTML yields `available=False`
with the reason instead of failing the run. Every guard (http(s) only, each redirect hop checked, DNS
resolved once and connected to the checked address, non-public ranges refused unless
`AGENTFLOWS_FETCH_ALLOW_HOSTS` names the host, a total deadline, the byte cap, `web_hosts`) lives in
`agentflows.guarded_fetch`, shared with the landing flow and any later web research.
"""

from __future__ import annotations

import functools
import ssl

import certifi
import trafilatura
from prefect import task

from agentflows.guarded_fetch import guarded_get
from agentflows.settings import get_settings
from agents.outreach.brief import WebFindings


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context per process: loading the CA bundle costs ~40 ms of CPU per client."""
    return ssl.create_default_context(cafile=certifi.where())


async def fetch_page_text(url: str, *, allow_private: bool = False) -> WebFindings:
    """Download one page and extract its readable text. Never raises for network or content errors.

    `url` in the findings is the final URL after redirects: what the brief cites as the text's source.
    """
    page = await guarded_get(url, tls=tls_context(), allow_private=allow_private)
    if page.error is not None:
        return WebFindings(url=page.url, available=False, error=page.error)
    html = page.body.decode(page.encoding, errors="replace")
    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True) or ""
    text = " ".join(text.split())[: get_settings().web_max_chars]
    if not text:
        return WebFindings(url=page.url, available=False, error="no readable text on the page")
    return WebFindings(url=page.url, available=True, text=text)


@task(name="fetch-website", retries=0, timeout_seconds=60)
async def fetch_website(url: str) -> WebFindings:
    """The Prefect task around `fetch_page_text`; its result is persisted so a retry does not refetch.

    The fetch's own deadline (`web_deadline_s`, at most 25 s) ends it first: this timeout never fires.
    """
    return await fetch_page_text(url)
