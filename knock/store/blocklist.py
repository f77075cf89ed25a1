"""Block-list and allow-list entries, Knock's bans, and the version every process watches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.core.blocklist import FOLD_VERSION, Entry, stored_keys
from knock.core.history import Actor, Change, ModeratorAction, entry_note
from knock.store.schema import blocklist_entries, room_bans, state_values
from knock.store.writes import add_action, upsert

VERSION_KEY = "blocklist.version"
MODERATOR = "moderator"
# The origin of a door's own entries, "door:<name>": moderators of that door added them, and
# they refuse knocks and remove people at that door only. Every other origin is every door's.
DOOR = "door:"
# An entry's status (see the migration that added it): in force; not yet counted; held until a
# moderator confirms it. Only entries in force remove people; all three refuse knocks.
ACTIVE, NEW, HELD = "active", "new", "held"

Writer = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
ThreadRead = Callable[..., Any]  # Store._read_in_thread
# A stored entry as `batches` yields it: pattern, allow, origin, source, reason, hashed, status,
# then its fold keys as stored (see `fold_columns`): name_key, fuzzy_key, folded.
LoadedRow = tuple[str, int, str, str, str | None, int, str, str | None, str | None, int | None]
# An entry's primary key: pattern, allow, origin.
EntryKey = tuple[str, int, str]


@dataclass(frozen=True)
class StoredEntry:
    """One block-list or allow-list entry as stored."""

    pattern: str
    allow: bool
    origin: str  # "moderator", or "policy:<room id>"
    source: str  # who made it, as shown: "api:admin", "cli", "file", "policy:<room id>"
    reason: str | None
    added_at: float
    hashed: bool = False
    status: str = ACTIVE  # ACTIVE, NEW or HELD

    @property
    def held(self) -> bool:
        """Tell whether the entry removes nobody yet (not counted, or waiting for a moderator)."""
        return self.status != ACTIVE

    @property
    def door(self) -> str | None:
        """The door the entry belongs to, or None for an entry of every door."""
        return self.origin[len(DOOR) :] if self.origin.startswith(DOOR) else None


def moderator_origin(door: str | None = None) -> str:
    """The origin of a moderator's entry: every door's (None), or one door's own."""
    return MODERATOR if door is None else DOOR + door


def _every_door() -> ColumnElement[bool]:
    """The entries every door shares (not one door's own)."""
    return ~blocklist_entries.c.origin.startswith(DOOR, autoescape=True)


class BlocklistQueries:
    """Named queries over the block-list tables; every change bumps the block-list version."""

    def __init__(
        self, engine: AsyncEngine, write: Writer, read_in_thread: ThreadRead | None = None
    ) -> None:
        self.engine = engine
        self._write = write
        # SQLite: run a synchronous read on the store's own synchronous engine, in this thread.
        self._read_in_thread = read_in_thread

    async def entries(self, origin: str | None = None) -> list[StoredEntry]:
        """Return every entry (of one origin, if given), oldest first."""
        query = select(blocklist_entries).order_by(blocklist_entries.c.added_at)
        if origin is not None:
            query = query.where(blocklist_entries.c.origin == origin)
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def each_batch(self, size: int, handle: Callable[[Sequence[LoadedRow]], None]) -> None:
        """Call `handle` in a worker thread with every entry as plain rows, `size` at a time.

        On SQLite the rows are read in that thread too, straight from the driver: at a million
        entries, 1.4 s instead of 2.5 s through the asynchronous engine, and none of it on the
        event loop's thread.
        """
        if self._read_in_thread is None:
            async for rows in self.batches(size):
                await asyncio.to_thread(handle, rows)
            return
        await asyncio.to_thread(self._read_in_thread, _each_batch, size, handle)

    async def batches(self, size: int) -> AsyncIterator[Sequence[LoadedRow]]:
        """Yield every entry as plain rows, `size` at a time, never the whole table at once.

        Rows, not StoredEntry objects: a million of them are turned into index entries by the
        caller (in a worker thread), and a row costs a fraction of an object.
        """
        async with self.engine.connect() as conn:
            result = await conn.stream(_LOAD.execution_options(yield_per=size))
            async for rows in result.partitions(size):
                yield rows

    async def unfolded(self, after: EntryKey | None, limit: int) -> list[tuple[str, int, str, int]]:
        """Up to `limit` entries stored without the keys of this version's folding (stored
        before, or by a process of another version), in key order after `after`: (pattern,
        allow, origin, hashed)."""
        c = blocklist_entries.c
        query = (
            select(c.pattern, c.allow, c.origin, c.hashed)
            .where(or_(c.folded.is_(None), c.folded != FOLD_VERSION))
            .order_by(c.pattern, c.allow, c.origin)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(c.pattern, c.allow, c.origin) > tuple_(*after))
        async with self.engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(query)]

    async def store_keys(self, entries: Iterable[tuple[str, int, str, int]]) -> int:
        """Store the fold keys of entries `unfolded` found; return how many were stored.

        Keys are made from the pattern, which the entry's key holds: an entry removed or
        changed meanwhile is still right, and the block-list version does not move.
        """
        rows = await asyncio.to_thread(_keyed, list(entries))  # folding is CPU: off the loop
        if rows:
            async with self._write() as conn:
                await conn.execute(_STORE_KEYS, rows)
        return len(rows)

    async def count(self) -> int:
        """How many entries are stored, of every origin and both lists."""
        async with self.engine.connect() as conn:
            query = select(func.count()).select_from(blocklist_entries)
            return int((await conn.execute(query)).scalar_one())

    async def moderator_lines(self, allow: bool) -> list[tuple[str, str | None]]:
        """Every moderator's entry of every door on one list, as (pattern, reason), oldest
        first: what the list file mirrors, without building an object per entry."""
        c = blocklist_entries.c
        query = (
            select(c.pattern, c.reason)
            .where(c.origin == MODERATOR, c.allow == int(allow))
            .order_by(c.added_at)
        )
        async with self.engine.connect() as conn:
            # All at once: a million rows one by one took the event loop a second.
            return [tuple(row) for row in (await conn.execute(query)).all()]

    async def version(self) -> int:
        """Return the block-list version (0 before the first change)."""
        async with self.engine.connect() as conn:
            query = select(state_values.c.value).where(state_values.c.key == VERSION_KEY)
            value = (await conn.execute(query)).scalar_one_or_none()
        return int(value) if value is not None else 0

    async def add(self, entry: StoredEntry, *, by: Actor | None = None) -> int:
        """Add an entry, or update its reason; return the block-list version it made.

        A status never goes back: an entry added again as new keeps its status. An entry added
        in force (a moderator's block, confirmed or within the threshold) puts the pattern in
        force whatever its origin; when that puts a held entry in force, the moderator `by` is
        logged as confirming it, in the same transaction.
        """
        c = blocklist_entries.c
        row = _row(entry)
        changes: dict[str, object] = {"reason": entry.reason, "source": entry.source}
        changes |= {column: row[column] for column in ("name_key", "fuzzy_key", "folded")}
        if entry.status == ACTIVE:
            changes["status"] = ACTIVE
        async with self._write() as conn:
            if by is not None and entry.status == ACTIVE and not entry.allow:
                await _log_confirmation(conn, entry, by)
            await upsert(conn, blocklist_entries, row, ["pattern", "allow", "origin"], changes)
            if entry.status == ACTIVE and not entry.allow:
                # A block in force puts the pattern in force for whom it is: every door's
                # entries (every origin's) for an entry of every door, its own for a door's.
                scope = _every_door() if entry.door is None else c.origin == entry.origin
                await conn.execute(
                    update(blocklist_entries)
                    .where(c.pattern == entry.pattern, c.allow == 0, c.status != ACTIVE, scope)
                    .values(status=ACTIVE)
                )
            return await _bump(conn, entry.added_at)

    async def unreviewed(self, limit: int) -> list[StoredEntry]:
        """Return block-list entries not yet counted (status NEW), oldest first."""
        c = blocklist_entries.c
        query = (
            select(blocklist_entries)
            .where(c.status == NEW, c.allow == 0, _every_door())
            .order_by(c.added_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def settle(self, patterns: Iterable[str], now: float) -> int:
        """Put the new entries with these patterns in force (every origin's); return the version."""
        c = blocklist_entries.c
        rows = [{"wanted": pattern} for pattern in patterns]
        statement = (
            update(blocklist_entries)
            .where(c.pattern == bindparam("wanted"), c.allow == 0, c.status == NEW, _every_door())
            .values(status=ACTIVE)
        )
        async with self._write() as conn:
            if rows:
                await conn.execute(statement, rows)
            return await _bump(conn, now)

    async def hold(self, pattern: str, now: float) -> int | None:
        """Hold the new entries with this pattern; return the version, None when none was new."""
        c = blocklist_entries.c
        async with self._write() as conn:
            held = await conn.execute(
                update(blocklist_entries)
                .where(c.pattern == pattern, c.allow == 0, c.status == NEW, _every_door())
                .values(status=HELD)
            )
            return await _bump(conn, now) if held.rowcount else None

    async def remove(
        self, pattern: str, allow: bool, origin: str, now: float, *, by: Actor | None = None
    ) -> int | None:
        """Remove an entry; return the version it made, or None when there was none.

        The moderator `by` is logged as removing it (with who added it, and why) in the same
        transaction.
        """
        key = _key(pattern, allow, origin)
        async with self._write() as conn:
            removed = (await conn.execute(select(blocklist_entries).where(key))).first()
            gone = await conn.execute(delete(blocklist_entries).where(key))
            if not gone.rowcount:
                return None
            if by is not None and removed is not None:
                change = Change.UNALLOW if allow else Change.UNBLOCK
                note = entry_note(removed.source, removed.reason, allow=allow)
                await add_action(conn, ModeratorAction(change, by, pattern, note), now)
            return await _bump(conn, now)

    async def with_pattern(self, pattern: str, allow: bool) -> list[StoredEntry]:
        """Return the entries of every origin with this pattern."""
        query = select(blocklist_entries).where(
            blocklist_entries.c.pattern == pattern, blocklist_entries.c.allow == int(allow)
        )
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def replace_origin(
        self, origin: str, wanted: Iterable[StoredEntry], now: float
    ) -> tuple[int, int]:
        """Make the entries of one origin exactly `wanted`; return (added, removed)."""
        wanted_by_key = {(e.pattern, e.allow): e for e in wanted}
        async with self._write() as conn:
            rows = await conn.execute(
                select(blocklist_entries).where(blocklist_entries.c.origin == origin)
            )
            have = {(row.pattern, bool(row.allow)) for row in rows}
            stale = have - wanted_by_key.keys()
            fresh = [wanted_by_key[key] for key in wanted_by_key.keys() - have]
            for pattern, allow in stale:
                await conn.execute(delete(blocklist_entries).where(_key(pattern, allow, origin)))
            if fresh:
                await conn.execute(insert(blocklist_entries), [_row(e) for e in fresh])
            if stale or fresh:
                await _bump(conn, now)
        return len(fresh), len(stale)

    async def record_ban(self, user_id: str, room: str, pattern: str, now: float) -> None:
        """Remember that Knock banned `user_id` from `room` because of `pattern`."""
        key = (room_bans.c.user_id == user_id, room_bans.c.room == room)
        async with self._write() as conn:
            await conn.execute(delete(room_bans).where(*key))
            await conn.execute(
                insert(room_bans).values(user_id=user_id, room=room, pattern=pattern, banned_at=now)
            )

    async def bans_for(self, pattern: str) -> list[tuple[str, str]]:
        """Return (user, room) of the bans Knock placed because of `pattern` (room "*": a ban
        remembered before bans had rooms)."""
        async with self.engine.connect() as conn:
            query = select(room_bans.c.user_id, room_bans.c.room).where(
                room_bans.c.pattern == pattern
            )
            return [(row.user_id, row.room) for row in await conn.execute(query)]

    async def forget_ban(self, user_id: str, room: str) -> None:
        """Forget a ban Knock lifted."""
        key = (room_bans.c.user_id == user_id, room_bans.c.room == room)
        async with self._write() as conn:
            await conn.execute(delete(room_bans).where(*key))


async def _log_confirmation(conn: AsyncConnection, entry: StoredEntry, by: Actor) -> None:
    """Log `by` confirming the held entry (of any origin) with the pattern of `entry`, if any."""
    c = blocklist_entries.c
    scope = _every_door() if entry.door is None else c.origin == entry.origin
    query = (
        select(c.source, c.reason)
        .where(c.pattern == entry.pattern, c.allow == 0, c.status == HELD, scope)
        # A moderator's own entry first: it is the one the page shows.
        .order_by((c.origin != MODERATOR).asc(), c.origin)
        .limit(1)
    )
    held = (await conn.execute(query)).first()
    if held is not None:
        note = entry_note(held.source, held.reason, allow=False)
        action = ModeratorAction(Change.CONFIRM_BLOCK, by, entry.pattern, note)
        await add_action(conn, action, entry.added_at)


def _key(pattern: str, allow: bool, origin: str) -> ColumnElement[bool]:
    c = blocklist_entries.c
    return and_(c.pattern == pattern, c.allow == int(allow), c.origin == origin)


_c = blocklist_entries.c
# What a load reads of each entry (a LoadedRow).
_LOAD = select(
    _c.pattern,
    _c.allow,
    _c.origin,
    _c.source,
    _c.reason,
    _c.hashed,
    _c.status,
    _c.name_key,
    _c.fuzzy_key,
    _c.folded,
)


def _each_batch(conn: Connection, size: int, handle: Callable[[Sequence[LoadedRow]], None]) -> None:
    """`each_batch` on a synchronous connection: one statement (one snapshot), read through
    the driver's own cursor, whose rows are plain tuples."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(_LOAD.compile(conn)))
        while rows := cursor.fetchmany(size):
            handle(rows)
    finally:
        cursor.close()


def fold_columns(pattern: str, hashed: bool) -> tuple[str | None, str | None, int]:
    """An entry's stored fold keys: name_key, fuzzy_key (None when the same as name_key) and
    the folding's version. Entries that are not user ids have no keys, and the version."""
    keys = stored_keys(Entry(pattern, hashed=hashed))
    if keys is None:
        return None, None, FOLD_VERSION
    name, fuzzy = keys
    return name, fuzzy if fuzzy != name else None, FOLD_VERSION


def _keyed(entries: list[tuple[str, int, str, int]]) -> list[dict[str, object]]:
    """`_STORE_KEYS`'s parameters for each (pattern, allow, origin, hashed)."""
    rows: list[dict[str, object]] = []
    for pattern, allow, origin, hashed in entries:
        name_key, fuzzy_key, folded = fold_columns(pattern, bool(hashed))
        rows.append(
            {
                "b_pattern": pattern,
                "b_allow": allow,
                "b_origin": origin,
                "b_name_key": name_key,
                "b_fuzzy_key": fuzzy_key,
                "b_folded": folded,
            }
        )
    return rows


_STORE_KEYS = (
    update(blocklist_entries)
    .where(
        blocklist_entries.c.pattern == bindparam("b_pattern"),
        blocklist_entries.c.allow == bindparam("b_allow"),
        blocklist_entries.c.origin == bindparam("b_origin"),
    )
    .values(
        name_key=bindparam("b_name_key"),
        fuzzy_key=bindparam("b_fuzzy_key"),
        folded=bindparam("b_folded"),
    )
)


def _row(entry: StoredEntry) -> dict[str, object]:
    name_key, fuzzy_key, folded = fold_columns(entry.pattern, entry.hashed)
    return {
        "pattern": entry.pattern,
        "allow": int(entry.allow),
        "origin": entry.origin,
        "hashed": int(entry.hashed),
        "source": entry.source,
        "reason": entry.reason,
        "added_at": entry.added_at,
        "status": entry.status,
        "name_key": name_key,
        "fuzzy_key": fuzzy_key,
        "folded": folded,
    }


def _entry(row: object) -> StoredEntry:
    m = row._mapping  # type: ignore[attr-defined]
    return StoredEntry(
        pattern=m["pattern"],
        allow=bool(m["allow"]),
        origin=m["origin"],
        source=m["source"],
        reason=m["reason"],
        added_at=m["added_at"],
        hashed=bool(m["hashed"]),
        status=m["status"],
    )


async def _bump(conn: AsyncConnection, now: float) -> int:
    """Count one more change of the block-list; return the new version."""
    # One statement, so concurrent writers never lose an increment.
    value = state_values.c.value
    bumped = await upsert(
        conn,
        state_values,
        {"key": VERSION_KEY, "value": "1", "updated_at": now},
        ["key"],
        {"value": cast(cast(value, Integer) + 1, Text), "updated_at": now},
        returning=value,
    )
    return int(bumped.scalar_one())
