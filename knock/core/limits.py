"""Rate-limit arithmetic: sliding windows, exponential back-off, the join-wave breaker.

Pure: the store passes in what it counted and the time; these functions say what that means.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Rate:
    """At most `count` events per `seconds` (a setting such as `3/1h`)."""

    count: int
    seconds: float


def over_limit(hits_in_window: int, limit: Rate | None) -> bool:
    """Tell whether one more event would exceed the limit (None: no limit)."""
    return limit is not None and hits_in_window >= limit.count


def window_retry_after(oldest_hit: float | None, limit: Rate, now: float) -> float:
    """Return the seconds until the oldest hit leaves the window and a place frees up."""
    if oldest_hit is None:
        return 0.0
    return max(0.0, oldest_hit + limit.seconds - now)


@dataclass(frozen=True)
class Strikes:
    """A subject's back-off record: how many strikes, the last one, and the lock-out's end."""

    count: int
    last_at: float
    locked_until: float


def lockout(count: int, base: float, cap: float) -> float:
    """Return the lock-out after strike number `count` (1-based): base x 2^(count-1), capped."""
    if count <= 0:
        return 0.0
    # Cap the exponent first: 2**count overflows a float long before anyone tries that often.
    return min(cap, base * 2.0 ** min(count - 1, 64))


def strike(
    previous: Strikes | None, now: float, base: float, cap: float, reset: float, free: int = 0
) -> Strikes:
    """Record one more strike; strikes are forgotten after `reset` seconds of quiet.

    The first `free` strikes lock nothing out; the next one locks out for `base`, doubling.
    """
    count = 1 if previous is None or now - previous.last_at >= reset else previous.count + 1
    return Strikes(count, now, now + lockout(count - free, base, cap))


def locked_for(strikes: Strikes | None, now: float) -> float:
    """Return how many seconds a subject is still locked out (0 when free)."""
    return 0.0 if strikes is None else max(0.0, strikes.locked_until - now)


def wave_tripped(
    tripped_at: float | None, knocks_in_window: int, threshold: int, cooldown: float, now: float
) -> float | None:
    """Return when the join-wave breaker tripped if it is tripped now, else None.

    It trips when more than `threshold` knocks arrived within the window, and stays tripped
    until `cooldown` has passed since it tripped (or a moderator resets it).
    """
    if tripped_at is not None and now - tripped_at < cooldown:
        return tripped_at
    if knocks_in_window > threshold:
        return now
    return None


def server_allowed(server: str, allow: Iterable[str], deny: Iterable[str], reject_ip: bool) -> bool:
    """Tell whether a requester's homeserver may knock at all."""
    host = _host(server)
    if reject_ip and _is_ip(host):
        return False
    if _matches_any(server, tuple(deny)):
        return False
    allowed = tuple(allow)
    return not allowed or _matches_any(server, allowed)


def honeypot_filled(fields: Mapping[str, str], names: Iterable[str]) -> str | None:
    """Return the name of a honeypot field that holds something, if any."""
    wanted = {name.strip().lower() for name in names if name.strip()}
    for name, value in fields.items():
        if name.strip().lower() in wanted and value.strip():
            return name
    return None


def _host(server: str) -> str:
    if server.startswith("["):
        return server[1 : server.find("]")] if "]" in server else server
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


@lru_cache(maxsize=4096)  # knocks come from a few homeservers, mostly the same ones
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _matches_any(server: str, globs: tuple[str, ...]) -> bool:
    return bool(globs) and _compiled(globs).fullmatch(server.lower()) is not None


@lru_cache(maxsize=32)
def _compiled(globs: tuple[str, ...]) -> re.Pattern[str]:
    # One regex for the whole list, compiled once per setting.
    return re.compile("|".join(f"(?:{fnmatch.translate(g.strip().lower())})" for g in globs))
