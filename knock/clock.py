"""Where Knock's services get the time, so that tests can move it instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """The time source every service takes in its constructor."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        await asyncio.sleep(max(0.0, seconds))
