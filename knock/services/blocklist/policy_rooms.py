"""Follow Matrix moderation policy rooms: their ban rules become block-list entries."""

from __future__ import annotations

import logging

from knock.clock import Clock
from knock.core.blocklist import Entry, covers_anyone
from knock.core.policy_rules import PolicyRule, ban_rules
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.blocklist.index import CATCH_ALL
from knock.store import Store, StoredEntry
from knock.store.blocklist import NEW

log = logging.getLogger(__name__)


class PolicyRooms:
    """Read each policy room's state and make its entries in the store match its ban rules.

    A rule that would match anyone on any server (`*`, `@*:*`) is skipped, with a warning.
    """

    def __init__(
        self, room_ids: list[str], store: Store, matrix: MatrixClient, clock: Clock
    ) -> None:
        self.room_ids = room_ids
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self._refused: set[tuple[str, str]] = set()  # catch-all rules already warned about

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
                status=NEW,  # counted by the lease holder before it removes anyone
            )
            for rule in ban_rules(events)
            if not self._catch_all(room_id, rule)
        ]
        added, removed = await self.store.blocklist.replace_origin(origin, wanted, now)
        if added or removed:
            log.info("Policy room %s: %d entries added, %d removed", room_id, added, removed)
        return added, removed

    def _catch_all(self, room_id: str, rule: PolicyRule) -> bool:
        """Tell whether a rule would match anyone; say so once per room and rule."""
        if rule.hashed or not covers_anyone(Entry(rule.pattern)):
            return False
        if (room_id, rule.pattern) not in self._refused:
            self._refused.add((room_id, rule.pattern))
            log.warning(
                "Policy room %s: skipping the rule %s: it %s", room_id, rule.pattern[:64], CATCH_ALL
            )
        return True
