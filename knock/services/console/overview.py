"""The console's overview: what a moderator checks first, read from the database and the link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from knock.clock import Clock
from knock.core.admission_batch import ReadWave, ResetWave
from knock.core.history import Actor
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
            join_wave=await self.join_wave(door),
            readiness=await self.health.readiness(),
            errors=await self.store.console.recent_errors(door=door),
        )

    async def join_wave(self, door: str) -> dict[str, Any]:
        """Describe a door's join-wave breaker (each door has its own, by its own settings)."""
        rules = self.intake.rules_by_door.get(door, self.intake.rules)
        report = await self.store.admit(ReadWave(rules), self.clock.now())
        return {
            "tripped": report.tripped,
            "tripped_at": report.tripped_at,
            "knocks_in_window": report.knocks_in_window,
            "threshold": rules.join_wave_threshold,
            "window_seconds": rules.join_wave_window,
            "cooldown_seconds": rules.join_wave_cooldown,
        }

    async def reset_join_wave(self, door: str, actor: Actor) -> None:
        """Close a door's breaker; its knocks before now no longer count toward a wave.

        The reset is logged with `actor` and the door, for the console's audit.
        """
        await self.store.admit(ResetWave(actor, door), self.clock.now())

    async def review_count(self, door: str) -> int:
        """How many of a door's knocks wait for a moderator."""
        return await self.store.console.count_in(State.REVIEW.value, door)
