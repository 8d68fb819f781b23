"""Fetching http(s) inputs without becoming an SSRF proxy.

Every hop (the first URL and each redirect) is resolved once, every address it resolves to is
checked, and the connection goes to the checked address itself (Host header and TLS SNI keep the
name), so a DNS answer that changes between check and connect cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import certifi
import httpx

from easel.errors import EaselError, InvalidParameter, InvalidURL
from easel.observability.metrics import INPUT_FETCH_ERRORS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_s: float
    allowlist: tuple[str, ...] = ()


def fetch_url(url: str, policy: FetchPolicy) -> bytes:
    """The body of an http(s) URL, following redirects; InvalidURL / InvalidParameter on any refusal."""
    try:
        return _fetch_sync(url, policy)
    except EaselError as exc:
        INPUT_FETCH_ERRORS.labels(fetch_error_reason(exc)).inc()
        raise


def _fetch_sync(url: str, policy: FetchPolicy) -> bytes:
    deadline = time.monotonic() + policy.timeout_s
    client = _thread_client()
    for _ in range(MAX_REDIRECTS + 1):
        response_url, location, body = _fetch_hop(client, url, policy, deadline)
        if location is None:
            return body
        url = _redirect_target(response_url, location)
    raise _too_many_redirects()


_thread_clients = threading.local()


def _thread_client() -> httpx.Client:
    """One client per worker thread: building one per fetch was a seventh of a fast task's worker CPU.
    No keep-alive: connections are pinned to vetted addresses, and an https connection made for one
    host name must never carry a request for another name that resolves to the same address."""
    client = getattr(_thread_clients, "client", None)
    if client is None:
        client = httpx.Client(follow_redirects=False, verify=_tls_context(),
                              limits=httpx.Limits(max_keepalive_connections=0))
        _thread_clients.client = client
    return client


def _fetch_hop(
    client: httpx.Client, url: str, policy: FetchPolicy, deadline: float
) -> tuple[str, str | None, bytes]:
    parts, port = split_http_url(url)
    host = parts.hostname or ""
    address = _vet(host, _resolve(host, _port(parts, port)), policy)
    pinned, headers = _pinned(parts, address)
    try:
        with client.stream("GET", pinned, headers=headers, extensions={"sni_hostname": host},
                           timeout=_timeout(policy)) as response:
            if response.is_redirect:
                return url, response.headers.get("location", ""), b""
            _check_status(response)
            return url, None, _read_limited(response, policy.max_bytes, deadline)
    except httpx.TimeoutException as exc:
        raise InvalidURL(f"Timed out fetching the image URL ({policy.timeout_s:.0f} s limit).") from exc
    except httpx.HTTPError as exc:
        raise InvalidURL(f"Could not fetch the image URL: {exc.__class__.__name__}: {exc}.") from exc


def _redirect_target(response_url: str, location: str) -> str:
    """The next hop's URL (checked again by the next hop, like the first)."""
    try:
        return urljoin(response_url, location)
    except ValueError:
        raise InvalidURL(f"The image URL redirected to a malformed location {_short(location)!r}.") from None


def _too_many_redirects() -> InvalidURL:
    return InvalidURL(f"Too many redirects (more than {MAX_REDIRECTS}) while fetching the image URL.")


async def fetch_url_async(url: str, policy: FetchPolicy) -> bytes:
    """fetch_url() for the event loop: same checks and pinning, no thread held while a slow host dawdles.
    The whole fetch, redirects included, ends within policy.timeout_s."""
    try:
        return await asyncio.wait_for(_fetch_async(url, policy), policy.timeout_s)
    except TimeoutError:
        INPUT_FETCH_ERRORS.labels("timeout").inc()
        raise InvalidURL(f"Timed out fetching the image URL ({policy.timeout_s:.0f} s limit).") from None
    except EaselError as exc:
        INPUT_FETCH_ERRORS.labels(fetch_error_reason(exc)).inc()
        raise


async def _fetch_async(url: str, policy: FetchPolicy) -> bytes:
    async with httpx.AsyncClient(follow_redirects=False, timeout=_timeout(policy), verify=_tls_context()) as client:
        for _ in range(MAX_REDIRECTS + 1):
            response_url, location, body = await _fetch_hop_async(client, url, policy)
            if location is None:
                return body
            url = _redirect_target(response_url, location)
    raise _too_many_redirects()


async def _fetch_hop_async(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy
) -> tuple[str, str | None, bytes]:
    parts, port = split_http_url(url)
    host = parts.hostname or ""
    address = _vet(host, await _resolve_async(host, _port(parts, port)), policy)
    pinned, headers = _pinned(parts, address)
    try:
        async with client.stream("GET", pinned, headers=headers, extensions={"sni_hostname": host}) as response:
            if response.is_redirect:
                return url, response.headers.get("location", ""), b""
            _check_status(response)
            return url, None, await _read_limited_async(response, policy.max_bytes)
    except httpx.TimeoutException as exc:
        raise InvalidURL(f"Timed out fetching the image URL ({policy.timeout_s:.0f} s limit).") from exc
    except httpx.HTTPError as exc:
        raise InvalidURL(f"Could not fetch the image URL: {exc.__class__.__name__}: {exc}.") from exc


async def _read_limited_async(response: httpx.Response, max_bytes: int) -> bytes:
    _check_declared_size(response, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise InvalidParameter(_too_large(max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _timeout(policy: FetchPolicy) -> httpx.Timeout:
    return httpx.Timeout(policy.timeout_s, connect=min(5.0, policy.timeout_s))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every fetch: building one per client costs ~50 ms of CPU, which on
    the event loop would stall every other request."""
    return ssl.create_default_context(cafile=certifi.where())


def _port(parts: SplitResult, port: int | None) -> int:
    return port or (443 if parts.scheme == "https" else 80)


def _pinned(parts: SplitResult, address: IPAddress) -> tuple[str, dict[str, str]]:
    """The URL aimed at the checked address itself, and headers that keep the original Host."""
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "easel-fetch/1", "Accept": "image/*,*/*"}
    return pinned, headers


def _check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise InvalidURL(f"The image URL answered HTTP {response.status_code}; make sure it is correct and public.")


def _check_declared_size(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InvalidParameter(_too_large(max_bytes))


def split_http_url(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and explicit port; InvalidURL for anything but a well-formed http(s) URL
    (urlsplit raises ValueError on '[::1' or port 99999, which must not surface as a 500)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"The image URL {_short(url)!r} is malformed: {exc}.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidURL(f"Only http and https URLs can be fetched, not {_short(url)}.")
    return parts, port


def _read_limited(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    _check_declared_size(response, max_bytes)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise InvalidParameter(_too_large(max_bytes))
        if time.monotonic() > deadline:
            raise InvalidURL("Timed out fetching the image URL (the transfer was too slow).")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    return f"The image is larger than {max_bytes // (1024 * 1024)} MB; use a smaller file."


def vet_destination(url: str, allowlist: tuple[str, ...]) -> tuple[str, str, str]:
    """The SSRF guard alone, for a caller that sends to a URL rather than fetching it (webhooks):
    (the URL aimed at the checked address, the Host header to send, the TLS server name)."""
    parts, port = split_http_url(url)
    host = parts.hostname or ""
    address = _vet(host, _resolve(host, _port(parts, port)), FetchPolicy(0, 0.0, allowlist))
    pinned, headers = _pinned(parts, address)
    return pinned, headers["Host"], host


async def vet_destination_async(url: str, allowlist: tuple[str, ...]) -> None:
    """vet_destination() for the event loop, when only the verdict matters (a callback URL on a create)."""
    parts, port = split_http_url(url)
    host = parts.hostname or ""
    _vet(host, await _resolve_async(host, _port(parts, port)), FetchPolicy(0, 0.0, allowlist))


def fetch_error_reason(exc: EaselError) -> str:
    """A short label for a fetch refusal (the easel_input_fetch_errors metric), read from the messages above."""
    if isinstance(exc, InvalidParameter):
        return "too_large"
    text = exc.message
    for fragment, reason in (("non-public address", "blocked_address"), ("cannot be resolved", "dns"),
                             ("has no address", "dns"), ("Timed out", "timeout"), ("answered HTTP", "http_status"),
                             ("redirect", "redirect"), ("malformed", "bad_url"), ("Only http", "bad_url"),
                             ("Could not fetch", "connection")):
        if fragment in text:
            return reason
    return "other"


def _vet(host: str, addresses: list[IPAddress], policy: FetchPolicy) -> IPAddress:
    """The address to connect to, if every address the host resolved to may be fetched."""
    if _host_allowed(host, policy.allowlist):
        return addresses[0]
    for address in addresses:
        if not _address_allowed(address, policy.allowlist):
            raise InvalidURL(
                f"The image URL points to a non-public address ({host} -> {address}); Easel refuses "
                "loopback, private, link-local and metadata addresses. An administrator can admit it "
                "with EASEL_URL_ALLOWLIST."
            )
    return addresses[0]


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:  # ValueError: a NUL in the host
        raise InvalidURL(f"The image URL's host {host!r} cannot be resolved.") from exc
    return _addresses(host, infos)


async def _resolve_async(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise InvalidURL(f"The image URL's host {host!r} cannot be resolved.") from exc
    return _addresses(host, infos)


def _addresses(host: str, infos: list[Any]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidURL(f"The image URL's host {host!r} has no address.")
    return addresses


def _host_allowed(host: str, allowlist: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(entry.lower().rstrip(".") == host for entry in allowlist if not _is_network(entry))


# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or tunnel on the path
# may deliver to: NAT64 (well-known and local-use) and the deprecated IPv4-compatible form.
_TAIL_IPV4_NETS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)
# Tunnels whose embedded IPv4 addresses cannot be trusted to name the final host, and the
# deprecated site-local range (treated as private by routers that still honour it).
_REFUSED_IPV6_NETS = (ipaddress.ip_network("2001::/32"), ipaddress.ip_network("fec0::/10"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64, IPv4-compatible)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in net for net in _TAIL_IPV4_NETS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _address_allowed(address: IPAddress, allowlist: Iterable[str]) -> bool:
    """Public unicast only; an IPv6 address carrying IPv4 is judged by every IPv4 address it carries,
    since NAT64 or a 6to4/Teredo relay would deliver the request there."""
    if _in_allowlist(address, allowlist):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner:
            return all(_in_allowlist(v4, allowlist) or _public(v4) for v4 in inner)
        if any(address in net for net in _REFUSED_IPV6_NETS) or address.is_site_local:
            return False
    return _public(address)


def _public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def _in_allowlist(address: IPAddress, allowlist: Iterable[str]) -> bool:
    return any(
        _is_network(entry) and address in ipaddress.ip_network(entry, strict=False) for entry in allowlist
    )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[:limit] + "..."
