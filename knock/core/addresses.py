"""Callers' addresses: which one to believe, and what one address is for the per-address limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

# An IPv6 caller usually holds a whole /64 (one customer's network): limits count that.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class ClientAddress:
    """The caller's address, and whether an X-Forwarded-For header had to be ignored."""

    address: str | None
    forwarded_ignored: bool = False  # it came from a peer not in TRUSTED_PROXIES


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: list[str]
) -> ClientAddress:
    """Return the caller's address, believing X-Forwarded-For only from TRUSTED_PROXIES."""
    if peer is None:
        return ClientAddress(None)
    if not is_trusted(peer, trusted):
        return ClientAddress(peer, forwarded_ignored=bool((forwarded_for or "").strip()))
    hops = [hop.strip() for hop in (forwarded_for or "").split(",")]
    # The rightmost address a trusted proxy did not add is the caller's.
    for hop in reversed([h for h in hops if h]):
        if not is_trusted(hop, trusted):
            return ClientAddress(hop)
    return ClientAddress(peer)


@lru_cache(maxsize=4096)  # a form platform posts from a handful of addresses
def limited_as(address: str) -> str:
    """Return what one caller's address counts as: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address  # not an address (a test client's name): counted as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def is_trusted(address: str, trusted: list[str]) -> bool:
    """Tell whether an address is in one of the trusted networks (TRUSTED_PROXIES)."""
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)
