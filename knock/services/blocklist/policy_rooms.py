"""Follow Matrix moderation policy rooms: their ban rules become block-list entries."""

from __future__ import annotations

import logging

from knock.clock import Clock
from knock.core.policy_rules import ban_rules
from knock.matrix.client import MatrixClient, MatrixError
from knock.store import Store, StoredEntry

log = logging.getLogger(__name__)


class PolicyRooms:
    """Read each policy room's state and make its entries in the store match its ban rules."""

    def __init__(
        self, room_ids: list[str], store: Store, matrix: MatrixClient, clock: Clock
    ) -> None:
        self.room_ids = room_ids
        self.store = store
        self.matrix = matrix
        self.clock = clock

    async def refresh(self) -> None:
        """Bring every policy room's entries up to date; a room that cannot be read is kept."""
        for room_id in self.room_ids:
            try:
                await self.refresh_room(room_id)
            except MatrixError as exc:
                log.warning("Cannot read policy room %s (%s); keeping its entries", room_id, exc)

    async def refresh_room(self, room_id: str) -> tuple[int, int]:
        """Mirror one room's ban rules; return how many entries were (added, removed)."""
        try:
            events = await self.matrix.state(room_id)
        except MatrixError as exc:
            if exc.status not in (403, 404):
                raise
            await self.matrix.join(room_id)  # policy rooms are usually public: join to read
            events = await self.matrix.state(room_id)
        origin = f"policy:{room_id}"
        now = self.clock.now()
        wanted = [
            StoredEntry(
                pattern=rule.pattern,
                allow=False,
                origin=origin,
                source=origin,
                reason=rule.reason,
                added_at=now,
                hashed=rule.hashed,
            )
            for rule in ban_rules(events)
        ]
        added, removed = await self.store.blocklist.replace_origin(origin, wanted, now)
        if added or removed:
            log.info("Policy room %s: %d entries added, %d removed", room_id, added, removed)
        return added, removed
