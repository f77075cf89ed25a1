"""Rate-limit arithmetic: windows, back-off, the join wave, servers and honeypots (fake time)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.limits import (
    Rate,
    Strikes,
    honeypot_filled,
    locked_for,
    lockout,
    over_limit,
    server_allowed,
    strike,
    wave_tripped,
    window_retry_after,
)

MINUTE, DAY, WEEK = 60.0, 86400.0, 7 * 86400.0


def test_a_window_admits_up_to_its_count_and_no_more() -> None:
    limit = Rate(3, 3600)
    assert [over_limit(n, limit) for n in range(5)] == [False, False, False, True, True]
    assert not over_limit(10**6, None)  # `off`


def test_a_full_window_frees_a_place_when_its_oldest_hit_leaves() -> None:
    limit = Rate(3, 3600)
    assert window_retry_after(1000.0, limit, now=1600.0) == 3000.0
    assert window_retry_after(1000.0, limit, now=5000.0) == 0.0
    assert window_retry_after(None, limit, now=5000.0) == 0.0


def test_lockouts_double_from_the_base_and_stop_at_the_cap() -> None:
    assert [lockout(n, MINUTE, DAY) for n in range(1, 6)] == [60, 120, 240, 480, 960]
    assert lockout(0, MINUTE, DAY) == 0
    assert lockout(20, MINUTE, DAY) == DAY
    assert lockout(10**9, MINUTE, DAY) == DAY  # no overflow however often someone tries


def test_strikes_accumulate_and_are_forgotten_after_a_quiet_week() -> None:
    first = strike(None, 0.0, MINUTE, DAY, WEEK)
    second = strike(first, 100.0, MINUTE, DAY, WEEK)
    later = strike(second, 100.0 + WEEK, MINUTE, DAY, WEEK)

    assert (first.count, first.locked_until) == (1, 60.0)
    assert (second.count, second.locked_until) == (2, 220.0)
    assert (later.count, later.locked_until) == (1, 100.0 + WEEK + 60.0)
    assert locked_for(second, now=200.0) == 20.0
    assert locked_for(second, now=300.0) == 0.0
    assert locked_for(None, now=0.0) == 0.0


@given(
    times=st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=30),
    base=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=DAY),
)
def test_a_lockout_never_exceeds_the_cap_and_never_ends_before_the_strike(
    times: list[float], base: float, cap: float
) -> None:
    record: Strikes | None = None
    for now in sorted(times):
        record = strike(record, now, base, cap, WEEK)
        assert now <= record.locked_until <= now + max(cap, 0.0) + 1e-6
        assert record.count >= 1


def test_the_join_wave_trips_past_its_threshold_and_holds_for_the_cooldown() -> None:
    threshold, cooldown = 50, 1800.0
    assert wave_tripped(None, 50, threshold, cooldown, now=0.0) is None
    assert wave_tripped(None, 51, threshold, cooldown, now=10.0) == 10.0
    assert wave_tripped(10.0, 0, threshold, cooldown, now=1000.0) == 10.0  # still cooling down
    assert wave_tripped(10.0, 0, threshold, cooldown, now=1811.0) is None  # calm again
    assert wave_tripped(10.0, 99, threshold, cooldown, now=1811.0) == 1811.0  # trips again


@pytest.mark.parametrize(
    ("server", "allow", "deny", "reject_ip", "allowed"),
    [
        ("example.org", [], [], True, True),
        ("203.0.113.7", [], [], True, False),
        ("203.0.113.7:8448", [], [], True, False),
        ("[2001:db8::1]", [], [], True, False),
        ("203.0.113.7", [], [], False, True),
        ("spam.example", [], ["spam.example"], True, False),
        ("a.spam.example", [], ["*.spam.example"], True, False),
        ("friends.example", ["*.example.org", "friends.example"], [], True, True),
        ("stranger.example", ["*.example.org"], [], True, False),
        ("EXAMPLE.ORG", ["example.org"], [], True, True),
    ],
)
def test_the_requesters_homeserver_is_allowed_or_denied(
    server: str, allow: list[str], deny: list[str], reject_ip: bool, allowed: bool
) -> None:
    assert server_allowed(server, allow, deny, reject_ip) is allowed


def test_a_honeypot_is_caught_only_when_filled() -> None:
    fields = {"Matrix ID": "@a:b", "Website": "http://spam", "honeypot": ""}
    assert honeypot_filled(fields, ["website"]) == "Website"
    assert honeypot_filled(fields, ["honeypot"]) is None
    assert honeypot_filled(fields, []) is None


def test_free_strikes_lock_nothing_out_and_the_next_one_locks_for_the_base() -> None:
    first = strike(None, 0, 60, 86400, 7 * 86400, free=2)
    second = strike(first, 10, 60, 86400, 7 * 86400, free=2)
    third = strike(second, 20, 60, 86400, 7 * 86400, free=2)
    fourth = strike(third, 30, 60, 86400, 7 * 86400, free=2)

    assert [locked_for(s, s.last_at) for s in (first, second, third, fourth)] == [0, 0, 60, 120]
