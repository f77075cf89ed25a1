"""What Knock tells moderators unprompted: a line in the log, and a post in the moderation room.

Posts carry `m.mentions: {}`: the ids they quote ping nobody.
"""

from __future__ import annotations

import json
import logging

from knock.config import Settings
from knock.doors import Door
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.homeserver.link import HomeserverLink

log = logging.getLogger(__name__)

SAMPLE = 5  # ids quoted in a notice; the rest are counted


class Notices:
    """Say something to moderators: always in the log, and in the moderation room when ready."""

    def __init__(self, settings: Settings, matrix: MatrixClient, link: HomeserverLink) -> None:
        self.settings = settings
        self.matrix = matrix
        self.link = link

    async def say(
        self, text: str, *, post: bool = True, txn_id: str | None = None, door: Door | None = None
    ) -> None:
        """Log `text`, and post it to the moderation room (unless `post` is False): `door`'s own,
        else the main one."""
        log.warning("%s", text)
        room = (door.settings if door is not None else self.settings).moderation_room_id
        if not post or room is None or not self.link.room_ready(room):
            return
        try:
            await self.matrix.send_message(room, text, mentions=[], txn_id=txn_id)
        except MatrixError as exc:  # the log line above has said it
            log.warning("Could not post to the moderation room %s: %s", room, exc)

    async def held(
        self, pattern: str, source: str, covered: list[str], *, post: bool = True
    ) -> None:
        """Announce a block-list entry held for confirmation, with the count and a sample."""
        await self.say(held_text(pattern, source, covered, self.settings), post=post)


def held_text(pattern: str, source: str, covered: list[str], settings: Settings) -> str:
    """Say that an entry is held: whom it would remove, and how a moderator confirms it."""
    body = json.dumps({"user_id": pattern, "confirm": True})
    ways = f"POST /block_user {body}, or knock block '{pattern}' --confirm"
    if settings.moderation_room_id:
        ways = f"!block {pattern} confirm in the moderation room, {ways}"
    return (
        f"Held {pattern} (from {source}): {would_remove(covered, settings)}. "
        f"New knocks it covers are refused; nobody is removed until a moderator confirms it: "
        f"{ways}."
    )


def would_remove(covered: list[str], settings: Settings) -> str:
    """`it would remove 12 members, more than BLOCK_CONFIRM_THRESHOLD (10): @a, ... and 7 more`."""
    return (
        f"it would remove {len(covered)} members, more than BLOCK_CONFIRM_THRESHOLD "
        f"({settings.block_confirm_threshold}): {sample(covered)}"
    )


def sample(user_ids: list[str]) -> str:
    """The first few ids, sorted, and how many more."""
    shown = sorted(user_ids)[:SAMPLE]
    more = len(user_ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")
