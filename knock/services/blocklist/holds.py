"""Count whom each new block-list entry would remove before it removes anyone.

Entries from the file, an import or a policy room arrive new: they refuse knocks at once and
remove nobody. The lease holder counts the members each covers; one within
BLOCK_CONFIRM_THRESHOLD is put in force (the next scan removes whom it covers), one beyond it is
held until a moderator confirms it, and announced once, with the count and a sample.
"""

from __future__ import annotations

import asyncio
import logging

from knock.config import Settings
from knock.core.blocklist import BlockIndex
from knock.matrix.client import MatrixClient
from knock.services.blocklist.index import Blocklist, entry_of
from knock.services.homeserver.account import BotAccount
from knock.services.moderation.notices import Notices

log = logging.getLogger(__name__)

# New entries counted in one go: a policy list of a million entries is counted in a few ticks.
REVIEW_BATCH = 200_000
_IN_A_THREAD = 1000  # entries from which the count's index is built off the event loop


class Holds:
    """Put new entries in force, or hold them, by how many members each would remove."""

    def __init__(
        self,
        settings: Settings,
        matrix: MatrixClient,
        *,
        blocklist: Blocklist,
        account: BotAccount,
        notices: Notices,
        rooms: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.matrix = matrix
        self.blocklist = blocklist
        self.account = account
        self.notices = notices
        self.rooms = rooms or [settings.new_room_id]  # every door's room

    async def review(self) -> int:
        """Count the new entries; return how many were put in force."""
        new = await self.blocklist.store.blocklist.unreviewed(REVIEW_BATCH)
        if not new:
            return 0
        joined: set[str] = set()
        for room_id in self.rooms:
            joined.update(await self.matrix.members(room_id, "join"))
        members = [user_id for user_id in sorted(joined) if not self.account.is_bot(user_id)]
        by_pattern = {stored.pattern: stored for stored in new}
        entries = [entry_of(stored) for stored in by_pattern.values()]
        if len(entries) >= _IN_A_THREAD:
            index = await asyncio.to_thread(BlockIndex, entries, self.blocklist.policy)
        else:
            index = BlockIndex(entries, self.blocklist.policy)
        covered: dict[str, list[str]] = {pattern: [] for pattern in by_pattern}
        for user_id in members:
            for entry in index.covering(user_id):
                covered[entry.pattern].append(user_id)
        threshold = self.settings.block_confirm_threshold
        over = {pattern for pattern, users in covered.items() if len(users) > threshold}
        counted = [stored for pattern, stored in by_pattern.items() if pattern not in over]
        await self.blocklist.put_in_force(counted)
        for pattern in sorted(over):
            if await self.blocklist.hold_new(pattern):
                await self.notices.held(pattern, by_pattern[pattern].source, covered[pattern])
        if counted:
            log.info("%d new block-list entries counted and put in force", len(counted))
        return len(counted)
