"""`REQUEST_DELAY` for the bot account as a whole: every process reserves its calls in the store."""

from __future__ import annotations

import logging

from knock.clock import Clock
from knock.matrix.client import LocalPacer
from knock.store import UNAVAILABLE, Store

log = logging.getLogger(__name__)

ACCOUNT = "bot"


class AccountPacer:
    """Space the account's calls `delay` apart across processes, and share rate limits.

    With no delay, calls are not reserved (that would be a write per call for nothing) and a
    rate limit holds back this process's calls at once and the others' from their next call.
    When the database cannot be reached, the process paces itself alone rather than stop.
    """

    def __init__(self, store: Store, clock: Clock, delay: float) -> None:
        self._store = store
        self._clock = clock
        self._delay = delay
        self._local = LocalPacer(clock, delay)

    async def wait(self) -> None:
        if self._delay <= 0:
            await self._local.wait()
            return
        try:
            start = await self._store.reserve_call(ACCOUNT, self._clock.now(), self._delay)
        except UNAVAILABLE as exc:
            log.warning("Pacing this process alone: the database is unavailable (%s)", exc)
            await self._local.wait()
            return
        await self._clock.sleep(start - self._clock.now())

    async def hold(self, seconds: float) -> None:
        await self._local.hold(seconds)
        try:
            await self._store.hold_calls(ACCOUNT, self._clock.now() + seconds)
        except UNAVAILABLE as exc:
            log.warning("Could not share a rate limit with other processes (%s)", exc)
