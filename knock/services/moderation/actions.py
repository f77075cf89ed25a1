"""What moderators do through the admin API and CLI: look at the room, rescind invites."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.history import NATIVE, Actor, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import Event, Reason, State
from knock.doors import Door, default_door, door_of
from knock.matrix.client import MatrixClient
from knock.services.homeserver.account import BotAccount
from knock.services.wakeup import Wakeup
from knock.store import Store


class NothingToRescind(Exception):
    """The person has no pending invite and is not a member."""


class OwnAccount(Exception):
    """The id is the bot's own: Knock does not remove itself from the room."""


class NoSuchKnock(Exception):
    """No knock has that id."""


class NotInReview(Exception):
    """The knock is not waiting for a moderator (it was decided already)."""


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
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        *,
        account: BotAccount,
        wakeup: Wakeup,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.account = account
        self.wakeup = wakeup
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}

    def _room(self, door: str) -> str:
        return door_of(self.doors, door).room

    async def pending_invites(self, door: str = DEFAULT_DOOR) -> list[PendingInvite]:
        """List Knock's invites at a door that are still pending in its room right now."""
        invited_now = await self.matrix.members(self._room(door), "invite")
        now = self.clock.now()
        pending = []
        for knock in await self.store.knocks_in([State.INVITED], limit=10000, door=door):
            if knock.user_id in invited_now:
                sent = knock.invited_at or knock.updated_at
                pending.append(PendingInvite(knock.user_id, knock.knock_id, sent, now - sent))
        return pending

    async def joined_members(self, door: str = DEFAULT_DOOR) -> list[str]:
        """List a door's room's joined members."""
        return sorted(await self.matrix.joined_members(self._room(door)))

    async def room_state(self, door: str = DEFAULT_DOOR) -> list[dict[str, Any]]:
        """Return a door's room's raw current state."""
        return await self.matrix.state(self._room(door))

    async def rescind(
        self, user_id: str, reason: str | None, actor: Actor, door: str | None = None
    ) -> dict[str, Any]:
        """Revoke a pending invite, or remove the person if they already joined.

        At `door`, or (None) at the door of the person's latest open knock, else the default
        door. The moderator's reason stays in the audit log; the room sees the neutral
        `KICK_REASON`. The bot's own id is refused (OwnAccount): Knock would lose the room.
        """
        if self.account.is_bot(user_id):
            raise OwnAccount(user_id)
        open_states = [State.QUEUED, State.INVITED, State.JOINED]
        knock = await self.store.latest_knock(user_id, open_states, door=door)
        at = door_of(self.doors, door or (knock.door if knock else DEFAULT_DOOR))
        membership = await self.matrix.membership(at.room, user_id)
        # A space door's other rooms: each one the person was invited into or joined.
        others = [room for room in at.all_rooms() if room != at.room]
        if knock is not None:
            children = await self.store.child_rooms(knock.knock_id)
            others += [room for room in children if room not in others]
        elsewhere = [
            room
            for room in others
            if await self.matrix.membership(room, user_id) in ("invite", "join")
        ]
        if membership not in ("invite", "join") and knock is None and not elsewhere:
            raise NothingToRescind(user_id)
        if membership in ("invite", "join"):
            await self.matrix.kick(at.room, user_id, self.settings.kick_reason)
        for room in elsewhere:
            await self.matrix.kick(room, user_id, self.settings.kick_reason)
        if knock is not None:
            await self.store.move(
                knock.knock_id,
                State.RESCINDED,
                reason=None,
                history=[HistoryLine(Event.RESCINDED, actor, reason)],
                now=self.clock.now(),
            )
        return {
            "status": "rescinded",
            "user_id": user_id,
            "knock_id": knock.knock_id if knock else None,
            "was": "member" if membership == "join" else "invited" if membership else "queued",
        }

    async def approve(self, knock_id: str, actor: Actor, note: str | None = None) -> KnockRecord:
        """Let a knock held for review go ahead: it is queued for its invite."""
        return await self._decide(knock_id, actor, note, approve=True)

    async def deny(self, knock_id: str, actor: Actor, note: str | None = None) -> KnockRecord:
        """Turn a knock held for review down, silently."""
        return await self._decide(knock_id, actor, note, approve=False)

    async def _decide(
        self, knock_id: str, actor: Actor, note: str | None, *, approve: bool
    ) -> KnockRecord:
        knock = await self.store.get_knock(knock_id)
        if knock is None:
            raise NoSuchKnock(knock_id)
        if knock.state is not State.REVIEW:
            raise NotInReview(knock.state.value)
        if approve:
            history = [HistoryLine(Event.APPROVED, actor, note), HistoryLine(Event.QUEUED, actor)]
            target, reason, job = State.QUEUED, None, JobKind.INVITE
        else:
            history = [HistoryLine(Event.DENIED, actor, note)]
            target, reason, job = State.REJECTED, Reason.DENIED.value, None
        moved = await self.store.move(
            knock_id, target, reason=reason, history=history, now=self.clock.now(), job_kind=job
        )
        if not moved:
            raise NotInReview("decided meanwhile")
        if approve:
            self.wakeup.job_added()
        if not approve and knock.source == NATIVE.kind.value:
            # A Matrix knock is declined in the room too (with the neutral reason).
            await self.matrix.kick(self._room(knock.door), knock.user_id, self.settings.kick_reason)
        updated = await self.store.get_knock(knock_id)
        assert updated is not None
        return updated

    async def deny_matching(
        self,
        actor: Actor,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        limit: int = 1000,
        note: str | None = None,
        doors: Iterable[str] | None = None,
    ) -> list[str]:
        """Deny every knock in review with that reason (and person, and through `doors`);
        return their ids."""
        return await self._decide_matching(
            actor, reason, user_id, limit, note, doors, approve=False
        )

    async def approve_matching(
        self,
        actor: Actor,
        *,
        reason: str,
        limit: int = 100_000,
        note: str | None = None,
        doors: Iterable[str] | None = None,
    ) -> list[str]:
        """Approve every knock in review with that reason (through `doors`); return their ids."""
        return await self._decide_matching(actor, reason, None, limit, note, doors, approve=True)

    async def _decide_matching(
        self,
        actor: Actor,
        reason: str | None,
        user_id: str | None,
        limit: int,
        note: str | None,
        doors: Iterable[str] | None,
        *,
        approve: bool,
    ) -> list[str]:
        held = [
            knock
            for door in ([None] if doors is None else list(doors))
            for knock in await self.store.list_knocks(
                state=State.REVIEW, user_id=user_id, reason=reason, door=door, limit=limit
            )
        ]
        decided = []
        for knock in held:
            try:
                await self._decide(knock.knock_id, actor, note, approve=approve)
            except (NotInReview, NoSuchKnock):
                continue  # decided (or erased) meanwhile
            decided.append(knock.knock_id)
        return decided
