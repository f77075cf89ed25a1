"""Back-off arithmetic: how long Knock waits before trying the homeserver again."""

from __future__ import annotations

import random

import pytest

from knock.core.retry import backoff_delay, retry_after_seconds

BASE = 1.0
CAP = 60.0


def ceiling(attempt: int) -> float:
    return float(min(CAP, BASE * 2.0 ** (attempt - 1)))


@pytest.mark.parametrize("seed", range(20))
def test_every_delay_is_between_half_and_all_of_its_ceiling(seed: int) -> None:
    rng = random.Random(seed)
    for attempt in range(1, 15):
        delay = backoff_delay(attempt, BASE, CAP, rng)
        assert ceiling(attempt) / 2 <= delay <= ceiling(attempt), (attempt, delay)


@pytest.mark.parametrize("seed", range(20))
def test_delays_grow_until_the_cap_and_then_stay_under_it(seed: int) -> None:
    rng = random.Random(seed)
    delays = [backoff_delay(attempt, BASE, CAP, rng) for attempt in range(1, 13)]

    growing, capped = delays[:7], delays[6:]  # ceilings 1, 2, 4, ..., 32, then 60 from try 7
    assert growing == sorted(growing)
    assert growing[-1] > 4 * growing[0]
    assert all(CAP / 2 <= delay <= CAP for delay in capped)


def test_retries_that_start_together_spread_out() -> None:
    rng = random.Random(7)
    delays = {backoff_delay(5, BASE, CAP, rng) for _ in range(50)}
    assert len(delays) > 40
    assert max(delays) - min(delays) > 2.0


def test_attempt_zero_waits_like_the_first_retry() -> None:
    assert 0.5 <= backoff_delay(0, BASE, CAP, random.Random(1)) <= 1.0


@pytest.mark.parametrize(
    ("header", "body", "seconds"),
    [
        ("3", {}, 3.0),
        (" 2.5 ", {}, 2.5),
        ("3", {"retry_after_ms": 2400}, 2.4),  # the body is more precise than whole seconds
        (None, {"retry_after_ms": 1500}, 1.5),
        ("", {"retry_after_ms": 250}, 0.25),
        ("Wed, 21 Oct 2015 07:28:00 GMT", {"retry_after_ms": 1500}, 1.5),
        ("-4", {}, 0.0),
        (None, {"retry_after_ms": -100}, 0.0),
    ],
)
def test_retry_after_reads_the_body_then_the_header(
    header: str | None, body: dict[str, object], seconds: float
) -> None:
    assert retry_after_seconds(header, body) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, {}),
        ("soon", {}),
        ("soon", {"retry_after_ms": "1500"}),
        (None, {"retry_after_ms": True}),
        (None, {"retry_after_ms": None}),
        (None, {"retry_after_ms": [1500]}),
    ],
)
def test_retry_after_ignores_garbage(header: str | None, body: dict[str, object]) -> None:
    assert retry_after_seconds(header, body) is None
