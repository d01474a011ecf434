"""The address half of the ingest SSRF policy: which IP literals a fetch may connect to (no I/O)."""

from __future__ import annotations

import pytest

from cms.ingest.addresses import host_key, is_allowed, refusal
from cms.ingest.http import redirect_method

REFUSED = [
    # address, a word the reason must contain
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("224.0.1.1", "multicast"),  # globally scoped multicast is still multicast
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("240.0.0.1", "private or special-purpose"),
    ("255.255.255.255", "private or special-purpose"),
    ("0.1.2.3", "private or special-purpose"),  # "this network"
    ("192.0.2.1", "private or special-purpose"),  # documentation ranges
    ("198.18.0.1", "private or special-purpose"),  # benchmarking
    ("2001:db8::1", "private or special-purpose"),
    ("fec0::1", "site-local"),  # deprecated, yet Python calls it global
    ("::7f00:1", "reserved"),  # IPv4-compatible ::127.0.0.1
    ("::ffff:127.0.0.1", "the IPv4-mapped form of 127.0.0.1 (loopback)"),
    ("::ffff:7f00:1", "IPv4-mapped form of 127.0.0.1"),
    ("::ffff:10.0.0.1", "the IPv4-mapped form of 10.0.0.1 (private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "6to4 form of 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"),
    ("2002:c0a8:101::", "6to4 form of 192.168.1.1"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 form of 10.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private or special-purpose"),  # Teredo: the whole range
    ("2001::1", "private or special-purpose"),
    ("100::1", "private or special-purpose"),  # discard-only
    ("localhost", "not an IP address"),
    ("2130706433", "not an IP address"),  # integer spelling of 127.0.0.1: never judged as an address
    ("0x7f.1", "not an IP address"),
    ("017700000001", "not an IP address"),
    ("", "not an IP address"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",  # just below 172.16/12
    "172.32.0.1",  # just above
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",  # IPv4-mapped public: judged as 8.8.8.8
    "2002:808:808::1",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused(address: str, reason: str) -> None:
    why = refusal(address)
    assert why is not None, address
    assert reason in why


@pytest.mark.parametrize("address", PUBLIC)
def test_public(address: str) -> None:
    assert refusal(address) is None


def test_allow_list_by_host_or_host_and_port() -> None:
    allow = frozenset({"feeds.internal", "media.internal:8080", "127.0.0.1:9000", "[::1]:9000"})
    assert is_allowed("feeds.internal", 80, allow)
    assert is_allowed("FEEDS.internal", 8443, allow)
    assert is_allowed("media.internal", 8080, allow)
    assert not is_allowed("media.internal", 80, allow)
    assert is_allowed("127.0.0.1", 9000, allow)
    assert not is_allowed("127.0.0.1", 9001, allow)
    assert is_allowed("::1", 9000, allow)
    assert not is_allowed("::1", 9001, allow)
    assert not is_allowed("other.internal", 80, allow)
    assert not is_allowed("sub.feeds.internal", 80, allow)  # names, not suffixes
    assert host_key("::1", 80) == "[::1]:80"
    assert host_key("a.example", 443) == "a.example:443"


def test_redirect_method() -> None:
    assert redirect_method(303, "POST") == "GET"
    assert redirect_method(303, "PUT") == "GET"
    assert redirect_method(303, "HEAD") == "HEAD"
    assert redirect_method(301, "POST") == "GET"
    assert redirect_method(302, "POST") == "GET"
    assert redirect_method(301, "GET") == "GET"
    assert redirect_method(302, "PUT") == "PUT"
    assert redirect_method(307, "POST") == "POST"
    assert redirect_method(308, "POST") == "POST"
