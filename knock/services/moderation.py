"""What moderators do through the admin API and CLI: look at the room, rescind invites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.lifecycle import Event, State
from knock.matrix.client import MatrixClient
from knock.store import Store


class NothingToRescind(Exception):
    """The person has no pending invite and is not a member."""


@dataclass(frozen=True)
class PendingInvite:
    """An invite Knock sent that the person has not yet answered."""

    user_id: str
    knock_id: str
    invite_time: float
    age_seconds: float


class Moderation:
    """Moderator actions on the room, each recorded in the knocks' history."""

    def __init__(
        self, settings: Settings, store: Store, matrix: MatrixClient, clock: Clock, room_id: str
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.room_id = room_id

    async def pending_invites(self) -> list[PendingInvite]:
        """List Knock's invites that are still pending in the room right now."""
        invited_now = await self.matrix.members(self.room_id, "invite")
        now = self.clock.now()
        pending = []
        for knock in await self.store.knocks_in([State.INVITED], limit=10000):
            if knock.user_id in invited_now:
                sent = knock.invited_at or knock.updated_at
                pending.append(PendingInvite(knock.user_id, knock.knock_id, sent, now - sent))
        return pending

    async def joined_members(self) -> list[str]:
        """List the room's joined members."""
        return sorted(await self.matrix.joined_members(self.room_id))

    async def room_state(self) -> list[dict[str, Any]]:
        """Return the room's raw current state."""
        return await self.matrix.state(self.room_id)

    async def rescind(self, user_id: str, reason: str | None, actor: str) -> dict[str, Any]:
        """Revoke a pending invite, or remove the person if they already joined.

        The moderator's reason stays in the audit log; the room sees the neutral `KICK_REASON`.
        """
        membership = await self.matrix.membership(self.room_id, user_id)
        knock = await self.store.latest_knock(user_id, [State.QUEUED, State.INVITED, State.JOINED])
        if membership not in ("invite", "join") and knock is None:
            raise NothingToRescind(user_id)
        if membership in ("invite", "join"):
            await self.matrix.kick(self.room_id, user_id, self.settings.kick_reason)
        if knock is not None:
            await self.store.move(
                knock.knock_id,
                State.RESCINDED,
                reason=None,
                history=[(str(Event.RESCINDED), actor, reason)],
                now=self.clock.now(),
            )
        return {
            "status": "rescinded",
            "user_id": user_id,
            "knock_id": knock.knock_id if knock else None,
            "was": "member" if membership == "join" else "invited" if membership else "queued",
        }
