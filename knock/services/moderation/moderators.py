"""Who moderates: an account with power at least MODERATOR_POWER_LEVEL in the moderation room when
there is one, else in the room Knock serves (the rule room).

The live view follows the rule room and keeps its power levels in the database, so every process
re-checks a moderator signed in to the console on each click without asking the homeserver: one
demoted in the room loses the console at their next click, and one who leaves it loses their
sessions at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.history import Actor, ActorKind
from knock.matrix.client import MatrixClient
from knock.services.homeserver.room_check import power_of, state_by_key
from knock.store import Store

log = logging.getLogger(__name__)

POWERS_KEY = "moderators.powers"  # + ":<room>": {"room": ..., "create": event, "levels": content}
GONE = ("leave", "ban")


class Moderators:
    """Tell who may moderate, from the power levels the live view keeps (or, when asked to, now)."""

    def __init__(
        self, settings: Settings, store: Store, matrix: MatrixClient, clock: Clock
    ) -> None:
        self.room_id: str = settings.moderation_room_id or settings.new_room_id
        self.level = settings.moderator_power_level
        self.store = store
        self.matrix = matrix
        self.clock = clock

    async def may_moderate(self, user_id: str) -> bool:
        """Tell from the kept power levels whether an account may moderate (no homeserver call,
        but for the first check after an upgrade, when none are kept yet)."""
        kept = await self._kept()
        if kept is None:
            kept = await self._read_now()
        return power_of(user_id, kept) >= self.level

    async def is_moderator_now(self, user_id: str) -> bool:
        """Ask the homeserver whether an account has joined the rule room with moderator power
        (one call; the power levels read are kept)."""
        state = await self._read_now()
        membership = state.get(("m.room.member", user_id), {}).get("content", {})
        return membership.get("membership") == "join" and power_of(user_id, state) >= self.level

    async def followed(self, room_id: str, events: list[dict[str, Any]], *, first: bool) -> None:
        """Take in a sync batch's state and timeline events of a room the live view follows.

        New power levels of the rule room are kept; a member who left or was banned from it
        loses their console sessions (not on the first sync, whose state lists every departure
        the room ever saw).
        """
        if room_id != self.room_id:
            return
        levels = [e for e in events if e.get("type") == "m.room.power_levels"]
        if levels and levels[-1].get("state_key") == "":
            kept = await self._kept()
            if kept is None:
                await self._read_now()  # the creators come with it
            else:
                kept[("m.room.power_levels", "")] = levels[-1]
                await self._keep(kept)
        if first:
            return
        for event in events:
            content = event.get("content", {})
            if event.get("type") == "m.room.member" and content.get("membership") in GONE:
                actor = str(Actor(ActorKind.CONSOLE, str(event.get("state_key"))))
                if await self.store.console.end_sessions_of(actor):
                    log.info("Ended the console sessions of %s: no longer in the room", actor)

    async def _read_now(self) -> dict[tuple[Any, Any], dict[str, Any]]:
        state = state_by_key(await self.matrix.state(self.room_id))
        await self._keep(state)
        return state

    async def _kept(self) -> dict[tuple[Any, Any], dict[str, Any]] | None:
        stored = await self.store.get_value(self._key)
        if stored is None:
            return None
        value = json.loads(stored)
        if value.get("room") != self.room_id:
            return None  # kept for another rule room (MODERATION_ROOM_ID changed)
        return {
            ("m.room.create", ""): value.get("create") or {},
            ("m.room.power_levels", ""): value.get("levels") or {},
        }

    async def _keep(self, state: dict[tuple[Any, Any], dict[str, Any]]) -> None:
        create = state.get(("m.room.create", ""), {})
        kept = {
            "room": self.room_id,
            "create": {"sender": create.get("sender"), "content": create.get("content", {})},
            "levels": state.get(("m.room.power_levels", ""), {}),
        }
        await self.store.set_value(self._key, json.dumps(kept), self.clock.now())

    @property
    def _key(self) -> str:
        return f"{POWERS_KEY}:{self.room_id}"


class DoorModerators:
    """Each door's moderators: power in the door's moderation room, else in its room. Doors that
    share a rule room share one `Moderators` (and one copy of its power levels)."""

    def __init__(self, by_door: Mapping[str, Moderators]) -> None:
        self.by_door = dict(by_door)

    def of(self, door: str) -> Moderators:
        """The moderators of one door (a door Knock does not have: none can be)."""
        return self.by_door[door]

    def rooms(self) -> list[Moderators]:
        """One `Moderators` per rule room, for the live view to keep up to date."""
        return list({id(m): m for m in self.by_door.values()}.values())

    async def doors_of(self, user_id: str) -> frozenset[str]:
        """The doors an account moderates, from the kept power levels (no homeserver call)."""
        known: dict[int, bool] = {}
        doors = []
        for door, moderators in self.by_door.items():
            key = id(moderators)
            if key not in known:
                known[key] = await moderators.may_moderate(user_id)
            if known[key]:
                doors.append(door)
        return frozenset(doors)

    async def moderates_any_now(self, user_id: str) -> bool:
        """Tell whether an account moderates some door: the kept power levels say so first (no
        call for anyone else), then the room itself (one call)."""
        for moderators in self.rooms():
            if not await moderators.may_moderate(user_id):
                continue
            if await moderators.is_moderator_now(user_id):
                return True
        return False
