"""A nudge from whoever adds a job to the worker that carries it out."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Tell the worker that a job was just committed, so it looks now instead of on its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def job_added(self) -> None:
        """Say that a job is waiting."""
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Wait until a job is added or `timeout` seconds pass."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()

    def clear(self) -> None:
        """Forget earlier nudges (the worker is about to look at the queue)."""
        self._event.clear()
