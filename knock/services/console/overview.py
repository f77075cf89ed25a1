"""The console's overview: what a moderator checks first, read from the database and the link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from knock.clock import Clock
from knock.core.lifecycle import State
from knock.services.health import Health, Readiness
from knock.services.invites.intake import Intake
from knock.store import Store
from knock.store.console import RecentError

DAY = 86400.0


@dataclass(frozen=True)
class Overview:
    """Counts, the review queue, the join wave, the homeserver and room, the last errors."""

    today: dict[str, int]  # state -> knocks received since midnight (UTC)
    week: dict[str, int]  # state -> knocks received in the last 7 days
    review: int
    join_wave: dict[str, Any]  # the door's own breaker
    readiness: Readiness
    errors: list[RecentError]  # the door's knocks' and jobs', and those about no knock


class Overviews:
    """Gather the overview; no homeserver call beyond the link's cached state."""

    def __init__(self, store: Store, clock: Clock, *, intake: Intake, health: Health) -> None:
        self.store = store
        self.clock = clock
        self.intake = intake
        self.health = health

    async def overview(self, door: str) -> Overview:
        """Read everything a door's overview shows."""
        now = self.clock.now()
        midnight = now - now % DAY
        return Overview(
            today=await self.store.console.counts_by_state(midnight, door),
            week=await self.store.console.counts_by_state(now - 7 * DAY, door),
            review=await self.review_count(door),
            join_wave=await self.intake.join_wave_state(door),
            readiness=await self.health.readiness(),
            errors=await self.store.console.recent_errors(door=door),
        )

    async def review_count(self, door: str) -> int:
        """How many of a door's knocks wait for a moderator."""
        return await self.store.console.count_in(State.REVIEW.value, door)
