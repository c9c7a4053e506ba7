"""Keeps webhooks from reaching our own network (SSRF).

A URL must be http(s) and every address its host resolves to must be public, both when it
is registered and right before each send; the send then connects to the address that was
checked, so DNS cannot change between the check and the connection.
`WEBHOOKS_ALLOW_PRIVATE_URLS` lifts the address rule for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(Exception):
    """The URL may not receive webhooks; the message says why, for the trader."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str  # as written, for the Host header and TLS
    address: str  # the checked IP to connect to


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 one are judged by it.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise UnsafeURL("This is not a valid URL.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL needs a host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Leave the user name and password out of the URL; check our signature instead.")
    return parts


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"The host “{host}” could not be found.") from exc
    # Scope ids ("fe80::1%eth0") are dropped: the address alone decides.
    found = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    if not found:
        raise UnsafeURL(f"The host “{host}” could not be found.")
    return sorted(found, key=lambda address: (address.version, int(address)))


def check_url(url: str) -> Target:
    """The address to send to, or UnsafeURL. Resolves the host: call it outside transactions."""
    parts = _split(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        # Every address, not just the first: a host may answer with a public and a private one.
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise UnsafeURL(
                f"“{host}” points to a private or reserved address ({refused[0]}); "
                "webhooks can only go to public addresses."
            )
    return Target(url=url.strip(), host=host, address=str(addresses[0]))
