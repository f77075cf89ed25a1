"""One summary per join wave: how many knocks it holds, a sample, and how to answer them all.

Knocks the join-wave breaker holds get no post each (a flood would spend the bot's budget on
posts); the lease holder posts one summary when the breaker trips, and moderators answer with
`!approve wave` or `!deny wave`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from knock.clock import Clock
from knock.config import Settings
from knock.core.admission_batch import WAVE_TRIPPED
from knock.core.lifecycle import Reason, State
from knock.services.invites.intake import Intake
from knock.services.moderation.notices import Notices, sample
from knock.store import Store

ANNOUNCED = "join_wave.announced"  # the trip time of the last wave summarised
SAMPLE_READ = 5


class JoinWaves:
    """Announce each join wave once, on the lease holder."""

    def __init__(
        self, settings: Settings, store: Store, clock: Clock, *, intake: Intake, notices: Notices
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.intake = intake
        self.notices = notices

    async def announce(self) -> None:
        """Post the summary of a wave that tripped and was not summarised yet."""
        tripped = await self.store.get_value(WAVE_TRIPPED)
        if not tripped or await self.store.get_value(ANNOUNCED) == tripped:
            return
        now = self.clock.now()
        if now - float(tripped) >= self.settings.join_wave_cooldown:
            return  # over before anyone looked: nothing is held by it any more
        await self.notices.say(await self._summary(float(tripped)), txn_id=f"join-wave-{tripped}")
        await self.store.set_value(ANNOUNCED, tripped, now)

    async def _summary(self, tripped: float) -> str:
        settings = self.settings
        wave = await self.intake.join_wave_state()
        reason = Reason.JOIN_WAVE.value
        held = await self.store.count_knocks(State.REVIEW, reason)
        shown = await self.store.list_knocks(state=State.REVIEW, reason=reason, limit=SAMPLE_READ)
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
        return (
            f"Join wave: {wave['knocks_in_window']} knocks within JOIN_WAVE_WINDOW, more than "
            f"JOIN_WAVE_THRESHOLD ({settings.join_wave_threshold}). New knocks are held for "
            f"review until {until:%Y-%m-%d %H:%M} UTC (JOIN_WAVE_COOLDOWN) or POST "
            f"/join_wave/reset; {held} held for review so far: {names}. {answer}"
        )
