"""This process's block-list index, kept in step with the database (the source of truth)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from knock import metrics
from knock.clock import Clock
from knock.config import Settings
from knock.core import mxid
from knock.core.blocklist import (
    FOLD_VERSION,
    BlockIndex,
    Decision,
    Entry,
    Keys,
    MatchPolicy,
    NewEntry,
    Verdict,
    combine,
    covers_anyone,
    kind_of,
)
from knock.core.history import Actor
from knock.store import Store, StoredEntry
from knock.store.blocklist import (
    ACTIVE,
    DOOR,
    HELD,
    NEW,
    EntryKey,
    LoadedRow,
    moderator_origin,
)

log = logging.getLogger(__name__)


class BadPattern(ValueError):
    """A block-list entry that is neither a user id, a glob nor a server name."""


class Blocklist:
    """Match people against the block-list; add and remove entries for moderators.

    Most entries are every door's (`index`); a door's moderators may also add entries of that
    door's own (`door_indexes`), which count at that door only. The allow-list is every door's.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        fuzzy_actions: Mapping[str, Verdict] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.policy = MatchPolicy(
            fuzzy_action=settings.fuzzy_action,
            other_server_action=settings.other_server_action,
            max_distance=settings.fuzzy_max_distance[0],
            beyond=settings.fuzzy_max_distance[1],
        )
        # Each door's FUZZY_ACTION, by door: what a near miss at that door asks.
        self.fuzzy_actions = dict(fuzzy_actions or {})
        self.index = BlockIndex((), self.policy)
        self.door_indexes: dict[str, BlockIndex] = {}
        self.version = -1
        self._loading = asyncio.Lock()
        # Entries the last load found stored without this version's fold keys, and where
        # `refold` goes on from.
        self._unfolded = 0
        self._refold_after: EntryKey | None = None

    async def load(self) -> None:
        """Build the index from every stored entry, streamed from the database in batches.

        Each batch is added to the new index in a worker thread, so that the process keeps
        answering while a large list is indexed (seconds at a million entries); checks use the
        previous index meanwhile, and the whole table is never held in memory beside it. A
        change this process makes during the build lands in the previous index and, being newer
        than the version read here, makes the next `refresh_if_changed` load again.
        """
        async with self._loading:
            version = await self.store.blocklist.version()
            stored = await self.store.blocklist.count()
            log.debug("Loading the block-list: %d stored entries (version %d)", stored, version)
            build = _Build(self.policy, stored)
            with _collector_paused():
                await self.store.blocklist.each_batch(LOAD_BATCH, build.add)
            self.index, self.door_indexes = build.index, build.doors
            self.version = version
            self._unfolded, self._refold_after = build.unfolded, None
        metrics.blocklist_loaded(self.clock.now())
        log.info("Loaded the block-list: %d entries (version %d)", self.size(), version)

    async def refold(self) -> int:
        """Store the fold keys of up to REFOLD_BATCH entries stored without this version's
        (the lease holder's duty after an upgrade, while the last load found such entries, so
        that the next start need not fold them); return how many were stored."""
        if not self._unfolded:
            return 0
        queries = self.store.blocklist
        entries = await queries.unfolded(self._refold_after, REFOLD_BATCH)
        if entries and self._refold_after is None:
            log.info(
                "Storing the fold keys of %d block-list entries stored without them, %d a tick",
                self._unfolded,
                REFOLD_BATCH,
            )
        await queries.store_keys(entries)
        if len(entries) < REFOLD_BATCH:
            self._unfolded = 0
            log.info("Stored the fold keys of every block-list entry")
        else:
            self._refold_after = entries[-1][:3]
        return len(entries)

    def size(self) -> int:
        """How many entries are indexed: every door's and each door's own."""
        return len(self.index) + sum(len(index) for index in self.door_indexes.values())

    async def refresh_if_changed(self) -> bool:
        """Reload when another process (or the file, or a policy room) changed the block-list."""
        if await self.store.blocklist.version() == self.version:
            return False
        await self.load()
        return True

    def check(
        self,
        user_id: str,
        typed: str | None = None,
        display_name: str | None = None,
        *,
        door: str | None = None,
        include_held: bool = True,
    ) -> Decision:
        """Match an id (and what was typed, and a display name) against the block-list: every
        door's entries and, at a `door`, that door's own, with its FUZZY_ACTION.

        Every entry counts, held ones too, unless `include_held` is False: this is what refuses
        a knock.
        """
        fuzzy = self.fuzzy_actions.get(door) if door is not None else None
        own = self.door_indexes.get(door) if door is not None else None
        return combine(
            *(
                index.check(
                    user_id,
                    typed=typed,
                    display_name=display_name,
                    include_held=include_held,
                    fuzzy_action=fuzzy,
                )
                for index in (self.index, own)
                if index is not None
            )
        )

    def check_in_force(self, user_id: str) -> Decision:
        """Match an id against every door's entries in force: what may remove someone already
        in, from every door's rooms."""
        return self.check(user_id, include_held=False)

    def removing_door(self, user_id: str, doors: Iterable[str]) -> dict[str, str]:
        """The doors (of `doors`) whose own entries in force block `user_id`, with the entry
        that does, unless an entry of every door allows them."""
        found: dict[str, str] = {}
        for door in doors:
            if self.door_indexes.get(door):
                decision = self.check(user_id, door=door, include_held=False)
                if decision.verdict == "block":
                    found[door] = decision.matches[0].entry
        return found

    async def entries(self) -> list[StoredEntry]:
        """Return every stored entry, the block-list's and the allow-list's."""
        return await self.store.blocklist.entries()

    def entry_for(
        self, pattern: str, *, allow: bool = False, reason: str | None = None, source: str = "api"
    ) -> Entry:
        """Build an entry from what a moderator typed, or raise BadPattern saying what is wrong."""
        return Entry(normalise_pattern(pattern), source=source, reason=reason, allow=allow)

    async def add(
        self,
        entry: Entry,
        *,
        status: str = ACTIVE,
        by: Actor | None = None,
        door: str | None = None,
    ) -> StoredEntry:
        """Store an entry made by a moderator and apply it to this process at once.

        `status` is ACTIVE for an entry whose removals were counted (a block, confirmed or
        within BLOCK_CONFIRM_THRESHOLD), NEW for one still to be counted (a file, an import):
        it refuses knocks at once and removes nobody until the lease holder has counted it.
        An allow entry removes nobody and is always in force. A block in force that puts a held
        entry in force is logged as the moderator `by` confirming it. With a `door`, the entry
        is that door's own (a block only: the allow-list is every door's).
        """
        if door is not None and entry.allow:
            raise BadPattern(
                "the allow-list is every door's: a door has no allow entries of its own"
            )
        stored = StoredEntry(
            pattern=entry.pattern,
            allow=entry.allow,
            origin=moderator_origin(door),
            source=entry.source,
            reason=entry.reason,
            added_at=self.clock.now(),
            status=ACTIVE if entry.allow else status,
        )
        self._applied(await self.store.blocklist.add(stored, by=by))
        await self._reindex(entry.pattern, entry.allow, door)
        return stored

    async def hold(self, entry: Entry, *, door: str | None = None) -> bool:
        """Store a moderator's entry held: it refuses knocks and removes nobody until confirmed.

        Return True when this made it held (False: it was held, or in force, already).
        """
        if door is not None:
            # A door's entry is held at once: nothing but the moderator's confirmation counts
            # it (the lease holder counts only every door's new entries).
            origin = moderator_origin(door)
            stored = await self.store.blocklist.with_pattern(entry.pattern, entry.allow)
            known = any(e.origin == origin for e in stored)
            await self.add(entry, status=HELD, door=door)
            return not known
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

    async def remove(
        self, pattern: str, *, allow: bool = False, by: Actor | None, door: str | None = None
    ) -> bool:
        """Remove a moderator's entry (of every door's, or a `door`'s own); return False when
        there was none.

        `by` is the moderator who removes it, logged for the console's audit; None when the
        list file does.
        """
        pattern = normalise_pattern(pattern)
        now = self.clock.now()
        origin = moderator_origin(door)
        version = await self.store.blocklist.remove(pattern, allow, origin, now, by=by)
        if version is None:
            return False
        # A policy room may list the same pattern: its entry stays.
        await self._reindex(pattern, allow, door)
        self._applied(version)
        return True

    async def _reindex(self, pattern: str, allow: bool, door: str | None = None) -> None:
        """Make this process's index entry for a pattern (every door's, or a door's own) what
        the stored entries say."""
        stored = [
            e for e in await self.store.blocklist.with_pattern(pattern, allow) if e.door == door
        ]
        if door is None:
            index = self.index
        else:
            index = self.door_indexes.setdefault(door, BlockIndex((), self.policy))
        if not stored:
            index.remove(pattern, allow=allow)
            return
        # In force when any origin's entry is; the first in force (or the first) is shown.
        shown = next((e for e in stored if not e.held), stored[0])
        index.add(entry_of(shown))

    def _applied(self, version: int) -> None:
        """Note our own change, so that it does not cost this process a full reload.

        Only when nobody else changed the list in between; otherwise the next
        `refresh_if_changed` reloads, as it must.
        """
        if version == self.version + 1:
            self.version = version


# Rows read from the database and indexed at a time while loading.
LOAD_BATCH = 20_000
# Entries whose fold keys the lease holder stores at a tick, after an upgrade: a million in
# about seven minutes, each tick's write a few tens of milliseconds.
REFOLD_BATCH = 5_000


class _Build:
    """A new index being built from stored rows, batch by batch (in a worker thread).

    One index entry per pattern and side, in force when any origin's entry is; a door's own
    entries go to that door's index.
    """

    def __init__(self, policy: MatchPolicy, expected: int) -> None:
        self.policy = policy
        self.index = BlockIndex((), policy)
        self.index.reserve(expected)  # sized once, not regrown (and copied) as it fills
        self.doors: dict[str, BlockIndex] = {}
        self.unfolded = 0  # rows stored without this version's fold keys
        # Sources and reasons seen, each kept once (a million "api"s were 50 MB).
        self.shared: dict[str, str] = {}

    def add(self, rows: Sequence[LoadedRow]) -> None:
        # Each index's entries new in this batch, with their kinds and stored keys, filed
        # together: every door's (under None), then each door's own.
        main: _Batch = {}
        fresh: dict[str | None, tuple[BlockIndex, _Batch]] = {None: (self.index, main)}
        shared = self.shared
        for pattern, allow, origin, source, reason, hashed, status, name, fuzzy, folded in rows:
            # Each row's text is a string of its own: one copy of each source and reason.
            source = shared.setdefault(source, source)
            if reason is not None and len(shared) < SHARED_TEXTS:
                reason = shared.setdefault(reason, reason)
            keys: Keys | None = None
            if folded != FOLD_VERSION:
                self.unfolded += 1
            elif name is not None:
                keys = (name, fuzzy if fuzzy is not None else name)
            if origin.startswith(DOOR):
                index, batch = self._door(origin[len(DOOR) :], fresh)
            else:
                index, batch = self.index, main
            allowed, held = bool(allow), status != ACTIVE
            key = (pattern, allowed)
            pending = batch.get(key)
            if pending is not None:
                known_held: bool | None = pending[5]
            else:
                known = index.get(pattern, allow=allowed)
                known_held = None if known is None else known.held
            if known_held is not None and not (known_held and not held):
                continue
            kind = kind_of(pattern, bool(hashed))
            entry = (pattern, source, reason, allowed, bool(hashed), held, kind, keys)
            if kind not in ("user", "hash") and _catch_all(Entry(*entry[:6])):
                continue
            if known_held is None or pending is not None:
                batch[key] = entry
            else:  # in force where an earlier batch's was held
                index.add(Entry(*entry[:6]))
        for index, batch in fresh.values():
            index.add_new(list(batch.values()))

    def _door(
        self, door: str, fresh: dict[str | None, tuple[BlockIndex, _Batch]]
    ) -> tuple[BlockIndex, _Batch]:
        """A door's own index, and its entries new in this batch."""
        mine = fresh.get(door)
        if mine is None:
            index = self.doors.get(door)
            if index is None:
                index = self.doors[door] = BlockIndex((), self.policy)
            mine = fresh[door] = (index, {})
        return mine


# Reasons are shared until this many distinct texts are seen; past it, a list of free-text
# reasons keeps each as it is (sources are few, and always shared).
SHARED_TEXTS = 10_000

# A load's batch for one index: (pattern, allow) -> the entry, as add_new takes it.
_Batch = dict[tuple[str, bool], NewEntry]


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


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a load builds the index: its full passes walk
    every object the build has made so far, again and again as it grows (a quarter of a
    million-entry build). A few seconds of the rest of the process's cyclic garbage waits."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
