"""Check at start-up that the bot can do its job in the room; say in one line what is missing."""

from __future__ import annotations

import logging

from knock.matrix.client import MatrixClient, MatrixError

log = logging.getLogger(__name__)

_DEFAULT_LEVELS = {"invite": 0, "kick": 50, "ban": 50}


class RoomCheckError(Exception):
    """The bot is not in the room or lacks a power it needs; the message is one line."""


async def check_room(matrix: MatrixClient, room_id: str, bot: str) -> None:
    """Raise RoomCheckError unless the bot has joined the room with invite, kick and ban power."""
    try:
        membership = await matrix.membership(room_id, bot)
    except MatrixError as exc:
        if exc.status != 403:
            raise
        membership = None  # the homeserver hides the room from non-members
    if membership != "join":
        raise RoomCheckError(
            f"the bot {bot} has not joined NEW_ROOM_ID {room_id}: invite it there and let it join"
        )
    levels = await matrix.state_event(room_id, "m.room.power_levels") or {}
    has = int(levels.get("users", {}).get(bot, levels.get("users_default", 0)))
    missing = [
        f"{action} (needs {need})"
        for action, default in _DEFAULT_LEVELS.items()
        if has < (need := int(levels.get(action, default)))
    ]
    if missing:
        raise RoomCheckError(
            f"the bot {bot} has power level {has} in {room_id} but cannot "
            + ", ".join(missing)
            + ": raise its power level"
        )
    if await matrix.state_event(room_id, "m.room.encryption"):
        log.warning(
            "Room %s is encrypted; Knock does not encrypt, so messages it sends there would "
            "arrive unencrypted (WELCOME_MODE=dm avoids that)",
            room_id,
        )
