"""Which network addresses an ingest fetch may connect to: the address half of the SSRF policy.

A URL an editor (or a feed, or a redirect) hands us must not become a way to reach the CMS's own network: loopback,
private ranges, link-local (where cloud metadata services answer), carrier-grade NAT, multicast and every other
address that is not globally routable are refused, as are IPv6 spellings that carry such an IPv4 address inside
(IPv4-mapped, 6to4, NAT64). Operators allow on-premise sources by name ("host" or "host:port"), never by range.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are an IPv4 address


def refusal(address: str) -> str | None:
    """Why a connection to `address` (an IP literal) is refused, or None when it is a public address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    return _judge(ip)


def _judge(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        # Judge the IPv4 address inside by the IPv4 rules: a gateway or the kernel may deliver to it.
        for kind, inner in (
            ("IPv4-mapped", ip.ipv4_mapped),
            ("6to4", ip.sixtofour),
            ("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None),
        ):
            if inner is not None:
                why = _judge(inner)
                return f"the {kind} form of {inner} ({why})" if why else None
        # Teredo (2001::/32) needs no case of its own: the whole range is not globally routable (refused below).
    if ip.is_unspecified:
        return "unspecified (reaches this machine)"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (where cloud metadata services answer)"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT shared space"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private or special-purpose"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def host_key(host: str, port: int) -> str:
    """The "host:port" spelling used by the allow list (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_allowed(host: str, port: int, allow_hosts: Collection[str]) -> bool:
    """True when the operator allowed this host (any port) or this host and port, whatever it resolves to."""
    host = host.lower()
    return host in allow_hosts or host_key(host, port) in allow_hosts
