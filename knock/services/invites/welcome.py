"""Messages to the people Knock let in: a welcome when they join, a reminder when they dawdle."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from knock import metrics
from knock.clock import Clock
from knock.config import Settings
from knock.core.history import KNOCK, Actor, HistoryLine
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import Event
from knock.doors import Door, default_door, door_of
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.homeserver.direct import DirectChats
from knock.store import Store


class Welcomer:
    """Send each person one welcome and at most one reminder; a retried send lands once."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        chats: DirectChats,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.chats = chats
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}

    async def welcome(self, knock: KnockRecord) -> None:
        """Welcome someone who joined, once: a retried send reuses its transaction id."""
        if await self._already(knock, Event.WELCOMED):
            return
        door = door_of(self.doors, knock.door)
        name = await self._display_name(knock.user_id)
        body, formatted = mention(door.settings.welcome_message, knock.user_id, name)
        room = door.join_room
        if self.settings.welcome_mode == "dm":
            room = await self.chats.room_with(knock.user_id)
        await self.matrix.send_message(
            room, body, formatted, mentions=[knock.user_id], txn_id=f"welcome-{knock.knock_id}"
        )
        await self._record(knock, Event.WELCOMED)
        metrics.person_welcomed(knock.door, self.clock.now() - knock.updated_at)  # joined then

    async def remind(self, knock: KnockRecord, actor: Actor = KNOCK) -> bool:
        """Send one reminder about a pending invite, by direct message; False if sent before.

        `actor` is who asked for it: Knock when REMINDER_AFTER passed, or a moderator.
        """
        if await self._already(knock, Event.REMINDED):
            return False
        door = door_of(self.doors, knock.door)
        name = await self._display_name(knock.user_id)
        body, formatted = mention(door.settings.reminder_message, knock.user_id, name)
        room = await self.chats.room_with(knock.user_id)
        await self.matrix.send_message(
            room, body, formatted, mentions=[knock.user_id], txn_id=f"remind-{knock.knock_id}"
        )
        await self._record(knock, Event.REMINDED, actor)
        return True

    async def _already(self, knock: KnockRecord, event: Event) -> bool:
        history = await self.store.history(knock.knock_id)
        return any(entry.event == event for entry in history)

    async def _record(self, knock: KnockRecord, event: Event, actor: Actor = KNOCK) -> None:
        await self.store.add_history(knock.knock_id, [HistoryLine(event, actor)], self.clock.now())

    async def _display_name(self, user_id: str) -> str:
        try:
            profile = await self.matrix.profile(user_id)
        except MatrixError:
            return user_id
        name = profile.get("displayname")
        return name if isinstance(name, str) and name.strip() else user_id


def mention(template: str, user_id: str, name: str) -> tuple[str, str]:
    """Fill a message template, as plain text and as HTML with a proper mention pill."""
    link = f'<a href="https://matrix.to/#/{html.escape(user_id)}">{html.escape(name)}</a>'
    values: dict[str, Any] = {"user_id": user_id, "display_name": name}
    try:
        body = template.format(**values)
        formatted = html.escape(template).format(user_id=html.escape(user_id), display_name=link)
    except (KeyError, IndexError, ValueError):
        body = template  # a template with other braces is sent as written
        formatted = html.escape(template)
    return body, formatted
