"""Block and unblock: record the entry, and act at once on everyone it covers now."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.blocklist import Entry
from knock.core.history import Actor, HistoryLine
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import FOLLOWED, Event, State
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.blocklist.index import Blocklist, normalise_pattern
from knock.services.homeserver.account import BotAccount
from knock.services.moderation.notices import Notices
from knock.store import Store

log = logging.getLogger(__name__)


class NeedsConfirmation(Exception):
    """More people would be removed than BLOCK_CONFIRM_THRESHOLD allows without confirmation."""

    def __init__(self, plan: Plan) -> None:
        super().__init__("confirmation needed")
        self.plan = plan

    def as_dict(self) -> dict[str, Any]:
        """The plan that needs confirming, in the shape the API and CLI show.

        The entry is stored held meanwhile: it refuses knocks and removes nobody.
        """
        answer = {**self.plan.as_dict(), "status": "confirmation_needed"}
        answer["entry"]["status"] = "held"
        return answer


class NotBlocked(Exception):
    """There is no moderator entry with that pattern."""


@dataclass
class Plan:
    """What blocking an entry does to the room and to open knocks."""

    entry: Entry
    door: str | None = None  # the door whose own entry it is; None: every door's
    rescinded: list[str] = field(default_factory=list)  # pending invites revoked
    removed: list[str] = field(default_factory=list)  # members kicked or banned
    declined: list[str] = field(default_factory=list)  # knocks (native or Knock's) turned down
    native: list[str] = field(default_factory=list)  # the declined who knocked on Matrix itself
    knocks: list[KnockRecord] = field(default_factory=list)
    # Where each person is acted on: (room, membership) in every door's room they are in.
    places: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def people(self) -> int:
        """How many people the plan removes from the room or turns down."""
        return len(self.removed) + len(self.rescinded) + len(self.declined)

    def as_dict(self) -> dict[str, Any]:
        """Describe the plan in the shape the API and CLI show."""
        entry = self.entry
        shown = {"user_id": entry.pattern, "reason": entry.reason, "source": entry.source}
        return {
            "status": "blocked",
            "entry": {**shown, "door": self.door},
            "actions": {
                "rescinded": sorted(self.rescinded),
                "removed": sorted(self.removed),
                "declined": sorted(self.declined),
            },
        }


@dataclass(frozen=True)
class BlockResult:
    """What blocking an entry did (or, in a dry run, would do)."""

    plan: Plan
    dry_run: bool = False
    failed: tuple[str, ...] = ()  # people Knock could not remove

    def as_dict(self) -> dict[str, Any]:
        """Describe the result in the shape the API and CLI show."""
        answer = self.plan.as_dict()
        if self.dry_run:
            answer["dry_run"] = True
        if self.failed:
            answer["failed"] = list(self.failed)
        return answer


@dataclass(frozen=True)
class UnblockResult:
    """What unblocking an entry did."""

    pattern: str
    unbanned: tuple[str, ...]
    door: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Describe the result in the shape the API and CLI show."""
        answer = {"status": "unblocked", "entry": self.pattern, "unbanned": list(self.unbanned)}
        return {**answer, "door": self.door}


class Blocking:
    """Moderators' block-list actions, acting on the room with the neutral `KICK_REASON`."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        blocklist: Blocklist,
        account: BotAccount,
        notices: Notices,
        rooms: list[str] | None = None,
        door_rooms: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.blocklist = blocklist
        self.account = account
        self.notices = notices
        # Every door's room, the default door's first: an entry of every door removes from
        # them all; a door's own entry from that door's rooms only.
        self.rooms = rooms or [settings.new_room_id]
        self.door_rooms = dict(door_rooms or {})

    def rooms_of(self, door: str | None) -> list[str]:
        """The rooms an entry removes from: every door's (None), or one door's."""
        return self.rooms if door is None else self.door_rooms.get(door, [])

    async def block(
        self,
        entry: Entry,
        actor: Actor,
        *,
        dry_run: bool = False,
        confirm: bool = False,
        announce: bool = True,
        door: str | None = None,
    ) -> BlockResult:
        """Record `entry` and remove everyone it covers, unless this is a dry run.

        An entry that would remove more members than BLOCK_CONFIRM_THRESHOLD is held instead
        (it refuses knocks, removes nobody, and is announced once: in the moderation room too
        when `announce`) and NeedsConfirmation is raised; `confirm` puts it in force, whatever
        source the held entry came from. With a `door`, the entry is that door's own: it
        refuses knocks at that door and removes from its rooms only (the caller's answer is
        where a held one is announced).
        """
        door = _own(door)
        plan = await self.plan(entry, door)
        if dry_run:
            return BlockResult(plan, dry_run=True)
        if len(plan.removed) > self.settings.block_confirm_threshold and not confirm:
            if await self.blocklist.hold(entry, door=door):
                post = announce and door is None
                await self.notices.held(entry.pattern, entry.source, plan.removed, post=post)
            raise NeedsConfirmation(plan)
        await self.blocklist.add(entry, by=actor, door=door)
        failed = await self._act(plan, actor)
        return BlockResult(plan, failed=tuple(failed))

    async def plan(self, entry: Entry, door: str | None = None) -> Plan:
        """Work out, without changing anything, what blocking `entry` (every door's, or a
        `door`'s own) would do."""
        plan = Plan(entry, door)
        covers = self.blocklist.index.covers
        for room_id in self.rooms_of(door):
            for user_id, membership in (await self.matrix.members(room_id)).items():
                if membership not in ("join", "invite", "knock") or self.account.is_bot(user_id):
                    continue
                if covers(entry, user_id):
                    plan.places.setdefault(user_id, []).append((room_id, membership))
        for user_id, places in plan.places.items():
            memberships = {membership for _, membership in places}
            if "join" in memberships:
                plan.removed.append(user_id)
            elif "invite" in memberships:
                plan.rescinded.append(user_id)
            else:
                plan.declined.append(user_id)
                plan.native.append(user_id)
        acted = set(plan.removed) | set(plan.rescinded) | set(plan.declined)
        for knock in await self.store.knocks_in(FOLLOWED, limit=100_000):
            if door is not None and knock.door != door:
                continue
            if covers(entry, knock.user_id):
                plan.knocks.append(knock)
                if knock.user_id not in acted and knock.state not in (State.INVITED, State.JOINED):
                    plan.declined.append(knock.user_id)
                    acted.add(knock.user_id)
        return plan

    async def _act(self, plan: Plan, actor: Actor) -> list[str]:
        failed = []
        for user_id in plan.removed + plan.rescinded + plan.native:
            try:
                await self._remove(plan, user_id)
            except MatrixError as exc:
                log.warning(
                    "Could not remove %s (blocked as %s): %s", user_id, plan.entry.pattern, exc
                )
                failed.append(user_id)
        for knock in plan.knocks:
            history = [HistoryLine(Event.BLOCKED, actor, plan.entry.reason)]
            await self.store.move(
                knock.knock_id, State.BLOCKED, reason=None, history=history, now=self.clock.now()
            )
        return failed

    async def _remove(self, plan: Plan, user_id: str) -> None:
        # Only members are banned; an invite is revoked and a knock declined by a kick.
        for room_id, membership in plan.places[user_id]:
            await self._remove_from(room_id, user_id, plan.entry.pattern, ban=membership == "join")

    async def remove(
        self, user_id: str, pattern: str, *, ban: bool = True, door: str | None = None
    ) -> None:
        """Remove someone from every door's room they are in (or a `door`'s, for its own
        entry) because of a block-list entry, with `KICK_REASON` (with one room: from it,
        without asking first)."""
        rooms = self.rooms_of(door)
        if len(rooms) == 1:
            await self._remove_from(rooms[0], user_id, pattern, ban=ban)
            return
        for room_id in rooms:
            membership = await self.matrix.membership(room_id, user_id)
            if membership in ("join", "invite", "knock"):
                await self._remove_from(room_id, user_id, pattern, ban=ban and membership == "join")

    def _still_blocked(self, user_id: str, room_id: str) -> bool:
        """Whether an entry in force still removes `user_id` from `room_id`: one of every
        door's, or the own entry of a door whose room it is."""
        if self.blocklist.check_in_force(user_id).verdict == "block":
            return True
        doors = [door for door, rooms in self.door_rooms.items() if room_id in rooms]
        return bool(self.blocklist.removing_door(user_id, doors))

    async def _remove_from(self, room_id: str, user_id: str, pattern: str, *, ban: bool) -> None:
        """Remove someone from one room, with `KICK_REASON`.

        With BAN_ON_BLOCK (and `ban`) they are banned, and the ban is remembered so that
        unblocking `pattern` lifts it; otherwise they are kicked, which also revokes an invite
        and declines a knock.
        """
        reason = self.settings.kick_reason
        if ban and self.settings.ban_on_block:
            # Remembered first: whoever sees the ban in the room may unblock at once, and must
            # find it. A remembered ban that never happened is harmless: unblocking lifts only
            # bans it finds in the room.
            await self.store.blocklist.record_ban(user_id, room_id, pattern, self.clock.now())
            await self.matrix.ban(room_id, user_id, reason)
        else:
            await self.matrix.kick(room_id, user_id, reason)

    async def unblock(
        self, pattern: str, actor: Actor, *, door: str | None = None
    ) -> UnblockResult:
        """Remove a moderator's entry (every door's, or a `door`'s own) and lift the bans Knock
        placed because of it (in that door's rooms only, for a door's entry).

        The removal is logged with `actor` for the console's audit, in the same transaction.
        """
        pattern, door = normalise_pattern(pattern), _own(door)
        if not await self.blocklist.remove(pattern, by=actor, door=door):
            raise NotBlocked(pattern)
        unbanned: list[str] = []
        rooms = self.rooms_of(door)
        for user_id, banned_in in await self.store.blocklist.bans_for(pattern):
            if banned_in != "*" and banned_in not in rooms:
                continue  # another door's ban (its own entry may have the same pattern)
            candidates = rooms if banned_in == "*" else [banned_in]
            lifted = [room for room in candidates if not self._still_blocked(user_id, room)]
            for room_id in lifted:
                if await self.matrix.membership(room_id, user_id) == "ban":
                    await self.matrix.unban(room_id, user_id)
                    if user_id not in unbanned:
                        unbanned.append(user_id)
            if len(lifted) < len(candidates):
                continue  # still blocked there by another entry: the ban stays, remembered
            await self.store.blocklist.forget_ban(user_id, banned_in)
        log.info("%s unblocked %s%s", actor, pattern, "" if door is None else f" at door {door}")
        return UnblockResult(pattern, tuple(unbanned), door)


def _own(door: str | None) -> str | None:
    """The door whose own entry is meant: None for every door's (the default door's are)."""
    return None if door == DEFAULT_DOOR else door
