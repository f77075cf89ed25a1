"""One summary per join wave: how many knocks it holds, a sample, and how to answer them all.

Knocks the join-wave breaker holds get no post each (a flood would spend the bot's budget on
posts); the lease holder posts one summary when a door's breaker trips, in that door's moderation
room (else the main one), and moderators answer with `!approve wave` or `!deny wave`. Each door's
wave is its own: announced once, and announced afresh after a reset of that door's wave.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from knock.clock import Clock
from knock.config import Settings
from knock.core.admission_batch import wave_announced_key, wave_tripped_key
from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import Reason, State
from knock.doors import Door, default_door
from knock.services.invites.intake import Intake
from knock.services.moderation.notices import Notices, sample
from knock.store import Store

ANNOUNCED = wave_announced_key(DEFAULT_DOOR)  # the default door's: the trip time last summarised
SAMPLE_READ = 5


class JoinWaves:
    """Announce each door's join wave once, on the lease holder."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        intake: Intake,
        notices: Notices,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.intake = intake
        self.notices = notices
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}

    async def announce(self) -> None:
        """Post the summary of each door's wave that tripped and was not summarised yet."""
        for door in self.doors.values():
            await self._announce(door)

    async def _announce(self, door: Door) -> None:
        tripped = await self.store.get_value(wave_tripped_key(door.name))
        announced = wave_announced_key(door.name)
        if not tripped or await self.store.get_value(announced) == tripped:
            return
        now = self.clock.now()
        if now - float(tripped) >= door.settings.join_wave_cooldown:
            return  # over before anyone looked: nothing is held by it any more
        txn_id = f"join-wave-{tripped}" if door.is_default else f"join-wave-{door.name}-{tripped}"
        text = await self._summary(door, float(tripped))
        await self.notices.say(text, txn_id=txn_id, door=door)
        await self.store.set_value(announced, tripped, now)

    async def _summary(self, door: Door, tripped: float) -> str:
        settings = door.settings
        wave = await self.intake.join_wave_state(door.name)
        reason = Reason.JOIN_WAVE.value
        held = await self.store.count_knocks(State.REVIEW, reason, door=door.name)
        shown = await self.store.list_knocks(
            state=State.REVIEW, reason=reason, door=door.name, limit=SAMPLE_READ
        )
        ids = [knock.user_id for knock in shown]
        more = held - len(ids)
        names = sample(ids) + (f" and {more} more" if more else "") if ids else "none yet"
        until = datetime.fromtimestamp(tripped + settings.join_wave_cooldown, UTC)
        if settings.moderation_room_id:
            answer = (
                "Send !approve wave to invite every knock the wave holds, or !deny wave to turn "
                "them all down."
            )
        else:
            answer = 'POST /knocks/deny {"reason": "join_wave"} turns them all down.'
        several = len(self.doors) > 1
        at = f" at door {door.name}" if several else ""
        reset = f"/join_wave/reset?door={door.name}" if several else "/join_wave/reset"
        return (
            f"Join wave{at}: {wave['knocks_in_window']} knocks within JOIN_WAVE_WINDOW, more than "
            f"JOIN_WAVE_THRESHOLD ({settings.join_wave_threshold}). New knocks are held for "
            f"review until {until:%Y-%m-%d %H:%M} UTC (JOIN_WAVE_COOLDOWN) or POST "
            f"{reset}; {held} held for review so far: {names}. {answer}"
        )
