"""The live view of the room: one /sync loop, resumed from its stored token after a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from knock.clock import Clock
from knock.core.retry import backoff_delay
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError, RateLimited
from knock.services.errors import Unavailable
from knock.services.homeserver.link import HomeserverLink
from knock.services.invites.membership import MembershipFollower
from knock.services.moderation.moderators import Moderators
from knock.services.moderation.room import ModerationRoom
from knock.store import UNAVAILABLE, Store

log = logging.getLogger(__name__)

SINCE_KEY = "sync.since"
LONG_POLL_MS = 25_000  # under LEASE_TTL, so the leader renews its lease between polls
STAND_BY = 2.0  # seconds between looks at the lease while another process leads


# Events that may change whether the bot can do its job in a room.
READINESS_TYPES = ("m.room.power_levels", "m.room.encryption")


def sync_filter(room_ids: list[str], moderation_rooms: list[str] | None = None) -> dict[str, Any]:
    """Ask only for membership and power changes in the doors' rooms (and the moderation
    rooms' messages)."""
    nothing = {"not_types": ["*"]}
    moderation = [room for room in moderation_rooms or [] if room not in room_ids]
    rooms = [*room_ids, *moderation]
    types = ["m.room.member", *READINESS_TYPES]
    if moderation_rooms:
        types += ["m.room.message", "m.reaction"]
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "rooms": rooms,
            "timeline": {"types": types, "limit": 100},
            "state": {"types": ["m.room.member", *READINESS_TYPES]},
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


class LiveView:
    """Feed the doors' rooms' membership changes to the follower as they happen."""

    def __init__(
        self,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        *,
        room_ids: list[str],
        follower: MembershipFollower,
        moderation_rooms: Mapping[str, ModerationRoom],
        moderators: list[Moderators],
        link: HomeserverLink,
    ) -> None:
        self.clock = clock
        self.store = store
        self.matrix = matrix
        self.follower = follower
        self.room_ids = room_ids  # every door's room, the default door's first
        self.moderation_rooms = moderation_rooms  # by room id
        self.moderators = moderators  # one per rule room: each keeps its room's power levels
        self.link = link

    async def run(self, leading: Callable[[], bool]) -> None:
        """Follow the room while this process leads the background work; stand by otherwise."""
        failures = 0
        while True:
            if not leading():
                await asyncio.sleep(STAND_BY)
                continue
            try:
                await self.run_once()
                failures = 0
            except Exception as exc:
                failures += 1
                delay = backoff_delay(failures, base=1.0, cap=60.0)
                # An outage is said once by the homeserver client; other failures here.
                level = logging.DEBUG if isinstance(exc, HomeserverUnavailable) else logging.WARNING
                log.log(level, "The sync loop failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)

    async def run_once(self, timeout_ms: int = LONG_POLL_MS) -> int:
        """Wait for (at most `timeout_ms`) and handle one batch; return the changes seen."""
        since = await self.store.get_value(SINCE_KEY)
        # The first sync only takes a starting point: the periodic scans reconcile the past.
        body = await self.matrix.sync(
            since,
            timeout_ms if since else 0,
            sync_filter(self.room_ids, list(self.moderation_rooms)),
        )
        seen = 0
        joined = body.get("rooms", {}).get("join", {})
        if since:
            self._note_readiness_changes(joined)
        # The moderators' rooms (even on the first sync, whose state gives their power levels).
        for moderators in self.moderators:
            rule_room = joined.get(moderators.room_id, {})
            events = rule_room.get("state", {}).get("events", [])
            events += rule_room.get("timeline", {}).get("events", [])
            if events:
                await moderators.followed(moderators.room_id, events, first=not since)
        for room_id, moderation_room in self.moderation_rooms.items() if since else ():
            for event in joined.get(room_id, {}).get("timeline", {}).get("events", []):
                await self._handle(room_id, event, moderation_room.handle)
        if since:
            rooms = {room_id: joined[room_id] for room_id in self.room_ids if room_id in joined}
            if any(room.get("timeline", {}).get("limited") for room in rooms.values()):
                log.info("The sync timeline was cut short; re-reading the rooms' members")
                await self.follower.check_invites()
            for room_id, room in rooms.items():
                events = room.get("state", {}).get("events", [])
                events += room.get("timeline", {}).get("events", [])
                for event in events:
                    if event.get("type") == "m.room.member" and "state_key" in event:
                        await self._handle(
                            room_id, event, partial(self._membership_changed, room_id)
                        )
                        seen += 1
        await self.store.set_value(SINCE_KEY, str(body["next_batch"]), self.clock.now())
        return seen

    def _note_readiness_changes(self, joined: dict[str, Any]) -> None:
        """Have the rooms checked again when their power levels or the bot's membership change."""
        for room_id in self.link.watched_rooms():
            room = joined.get(room_id, {})
            events = room.get("state", {}).get("events", [])
            events += room.get("timeline", {}).get("events", [])
            if any(_changes_readiness(event, self.link.account.user_id) for event in events):
                self.link.room_changed(room_id)

    async def _handle(
        self,
        room_id: str,
        event: dict[str, Any],
        handler: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """Handle one event. One that cannot be handled is logged and skipped, so that it does
        not hold back the events after it; an outage stops the batch, to be retried whole."""
        try:
            await handler(event)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.exception(
                "Skipped event %s (%s) in %s: handling it failed",
                event.get("event_id"),
                event.get("type"),
                room_id,
            )

    async def _membership_changed(self, room_id: str, event: dict[str, Any]) -> None:
        membership = str(event.get("content", {}).get("membership", ""))
        await self.follower.membership_changed(
            event["state_key"],
            membership,
            str(event.get("sender", "")),
            event.get("event_id"),
            room_id=room_id,
        )


def _changes_readiness(event: dict[str, Any], bot: str) -> bool:
    kind = event.get("type")
    return kind in READINESS_TYPES or (kind == "m.room.member" and event.get("state_key") == bot)


def is_outage(exc: Exception) -> bool:
    """Tell whether a failure means the homeserver or the database is down for now, rather than
    that one event cannot be handled.

    An outage must not cost an event: the batch is retried, `since` unchanged. Anything else
    would fail the same way on every retry, so it is the event's alone. A bare OSError counts
    as the database's (PostgreSQL's driver raises one when the server cannot be reached); no
    event handler touches a file. Of the homeserver's refusals, only a 5xx, a rate limit and a
    token it no longer takes pass with time; a 403 or 404 to one request would come back.
    """
    if isinstance(exc, (Unavailable, HomeserverUnavailable, RateLimited, *UNAVAILABLE)):
        return True
    return isinstance(exc, MatrixError) and (exc.status >= 500 or exc.status == 401)
