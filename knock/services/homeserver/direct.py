"""The bot's direct chats: one per person, found again through its `m.direct` account data."""

from __future__ import annotations

import asyncio

from knock.matrix.client import MatrixClient
from knock.services.homeserver.account import BotAccount

DM_ROOMS = "m.direct"


class DirectChats:
    """Find or make the bot's one direct chat with a person (welcomes, reminders, sign-in links)."""

    def __init__(self, matrix: MatrixClient, account: BotAccount) -> None:
        self.matrix = matrix
        self.account = account
        # `m.direct` is read, changed and written whole: one change at a time in this process.
        self._lock = asyncio.Lock()

    async def room_with(self, user_id: str) -> str:
        """Return the bot's direct chat with a person, creating it (once) when there is none."""
        async with self._lock:
            direct = await self.matrix.account_data(self.account.user_id, DM_ROOMS)
            rooms = direct.get(user_id)
            if isinstance(rooms, list) and rooms:
                return str(rooms[0])
            room_id = await self.matrix.create_direct_room(user_id)
            direct[user_id] = [room_id]
            await self.matrix.set_account_data(self.account.user_id, DM_ROOMS, direct)
            return room_id
