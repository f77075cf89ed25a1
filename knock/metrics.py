"""Knock's Prometheus metrics for events: the counters and histograms, and what counts them.

Events (a delivery answered, a knock entering a state, a homeserver call) are counted where they
happen, in the process where they happen. With several processes on one host (`knock serve
--workers N`), every process writes its counts to the directory named by
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode), so that whichever process
answers `GET /metrics` reports the sum; the variable must be set before this module is imported,
which `knock serve` does for its workers. The state (jobs waiting, the lease, the join wave) is
not counted here: `knock.services.scrape` reads it from the database at each scrape.

Every name starts with `knock_`; the README lists them ("Metrics and alerts").
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from functools import cache

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

log = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# No `_created` series beside each counter: they double the output and say nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]
if os.environ.get(MULTIPROCESS_DIR):
    os.makedirs(os.environ[MULTIPROCESS_DIR], exist_ok=True)

# This process's own counts (read directly when it is the only process).
EVENTS = CollectorRegistry()

DELIVERIES = Counter(
    "knock_deliveries",
    "Form deliveries received, by door, platform (unknown when unreadable) and HTTP status "
    "answered",
    ["door", "platform", "answer"],
    registry=EVENTS,
)
KNOCKS = Counter(
    "knock_knocks",
    "Knocks that entered a state, by door, state and reason (empty when none)",
    ["door", "state", "reason"],
    registry=EVENTS,
)
KNOCK_TO_INVITE = Histogram(
    "knock_knock_to_invite_seconds",
    "Seconds from a knock's arrival to its invite, by door",
    ["door"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, float("inf")),
    registry=EVENTS,
)
JOIN_TO_WELCOME = Histogram(
    "knock_join_to_welcome_seconds",
    "Seconds from a person's join to their welcome message, by door",
    ["door"],
    buckets=(0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf")),
    registry=EVENTS,
)
HOMESERVER_CALLS = Counter(
    "knock_homeserver_calls",
    "Calls to the homeserver (each attempt), by endpoint and outcome: ok, error (another "
    "4xx or 5xx), rate_limited (429), unavailable (502, 503, 504), unreachable",
    ["endpoint", "outcome"],
    registry=EVENTS,
)
RATE_LIMITED = Counter(
    "knock_homeserver_rate_limited",
    "Answers 429 M_LIMIT_EXCEEDED from the homeserver",
    registry=EVENTS,
)
RATE_LIMIT_WAITED = Counter(
    "knock_homeserver_rate_limit_wait_seconds",
    "Seconds the bot account waited because the homeserver asked it to (429)",
    registry=EVENTS,
)
BLOCKLIST_LOADED = Gauge(
    "knock_blocklist_loaded_timestamp_seconds",
    "When a Knock process last loaded the whole block-list from the database (Unix time)",
    registry=EVENTS,
    multiprocess_mode="max",
)

# The Matrix API's words kept in an endpoint's name; ids, event types and transaction ids are
# left out, so that the endpoint label takes a few dozen values at most.
_ENDPOINT_WORDS = frozenset(
    {
        "account",
        "account_data",
        "ban",
        "createRoom",
        "download",
        "invite",
        "join",
        "joined_members",
        "kick",
        "leave",
        "login",
        "media",
        "members",
        "profile",
        "redact",
        "rooms",
        "send",
        "state",
        "sync",
        "unban",
        "user",
        "whoami",
    }
)
_API_PREFIXES = ("/_matrix/client/v3/", "/_matrix/client/v1/", "/_matrix/media/v3/")


def endpoint(path: str) -> str:
    """Name a homeserver path without its ids: `/_matrix/client/v3/rooms/%21r/invite` ->
    `rooms/invite`."""
    path = path.split("?")[0]
    for prefix in _API_PREFIXES:
        if path.startswith(prefix):
            path = path.removeprefix(prefix)
            break
    words = [part for part in path.split("/") if part in _ENDPOINT_WORDS]
    return "/".join(words) or "other"


# What the rest of Knock calls: one line where the event happens.


def delivery_answered(door: str, platform: str, status: int) -> None:
    """A form delivery was answered with `status`."""
    _delivery_counter(door, platform, status).inc()


def knock_entered(door: str, state: str, reason: str | None) -> None:
    """A knock entered `state` (committed)."""
    _knock_counter(door, state, reason).inc()


# Each knock and delivery counts once: the counters of a label set are looked up once (a few
# dozen sets at most: doors, platforms, answers, states and reasons are all finite).
@cache
def _delivery_counter(door: str, platform: str, status: int) -> Counter:
    return DELIVERIES.labels(door, platform, str(status))


@cache
def _knock_counter(door: str, state: str, reason: str | None) -> Counter:
    return KNOCKS.labels(door, state, reason or "")


def knock_invited(door: str, seconds: float) -> None:
    """A knock was invited `seconds` after it arrived."""
    KNOCK_TO_INVITE.labels(door).observe(max(0.0, seconds))


def person_welcomed(door: str, seconds: float) -> None:
    """A welcome went out `seconds` after the person joined."""
    JOIN_TO_WELCOME.labels(door).observe(max(0.0, seconds))


def homeserver_called(path: str, outcome: str) -> None:
    """One attempt at a homeserver call ended with `outcome`."""
    HOMESERVER_CALLS.labels(endpoint(path), outcome).inc()


def rate_limited(waited: float) -> None:
    """The homeserver answered 429; the bot account waited `waited` seconds (0: it did not)."""
    RATE_LIMITED.inc()
    if waited > 0:
        RATE_LIMIT_WAITED.inc(waited)


def blocklist_loaded(at: float) -> None:
    """This process loaded the whole block-list at `at` (Unix time)."""
    BLOCKLIST_LOADED.set(at)


# Reading them back.


def shared_across_processes() -> bool:
    """Tell whether the counts are the sum of every process's (multiprocess mode)."""
    return bool(os.environ.get(MULTIPROCESS_DIR))


def one_of_several_alone() -> bool:
    """Tell whether this process is one of a server's several workers that cannot see each
    other's counts (a worker of `uvicorn --workers N` without PROMETHEUS_MULTIPROC_DIR)."""
    return multiprocessing.parent_process() is not None and not shared_across_processes()


def events_exposition() -> bytes:
    """The event metrics in the Prometheus text format: every process's sum when shared."""
    if not shared_across_processes():
        return generate_latest(EVENTS)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
