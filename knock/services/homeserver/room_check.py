"""Check at start-up that the bot can do its job in the room; say in one line what is missing."""

from __future__ import annotations

import logging
import math
from typing import Any

from knock.doors import Door
from knock.matrix.client import MatrixClient, MatrixError

log = logging.getLogger(__name__)

_DEFAULT_LEVELS = {"invite": 0, "kick": 50, "ban": 50}


class RoomCheckError(Exception):
    """The bot is not in the room or lacks a power it needs; the message is one line."""


async def check_room(
    matrix: MatrixClient, room_id: str, bot: str, named: str = "NEW_ROOM_ID"
) -> None:
    """Raise RoomCheckError unless the bot has joined the room with invite, kick and ban power.

    `named` is how the one-line message names the room (a door's: "door book-club's room").
    """
    try:
        membership = await matrix.membership(room_id, bot)
    except MatrixError as exc:
        if exc.status != 403:
            raise
        membership = None  # the homeserver hides the room from non-members
    if membership != "join":
        raise RoomCheckError(
            f"the bot {bot} has not joined {named} {room_id}: invite it there and let it join"
        )
    state = state_by_key(await matrix.state(room_id))
    has = power_of(bot, state)
    levels = state.get(("m.room.power_levels", ""), {}).get("content", {})
    missing = [
        f"{action} (needs {need})"
        for action, default in _DEFAULT_LEVELS.items()
        if has < (need := int(levels.get(action, default)))
    ]
    if missing:
        raise RoomCheckError(
            f"the bot {bot} has power level {has:g} in {room_id} but cannot "
            + ", ".join(missing)
            + ": raise its power level"
        )
    if ("m.room.encryption", "") in state:
        log.warning(
            "Room %s is encrypted; Knock does not encrypt, so any message it sends there "
            "arrives unencrypted",
            room_id,
        )


def power_of(user_id: str, state: dict[tuple[Any, Any], dict[str, Any]]) -> float:
    """Return a user's power level from a room's state (room creators outrank everyone)."""
    create = state.get(("m.room.create", ""), {})
    content = create.get("content", {})
    # From room version 12 on, the room's creators outrank every power level.
    if str(content.get("room_version", "1")).isdigit() and int(content["room_version"]) >= 12:
        if user_id == create.get("sender") or user_id in content.get("additional_creators", []):
            return math.inf
    levels = state.get(("m.room.power_levels", ""), {}).get("content", {})
    return float(levels.get("users", {}).get(user_id, levels.get("users_default", 0)))


def state_by_key(events: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Index state events by (type, state key)."""
    return {(e.get("type"), e.get("state_key")): e for e in events}


async def check_moderation_room(matrix: MatrixClient, room_id: str, bot: str) -> None:
    """Raise RoomCheckError unless the bot is in an unencrypted moderation room."""
    try:
        membership = await matrix.membership(room_id, bot)
    except MatrixError as exc:
        if exc.status != 403:
            raise
        membership = None
    if membership != "join":
        raise RoomCheckError(f"the bot {bot} has not joined MODERATION_ROOM_ID {room_id}")
    if await matrix.state_event(room_id, "m.room.encryption"):
        raise RoomCheckError(
            f"MODERATION_ROOM_ID {room_id} is encrypted, and Knock does not encrypt: "
            "use an unencrypted room for moderation"
        )


async def suggested_rooms(matrix: MatrixClient, space: str) -> list[str]:
    """The rooms a space marks as suggested (its `m.space.child` events with `suggested` true
    and a `via`: a child without `via` was removed from the space)."""
    rooms = []
    for event in await matrix.state(space):
        content = event.get("content") or {}
        if (
            event.get("type") == "m.space.child"
            and content.get("via")
            and content.get("suggested") is True
        ):
            rooms.append(str(event.get("state_key")))
    return sorted(rooms)


async def other_rooms(matrix: MatrixClient, door: Door) -> list[str]:
    """A space door's rooms beyond the space, which Knock invites into, kicks and bans from: those
    it lists (or the space suggests now, with `rooms = "suggested"`) and its welcome room."""
    listed = await suggested_rooms(matrix, door.room) if door.rooms == "suggested" else []
    rooms = [room for room in [*door.all_rooms(), *listed] if room != door.room]
    return list(dict.fromkeys(rooms))
