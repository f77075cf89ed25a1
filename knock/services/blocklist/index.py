"""This process's block-list index, kept in step with the database (the source of truth)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from knock import metrics
from knock.clock import Clock
from knock.config import Settings
from knock.core import mxid
from knock.core.blocklist import BlockIndex, Decision, Entry, MatchPolicy, covers_anyone
from knock.core.history import Actor
from knock.store import Store, StoredEntry
from knock.store.blocklist import ACTIVE, MODERATOR, NEW

log = logging.getLogger(__name__)


class BadPattern(ValueError):
    """A block-list entry that is neither a user id, a glob nor a server name."""


class Blocklist:
    """Match people against the block-list; add and remove entries for moderators."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.policy = MatchPolicy(
            fuzzy_action=settings.fuzzy_action,
            other_server_action=settings.other_server_action,
            max_distance=settings.fuzzy_max_distance[0],
            beyond=settings.fuzzy_max_distance[1],
        )
        self.index = BlockIndex((), self.policy)
        self.version = -1
        self._loading = asyncio.Lock()

    async def load(self) -> None:
        """Build the index from every stored entry.

        The build runs in a thread, so that the process keeps answering while a large list is
        indexed (tens of seconds at a million entries); checks use the previous index meanwhile.
        A change this process makes during the build lands in the previous index and, being newer
        than the version read here, makes the next `refresh_if_changed` load again.
        """
        async with self._loading:
            version = await self.store.blocklist.version()
            # One index entry per pattern and side, in force when any origin's entry is.
            merged: dict[tuple[str, bool], Entry] = {}
            async for stored in self.store.blocklist.stream():
                entry = entry_of(stored)
                known = merged.get((entry.pattern, entry.allow))
                if known is None or (known.held and not entry.held):
                    merged[(entry.pattern, entry.allow)] = entry
            entries = [entry for entry in merged.values() if not _catch_all(entry)]
            self.index = await asyncio.to_thread(BlockIndex, entries, self.policy)
            self.version = version
        metrics.blocklist_loaded(self.clock.now())
        log.info("Loaded the block-list: %d entries (version %d)", len(self.index), version)

    async def refresh_if_changed(self) -> bool:
        """Reload when another process (or the file, or a policy room) changed the block-list."""
        if await self.store.blocklist.version() == self.version:
            return False
        await self.load()
        return True

    def check(
        self, user_id: str, typed: str | None = None, display_name: str | None = None
    ) -> Decision:
        """Match an id (and what was typed, and a display name) against the block-list.

        Every entry counts, held ones too: this is what refuses a knock.
        """
        return self.index.check(user_id, typed=typed, display_name=display_name)

    def check_in_force(self, user_id: str) -> Decision:
        """Match an id against the entries in force only: what may remove someone already in."""
        return self.index.check(user_id, include_held=False)

    async def entries(self) -> list[StoredEntry]:
        """Return every stored entry, the block-list's and the allow-list's."""
        return await self.store.blocklist.entries()

    def entry_for(
        self, pattern: str, *, allow: bool = False, reason: str | None = None, source: str = "api"
    ) -> Entry:
        """Build an entry from what a moderator typed, or raise BadPattern saying what is wrong."""
        return Entry(normalise_pattern(pattern), source=source, reason=reason, allow=allow)

    async def add(
        self, entry: Entry, *, status: str = ACTIVE, by: Actor | None = None
    ) -> StoredEntry:
        """Store an entry made by a moderator and apply it to this process at once.

        `status` is ACTIVE for an entry whose removals were counted (a block, confirmed or
        within BLOCK_CONFIRM_THRESHOLD), NEW for one still to be counted (a file, an import):
        it refuses knocks at once and removes nobody until the lease holder has counted it.
        An allow entry removes nobody and is always in force. A block in force that puts a held
        entry in force is logged as the moderator `by` confirming it.
        """
        stored = StoredEntry(
            pattern=entry.pattern,
            allow=entry.allow,
            origin=MODERATOR,
            source=entry.source,
            reason=entry.reason,
            added_at=self.clock.now(),
            status=ACTIVE if entry.allow else status,
        )
        self._applied(await self.store.blocklist.add(stored, by=by))
        await self._reindex(entry.pattern, entry.allow)
        return stored

    async def hold(self, entry: Entry) -> bool:
        """Store a moderator's entry held: it refuses knocks and removes nobody until confirmed.

        Return True when this made it held (False: it was held, or in force, already).
        """
        await self.add(entry, status=NEW)
        version = await self.store.blocklist.hold(entry.pattern, self.clock.now())
        if version is None:
            return False
        self._applied(version)
        return True

    async def put_in_force(self, counted: list[StoredEntry]) -> None:
        """Put new entries whose removals were counted in force (every origin's)."""
        if not counted:
            return
        self._applied(
            await self.store.blocklist.settle([e.pattern for e in counted], self.clock.now())
        )
        for stored in counted:
            self.index.add(entry_of(replace(stored, status=ACTIVE)))

    async def hold_new(self, pattern: str) -> bool:
        """Hold the new entries with this pattern; return False when they were held already."""
        version = await self.store.blocklist.hold(pattern, self.clock.now())
        if version is None:
            return False
        self._applied(version)  # they were held in the index already, as new entries
        return True

    async def remove(self, pattern: str, *, allow: bool = False, by: Actor | None) -> bool:
        """Remove a moderator's entry; return False when there was none.

        `by` is the moderator who removes it, logged for the console's audit; None when the
        list file does.
        """
        pattern = normalise_pattern(pattern)
        now = self.clock.now()
        version = await self.store.blocklist.remove(pattern, allow, MODERATOR, now, by=by)
        if version is None:
            return False
        # A policy room may list the same pattern: its entry stays.
        await self._reindex(pattern, allow)
        self._applied(version)
        return True

    async def _reindex(self, pattern: str, allow: bool) -> None:
        """Make this process's index entry for a pattern what the stored entries say."""
        stored = await self.store.blocklist.with_pattern(pattern, allow)
        if not stored:
            self.index.remove(pattern, allow=allow)
            return
        # In force when any origin's entry is; the first in force (or the first) is shown.
        shown = next((e for e in stored if not e.held), stored[0])
        self.index.add(entry_of(shown))

    def _applied(self, version: int) -> None:
        """Note our own change, so that it does not cost this process a full reload.

        Only when nobody else changed the list in between; otherwise the next
        `refresh_if_changed` reloads, as it must.
        """
        if version == self.version + 1:
            self.version = version


CATCH_ALL = (
    "would match anyone on any server; name a server instead, "
    "like @*:evil.example or @spam*:evil.example"
)


def normalise_pattern(pattern: str) -> str:
    """Check a moderator's pattern: a user id, a user glob (`@spam*:*`) or a server (glob).

    A catch-all (a pattern covering arbitrary ids on unrelated servers, such as `*` or `@*:*`)
    is refused: it would remove everyone.
    """
    text = pattern.strip()
    if not text or any(ch.isspace() for ch in text) or len(text) > 255:
        raise BadPattern("an entry is a Matrix ID, a pattern like @spam*:* or a server name")
    if "*" in text or "?" in text:
        local, colon, server = text.partition(":")
        if text.startswith("@") and not (colon and server and len(local) > 1):
            raise BadPattern("a user pattern needs a server part, like @spam*:* or @*:evil.example")
        if covers_anyone(Entry(text)):
            raise BadPattern(f"{text[:64]} {CATCH_ALL}")
        return text
    if text.startswith("@") or ":" in text:
        try:
            user_id, _ = mxid.parse(text, "")
        except mxid.InvalidMatrixId as exc:
            raise BadPattern(f"not a valid Matrix ID: {exc.reason}") from None
        return user_id
    if not mxid.is_valid(f"@x:{text.lower()}"):
        raise BadPattern(f"{text[:64]!r} is not a valid server name")
    return text.lower()


def _catch_all(entry: Entry) -> bool:
    """Tell whether a stored entry would match anyone (stored before such entries were refused)."""
    if entry.hashed or not covers_anyone(entry):
        return False
    log.warning(
        "Not loading the %s entry %s (from %s): it %s; unblock it",
        "allow-list" if entry.allow else "block-list",
        entry.pattern[:64],
        entry.source,
        CATCH_ALL,
    )
    return True


def entry_of(stored: StoredEntry) -> Entry:
    """The index entry for a stored entry."""
    return Entry(
        stored.pattern,
        source=stored.source,
        reason=stored.reason,
        allow=stored.allow,
        hashed=stored.hashed,
        held=stored.held,
    )
