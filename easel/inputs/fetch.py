"""Fetching http(s) inputs without becoming an SSRF proxy.

Every hop (the first URL and each redirect) is resolved once, every address it resolves to is
checked, and the connection goes to the checked address itself (Host header and TLS SNI keep the
name), so a DNS answer that changes between check and connect cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from easel.errors import InvalidParameter, InvalidURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_s: float
    allowlist: tuple[str, ...] = ()


def fetch_url(url: str, policy: FetchPolicy) -> bytes:
    """The body of an http(s) URL, following redirects; InvalidURL / InvalidParameter on any refusal."""
    deadline = time.monotonic() + policy.timeout_s
    with httpx.Client(
        follow_redirects=False, timeout=httpx.Timeout(policy.timeout_s, connect=min(5.0, policy.timeout_s))
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            response_url, location, body = _fetch_hop(client, url, policy, deadline)
            if location is None:
                return body
            url = urljoin(response_url, location)
    raise InvalidURL(f"Too many redirects (more than {MAX_REDIRECTS}) while fetching the image URL.")


def _fetch_hop(
    client: httpx.Client, url: str, policy: FetchPolicy, deadline: float
) -> tuple[str, str | None, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidURL(f"Only http and https URLs can be fetched, not {_short(url)}.")
    host = parts.hostname
    address = _checked_address(host, parts.port or (443 if parts.scheme == "https" else 80), policy)
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "easel-fetch/1", "Accept": "image/*,*/*"}
    try:
        with client.stream("GET", pinned, headers=headers, extensions={"sni_hostname": host}) as response:
            if response.is_redirect:
                return url, response.headers.get("location", ""), b""
            if response.status_code != 200:
                raise InvalidURL(
                    f"The image URL answered HTTP {response.status_code}; make sure it is correct and public."
                )
            return url, None, _read_limited(response, policy.max_bytes, deadline)
    except httpx.TimeoutException as exc:
        raise InvalidURL(f"Timed out fetching the image URL ({policy.timeout_s:.0f} s limit).") from exc
    except httpx.HTTPError as exc:
        raise InvalidURL(f"Could not fetch the image URL: {exc.__class__.__name__}: {exc}.") from exc


def _read_limited(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InvalidParameter(_too_large(max_bytes))
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


def _checked_address(host: str, port: int, policy: FetchPolicy) -> IPAddress:
    addresses = _resolve(host, port)
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
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidURL(f"The image URL's host {host!r} cannot be resolved.") from exc
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


def _address_allowed(address: IPAddress, allowlist: Iterable[str]) -> bool:
    # An IPv4 address wrapped in IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for entry in allowlist:
        if _is_network(entry) and address in ipaddress.ip_network(entry, strict=False):
            return True
    return address.is_global and not address.is_multicast


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[:limit] + "..."
