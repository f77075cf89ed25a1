"""A clock tests move by hand, shared by the integration and service tests."""

from __future__ import annotations

import asyncio
import time


class FakeClock:
    """A clock the test moves by hand; `sleep` advances it at once instead of waiting."""

    def __init__(self, start: float | None = None) -> None:
        self.time = time.time() if start is None else start

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.time += seconds
