"""Back-off arithmetic for retries: data in, delay out."""

from __future__ import annotations

import math
import random

# Longer asks than this are treated as this: a homeserver asking for days is misconfigured.
MAX_RETRY_AFTER = 86400.0


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Return the wait before retry number `attempt` (1-based): capped exponential, full jitter.

    Half the delay is fixed and half is random so that many callers retrying together spread out
    without any of them retrying almost at once.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    jitter: float = (rng or random).random()
    return float(ceiling / 2 + jitter * ceiling / 2)


def retry_after_seconds(header: str | None, body: dict[str, object]) -> float | None:
    """Read how long a homeserver asked us to wait, from `retry_after_ms` or `Retry-After`.

    The body's milliseconds come first: the header is whole seconds, rounded up, and waiting
    up to a second too long on every rate limit adds up over a queue of invites.
    """
    millis = body.get("retry_after_ms")
    if isinstance(millis, int | float) and not isinstance(millis, bool):
        return _bounded(millis / 1000)
    if header:
        try:
            return _bounded(float(header.strip()))
        except ValueError:
            pass  # an HTTP date, which no homeserver sends today
    return None


def _bounded(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))
