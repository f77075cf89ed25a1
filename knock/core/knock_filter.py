"""What the console's list of knocks is narrowed by, and where a page of it starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from knock.core.lifecycle import State

MAX_TEXT = 200  # longer search text is refused: nobody types a Matrix ID or an answer that long


@dataclass(frozen=True)
class KnockFilter:
    """Which knocks to list; every field left None lets every knock through."""

    state: State | None = None
    reason: str | None = None
    source: str | None = None  # the platform the knock came from ("tally", "native", ...)
    since: float | None = None  # received at or after (epoch seconds)
    until: float | None = None  # received before (epoch seconds)
    text: str | None = None  # in the Matrix ID, the id as typed, or the answers (any case)
    door: str | None = None  # the way in the knock came through


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the list, newest first: a knock's time of arrival, then its id for ties.

    Written into page links as `<received_at>_<knock_id>`: a float's repr reads back exactly,
    and never holds an underscore.
    """

    received_at: float
    knock_id: str

    def __str__(self) -> str:
        return f"{self.received_at!r}_{self.knock_id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """Read a cursor back from a link; None for anything else."""
        if not text or len(text) > 120:
            return None
        at, separator, knock_id = text.partition("_")
        if not separator or not knock_id:
            return None
        try:
            received_at = float(at)
        except ValueError:
            return None
        return cls(received_at, knock_id) if math.isfinite(received_at) else None
