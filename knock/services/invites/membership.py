"""Follow every invite to its end: record joins and declines, remind, expire, enforce the list.

Membership changes arrive from the sync loop within seconds; the periodic scans reconcile what
the live view missed (for instance while Knock was down).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from knock.clock import Clock
from knock.config import Settings
from knock.core.forms import Field, Submission
from knock.core.history import KNOCK, NATIVE, WATCHDOG, Actor, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import Event, State
from knock.doors import Door, default_door, door_of, rooms_of
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError, RateLimited
from knock.services.blocklist.actions import Blocking
from knock.services.homeserver.account import BotAccount
from knock.services.homeserver.room_check import suggested_rooms
from knock.services.invites.intake import Intake
from knock.services.invites.welcome import Welcomer
from knock.services.wakeup import Wakeup
from knock.store import Store

log = logging.getLogger(__name__)


class MembershipFollower:
    """React to the membership of every door's room, and to the passing of time."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        *,
        account: BotAccount,
        intake: Intake,
        blocking: Blocking,
        welcomer: Welcomer,
        wakeup: Wakeup,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.account = account
        self.intake = intake
        self.blocking = blocking
        self.welcomer = welcomer
        self.wakeup = wakeup
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}
        self.room_doors = rooms_of(self.doors)

    def _doors(self, names: Iterable[str] | None) -> list[Door]:
        return list(self.doors.values()) if names is None else [self.doors[n] for n in names]

    def _door(self, room_id: str | None) -> Door:
        """The door whose room a membership change happened in (None: the default door's)."""
        return self.doors[self.room_doors.get(room_id or "", DEFAULT_DOOR)]

    # Live membership changes.

    async def membership_changed(
        self,
        user_id: str,
        membership: str,
        sender: str,
        event_id: str | None = None,
        room_id: str | None = None,
    ) -> None:
        """Handle one membership change seen in a door's room (None: the default door's)."""
        if self.account.is_bot(user_id):
            return
        door = self._door(room_id)
        room = room_id or door.room
        if membership == "knock":
            if room == door.room:
                await self._native_knock(user_id, event_id, door)
            return
        if membership in ("join", "invite") and await self._removed_if_blocked(user_id, door):
            return
        # A space door's knock is joined in its welcome room, and declined in the space itself;
        # what happens in its other rooms changes nothing.
        if membership == "join" and room == door.join_room:
            await self._joined(user_id, door.name)
        elif membership == "leave" and sender == user_id and room == door.room:
            await self._left(user_id, door.name)

    async def _native_knock(self, user_id: str, event_id: str | None, door: Door) -> None:
        """Treat a Matrix knock like a form's: the same checks, the same audit trail."""
        submission = Submission(
            platform=NATIVE.kind.value,
            submission_id=event_id,
            fields=(Field("Matrix ID", "user_id", None, user_id),),
        )
        outcome = await self.intake.knock(submission, user_id, None, door=door.name)
        if outcome.created and outcome.state in (State.REJECTED, State.DROPPED):
            # Declining a knock is a kick, with the same neutral reason as every removal.
            await self.matrix.kick(door.room, user_id, self.settings.kick_reason)

    async def _joined(self, user_id: str, door: str) -> None:
        knock = await self.store.latest_knock(user_id, [State.INVITED], door=door)
        if knock is None:
            return
        moved = await self.store.move(
            knock.knock_id,
            State.JOINED,
            reason=None,
            history=[HistoryLine(Event.JOINED, Actor.matrix(user_id))],
            now=self.clock.now(),
            job_kind=JobKind.WELCOME if self.settings.welcome_mode != "off" else None,
        )
        if moved:
            self.wakeup.job_added()
            log.info("%s joined (knock %s)", user_id, knock.knock_id)

    async def _left(self, user_id: str, door: str) -> None:
        invited = await self.store.latest_knock(user_id, [State.INVITED], door=door)
        if invited is not None:
            await self.store.move(
                invited.knock_id,
                State.DECLINED,
                reason=None,
                history=[HistoryLine(Event.DECLINED, Actor.matrix(user_id))],
                now=self.clock.now(),
            )
            return
        joined = await self.store.latest_knock(user_id, [State.JOINED], door=door)
        if joined is not None:
            line = HistoryLine(Event.LEFT, Actor.matrix(user_id))
            await self.store.add_history(joined.knock_id, [line], self.clock.now())

    async def _removed_if_blocked(self, user_id: str, door: Door) -> bool:
        """Remove a block-listed person who got in (or was invited) by another route: from
        every door's rooms for an entry of every door, from `door`'s for the door's own.

        Only entries in force remove anyone: a held entry (not yet counted, or waiting for a
        moderator's confirmation) removes nobody.
        """
        blocklist = self.blocking.blocklist
        decision = blocklist.check_in_force(user_id)
        at: str | None = None
        if decision.verdict == "block":
            pattern = decision.matches[0].entry
        elif own := blocklist.removing_door(user_id, [door.name]):
            at, pattern = door.name, own[door.name]
        else:
            return False
        try:
            await self.blocking.remove(user_id, pattern, door=at)
        except MatrixError as exc:
            log.warning("The watchdog could not remove %s: %s", user_id, exc)
            return False
        log.info("The watchdog removed block-listed %s", user_id)
        open_knock = await self.store.latest_knock(user_id, [State.INVITED, State.JOINED], door=at)
        if open_knock is not None:
            await self.store.move(
                open_knock.knock_id,
                State.BLOCKED,
                reason=None,
                history=[HistoryLine(Event.BLOCKED, WATCHDOG)],
                now=self.clock.now(),
            )
        return True

    # Periodic scans.

    async def check_invites(self, doors: Iterable[str] | None = None) -> None:
        """Reconcile pending invites at every door (or at `doors`, those whose room is ready):
        joins and declines missed, reminders due, invites expired."""
        invited = await self.store.knocks_in([State.INVITED], limit=100_000)
        for door in self._doors(doors):
            at_door = [knock for knock in invited if door_of(self.doors, knock.door) is door]
            try:
                if at_door:
                    await self._check_invites(door, at_door)
                if door.rooms:
                    await self._expire_room_invites(door)
            except MatrixError as exc:
                if not door.removed:
                    raise
                # A removed door's room the bot may have left: the live view still follows it.
                log.warning("Could not look at removed door %s's room: %s", door.name, exc)

    async def _check_invites(self, door: Door, invited: list[KnockRecord]) -> None:
        members = await self.matrix.members(door.room)
        joined = members
        if door.join_room != door.room:  # a space door: joined means joined its welcome room
            joined = await self.matrix.members(door.join_room)
        now = self.clock.now()
        for knock in invited:
            membership = members.get(knock.user_id)
            if joined.get(knock.user_id) == "join":
                await self._joined(knock.user_id, knock.door)
            elif membership not in ("invite", "join"):
                await self._left(knock.user_id, knock.door)
            else:
                await self._pending(knock, door, now)

    async def _pending(self, knock: KnockRecord, door: Door, now: float) -> None:
        sent = knock.invited_at or knock.updated_at
        if now - sent >= door.settings.invite_ttl:
            children = await self.store.child_rooms(knock.knock_id)
            reason = self.settings.kick_reason
            await withdraw(self.matrix, door, knock.user_id, reason, children)
            await self.store.move(
                knock.knock_id,
                State.EXPIRED,
                reason=None,
                history=[HistoryLine(Event.EXPIRED, KNOCK)],
                now=now,
            )
        elif now - sent >= self.settings.reminder_after:
            await self.welcomer.remind(knock)

    async def _expire_room_invites(self, door: Door) -> None:
        """Withdraw a space door's invites still open in its other rooms once the person joined.

        A joined knock's invite to a room it did not join is withdrawn `INVITE_TTL` after that
        invite was sent (the space's when the knock was invited, a child room's as its
        `invited_to_room` line says), and written in its history; the rooms joined are left
        alone. An invite Knock did not send (none in the knock's history, or the invite in the
        room is someone else's), or sent again after one expired, is not Knock's to withdraw.
        """
        rooms = [room for room in door.all_rooms() if room != door.join_room]
        if door.rooms == "suggested":  # those the space suggests now
            suggested = await suggested_rooms(self.matrix, door.room)
            rooms += [room for room in suggested if room not in rooms and room != door.join_room]
        now = self.clock.now()
        for room in rooms:
            try:
                await self._expire_invites_in(door, room, now)
            except (HomeserverUnavailable, RateLimited):
                raise  # the homeserver, not the room: the duty tries again later
            except MatrixError as exc:
                # A room the bot cannot read or kick in (`/readyz` says so): the others go on.
                log.warning("Could not expire invites to %s (door %s): %s", room, door.name, exc)

    async def _expire_invites_in(self, door: Door, room: str, now: float) -> None:
        """Withdraw the expired invites Knock sent to one of a space door's other rooms."""
        for user_id, inviter in (await self.matrix.invited_by(room)).items():
            if self.account.is_bot(user_id) or not self.account.is_bot(inviter):
                continue  # an invite someone else sent (a moderator's, again) is theirs
            knock = await self.store.latest_knock(user_id, [State.JOINED], door=door.name)
            if knock is None:
                continue
            sent = await self._room_invite_sent(knock, door, room)
            if sent is None or now - sent < door.settings.invite_ttl:
                continue
            if await self.matrix.membership(room, user_id) != "invite":
                continue  # accepted (or declined) meanwhile: a kick would remove a member
            await self.matrix.kick(room, user_id, self.settings.kick_reason)
            line = HistoryLine(Event.ROOM_INVITE_EXPIRED, KNOCK, room)
            await self.store.add_history(knock.knock_id, [line], now)
            log.info("%s's invite to %s expired (knock %s)", user_id, room, knock.knock_id)

    async def _room_invite_sent(self, knock: KnockRecord, door: Door, room: str) -> float | None:
        """When Knock sent the knock's invite to `room`, or None (not sent, or expired once)."""
        sent = knock.invited_at or knock.updated_at if room == door.room else None
        for line in await self.store.history(knock.knock_id):
            if line.detail != room:
                continue
            if line.event == Event.ROOM_INVITE_EXPIRED:
                return None
            if line.event == Event.INVITED_TO_ROOM:
                sent = line.at
        return sent

    async def scan_members(self, doors: Iterable[str] | None = None) -> None:
        """Remove block-listed people among every door's (or `doors`') members, invitees and
        knockers."""
        for door in self._doors(doors):
            for user_id, membership in (await self.matrix.members(door.room)).items():
                if membership in ("join", "invite", "knock") and not self.account.is_bot(user_id):
                    await self._removed_if_blocked(user_id, door)


async def withdraw(
    matrix: MatrixClient, door: Door, user_id: str, reason: str, children: Iterable[str] = ()
) -> None:
    """Withdraw a knock's invite: from the door's room; for a space door, from each of its rooms
    (and the `children` it was invited into) where the invite is still open (a room already
    joined is left alone)."""
    rooms = door.all_rooms()
    rooms += [room for room in children if room not in rooms]
    if len(rooms) == 1:
        await matrix.kick(door.room, user_id, reason)
        return
    for room in rooms:
        if await matrix.membership(room, user_id) == "invite":
            await matrix.kick(room, user_id, reason)
