"""The one way this project fetches a page from the internet: guarded against server-side request forgery,
bounded in time and size, and never fatal.

Every outbound page request (outreach research, the landing planner, any later web research) goes through
`guarded_get`, because the URL and everything it redirects to is chosen by whoever controls the website:

- **http(s) only**, at the start and at every redirect;
- **redirects followed here, hop by hop** (httpx `follow_redirects=False`), each hop checked like the first;
- **resolved once, connected to what was checked**: the host name is resolved by `resolve`, every address is
  checked, and the connection goes to those addresses (a pinned httpcore network backend), never to a second
  DNS answer, so a name that answers public first and private later (DNS rebinding) cannot reach the network
  inside. TLS still verifies the certificate for the host *name* and sends it as SNI: httpcore takes both
  from the URL, only the TCP connect is pinned;
- **loopback, private, link-local, multicast, reserved, unspecified and shared addresses refused** (IPv4 and
  IPv6, including IPv4 addresses embedded in IPv6: mapped, 6to4, Teredo, NAT64), unless the host's name is in
  `fetch_allow_hosts` (`AGENTFLOWS_FETCH_ALLOW_HOSTS`; tests and a local demo use it) or the caller says any
  host may be private (the landing flow's `landing_allow_private_websites`, for tests only);
- **one total deadline** (`web_deadline_s`) for the whole fetch, resolution and redirects included, on top of
  the per-operation timeout (`web_timeout_s`) and the byte cap (`web_max_bytes`): a page that trickles one
  byte a second ends at the deadline, well before the calling task's own timeout;
- **never raises** for anything the site does: a refused or failed fetch is a `Fetched` with `error` set
  (shown in briefs as "unavailable: <error>"); `Fetched.url` is the final URL, the one the text came from.

`web_hosts` (`AGENTFLOWS_WEB_HOSTS`, the demo's local sites) sends listed domains to another address over
plain HTTP with their own `Host` header; the mapped address itself is refused under any other name.

Not supported: HTTP proxies (`trust_env=False`: a proxy would make the connection, and the address check
would be its business). Seams for tests: `resolve` (DNS) and `base_backend` (TCP connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import httpcore
import httpx

from agentflows.settings import get_settings

REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "agentflows-research/0.1 (+prospect research; respects robots by fetching one page)"
CONNECT_ERROR = "ConnectError: could not connect to the site"  # the OS's wording varies; keep cache keys stable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Fetched:
    """What one guarded fetch got: the body of the final URL, or why there is none (`error`)."""

    url: str
    body: bytes = b""
    encoding: str = "utf-8"
    content_type: str = ""
    error: str | None = None
    hops: tuple[str, ...] = field(default_factory=tuple)
    """Every URL requested, in order (the first is the one asked for, the last the final URL)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class _Refused(Exception):
    """A hop that must not be requested; the message says why (it ends up in the brief)."""


def non_public_kind(address: IPAddress) -> str | None:
    """Why an address is inside somebody's network (`"loopback"`, `"private"`, ...), or None when public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            kind = non_public_kind(embedded)
            return f"{kind} (IPv4 inside IPv6)" if kind else None
    for kind, hit in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("shared (carrier-grade NAT)", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("non-global", not address.is_global),
    ):
        if hit:
            return kind
    return None


def host_matches(host: str, patterns: Iterable[str]) -> str | None:
    """The pattern `host` matches: an exact name, or `*.suffix` for any subdomain of `suffix` (not itself)."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        p = pattern.lower().rstrip(".")
        if host == p or (p.startswith("*.") and host.endswith(p[1:]) and host != p[2:]):
            return pattern
    return None


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, once (the seam tests replace to play a DNS server that changes its answer)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def base_backend() -> httpcore.AsyncNetworkBackend:
    """The network backend that makes the TCP connection (the seam tests replace to see where it goes)."""
    return httpcore.AnyIOBackend()


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses, whatever host name httpcore asks for (TLS still uses the name)."""

    def __init__(self, addresses: Sequence[str], port: int) -> None:
        self._addresses, self._port, self._inner = list(addresses), port, base_backend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception = httpcore.ConnectError("no address")
        for address in self._addresses:  # in resolver order; the next one only when a connect fails
            try:
                return await self._inner.connect_tcp(address, self._port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                error = exc
        raise error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class _PinnedTransport(httpx.AsyncBaseTransport):
    """One hop's transport: httpcore's public pool on the pinned backend (`plain`: a `web_hosts` name, sent
    as plain HTTP to its mapped port). Only public httpcore/httpx APIs: no library internals."""

    def __init__(self, addresses: Sequence[str], port: int, tls: ssl.SSLContext, plain: bool) -> None:
        self._plain, self._port = plain, port
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls, network_backend=_PinnedBackend(addresses, port), max_connections=1
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=b"http" if self._plain else url.raw_scheme,
                host=url.raw_host,
                port=self._port if self._plain else url.port,
                target=url.raw_path,
            ),
            headers=request.headers.raw,  # the Host header is the original name's, mapped or not
            content=typing.cast(typing.AsyncIterable[bytes], request.stream),
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(typing.cast(typing.AsyncIterable[bytes], response.stream)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass(frozen=True)
class _Hop:
    addresses: list[str]
    port: int
    plain: bool  # a `web_hosts` name: plain HTTP to its mapped address


def _mapped_addresses(hosts: Mapping[str, str]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for address in hosts.values():
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        names = {host, "127.0.0.1", "::1"} if host in {"127.0.0.1", "localhost"} else {host}
        out |= {(n, int(port)) for n in names}
    return out


async def _plan_hop(url: httpx.URL, allow_private: bool) -> _Hop:
    """Where one request may connect, or `_Refused` with the reason."""
    settings = get_settings()
    if url.scheme not in ("http", "https"):
        raise _Refused(f"{url.scheme}: is not http(s)")
    host = url.host
    if not host:
        raise _Refused("no host in the URL")
    mapped = host_matches(host, settings.web_hosts)
    if mapped is not None:  # the operator's mapping: trusted, plain HTTP to its address (resolved once too)
        target, _, port = settings.web_hosts[mapped].rpartition(":")
        try:
            addresses = await resolve(target.strip("[]"), int(port))
        except (OSError, UnicodeError):  # no such name, or one the resolver cannot even encode
            addresses = []
        return _Hop(addresses, int(port), plain=True)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError):  # no such name, or one the resolver cannot even encode
            addresses = []  # reported as a connect failure, as before (stable wording)
    allowed = allow_private or host_matches(host, settings.fetch_allow_hosts) is not None
    reserved = _mapped_addresses(settings.web_hosts)
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if (str(ip), port) in reserved:
            raise _Refused(f"{address}:{port} is reachable only through a mapped domain")
        kind = None if allowed else non_public_kind(ip)
        if kind:
            raise _Refused(
                f"{host} is a non-public address ({kind})"
                if literal
                else f"{host} resolves to {address}, a non-public address ({kind})"
            )
    return _Hop(addresses, port, plain=False)


async def _fetch(
    url: str, tls: ssl.SSLContext, accept: Sequence[str], label: str, allow_private: bool, hops: list[str]
) -> Fetched:
    settings = get_settings()
    current = httpx.URL(url)
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(accept), "Accept-Encoding": "identity"}
    for hop in range(settings.web_max_redirects + 1):
        hops.append(str(current))
        try:
            plan = await _plan_hop(current, allow_private)
        except _Refused as exc:
            where = f"redirect to {current}: " if hop else ""
            return Fetched(url=url, error=f"refused: {where}{exc}", hops=tuple(hops))
        if not plan.addresses:
            return Fetched(url=url, error=CONNECT_ERROR, hops=tuple(hops))
        transport = _PinnedTransport(plan.addresses, plan.port, tls, plan.plain)
        async with (
            httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(settings.web_timeout_s),
                follow_redirects=False,
                trust_env=False,
                headers=headers,
            ) as client,
            client.stream("GET", current) as response,
        ):
            if response.status_code in REDIRECTS and "location" in response.headers:
                try:
                    current = current.join(response.headers["location"])
                except httpx.InvalidURL:
                    return Fetched(url=url, error="refused: an invalid redirect URL", hops=tuple(hops))
                continue
            if response.status_code >= 300:
                return Fetched(url=url, error=f"HTTP {response.status_code}", hops=tuple(hops))
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in accept:
                return Fetched(url=url, error=f"not {label} ({content_type or 'no type'})", hops=tuple(hops))
            too_big = f"page larger than {settings.web_max_bytes} bytes"
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.web_max_bytes:
                return Fetched(url=url, error=too_big, hops=tuple(hops))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > settings.web_max_bytes:
                    return Fetched(url=url, error=too_big, hops=tuple(hops))
                chunks.append(chunk)
            return Fetched(
                url=str(current),
                body=b"".join(chunks),
                encoding=response.encoding or "utf-8",
                content_type=content_type,
                hops=tuple(hops),
            )
    return Fetched(url=url, error=f"more than {settings.web_max_redirects} redirects", hops=tuple(hops))


async def guarded_get(
    url: str,
    *,
    tls: ssl.SSLContext,
    accept: Sequence[str] = ("text/html", "application/xhtml+xml"),
    label: str = "HTML",
    allow_private: bool = False,
) -> Fetched:
    """GET `url` under the guards in the module docstring. Never raises for what the site or network does.

    `tls` is the verified context to use (the caller's: tests add their local CA to it). `allow_private`
    lets every host be private (the landing flow's test-only switch); names in `fetch_allow_hosts` always may.
    """
    settings = get_settings()
    if not url.startswith(("http://", "https://")):
        return Fetched(url=url, error="not an http(s) URL")
    hops: list[str] = []
    deadline = asyncio.timeout(settings.web_deadline_s)
    try:
        async with deadline:
            return await _fetch(url, tls, accept, label, allow_private, hops)
    except TimeoutError:  # also an OSError: the deadline's own, or a socket's
        error = f"deadline: no complete page within {settings.web_deadline_s:g}s" if deadline.expired() else None
        return Fetched(url=url, error=error or CONNECT_ERROR, hops=tuple(hops))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError, ValueError) as exc:
        return Fetched(url=url, error=f"refused: invalid URL ({exc})"[:200], hops=tuple(hops))
    except httpcore.TimeoutException:
        return Fetched(url=url, error=f"timed out after {settings.web_timeout_s:g}s", hops=tuple(hops))
    except (httpcore.ConnectError, OSError):
        return Fetched(url=url, error=CONNECT_ERROR, hops=tuple(hops))
    except (httpcore.ProtocolError, httpcore.NetworkError, httpx.HTTPError) as exc:
        return Fetched(url=url, error=f"{type(exc).__name__}: {exc}"[:200], hops=tuple(hops))
