"""Block-list and allow-list entries, Knock's bans, and the version every process watches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, Text, and_, cast, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.store.schema import blocklist_entries, knock_bans, state_values
from knock.store.writes import upsert

VERSION_KEY = "blocklist.version"
MODERATOR = "moderator"

Writer = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


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


class BlocklistQueries:
    """Named queries over the block-list tables; every change bumps the block-list version."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def entries(self, origin: str | None = None) -> list[StoredEntry]:
        """Return every entry (of one origin, if given), oldest first."""
        query = select(blocklist_entries).order_by(blocklist_entries.c.added_at)
        if origin is not None:
            query = query.where(blocklist_entries.c.origin == origin)
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def stream(self) -> AsyncIterator[StoredEntry]:
        """Yield every entry without holding them all in a list first."""
        async with self.engine.connect() as conn:
            result = await conn.stream(select(blocklist_entries))
            async for row in result:
                yield _entry(row)

    async def version(self) -> int:
        """Return the block-list version (0 before the first change)."""
        async with self.engine.connect() as conn:
            query = select(state_values.c.value).where(state_values.c.key == VERSION_KEY)
            value = (await conn.execute(query)).scalar_one_or_none()
        return int(value) if value is not None else 0

    async def add(self, entry: StoredEntry) -> int:
        """Add an entry, or update its reason; return the block-list version it made."""
        async with self._write() as conn:
            await upsert(
                conn,
                blocklist_entries,
                _row(entry),
                ["pattern", "allow", "origin"],
                {"reason": entry.reason, "source": entry.source},
            )
            return await _bump(conn, entry.added_at)

    async def remove(self, pattern: str, allow: bool, origin: str, now: float) -> int | None:
        """Remove an entry; return the version it made, or None when there was none."""
        async with self._write() as conn:
            gone = await conn.execute(delete(blocklist_entries).where(_key(pattern, allow, origin)))
            return await _bump(conn, now) if gone.rowcount else None

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

    async def record_ban(self, user_id: str, pattern: str, now: float) -> None:
        """Remember that Knock banned `user_id` because of `pattern`."""
        async with self._write() as conn:
            await conn.execute(delete(knock_bans).where(knock_bans.c.user_id == user_id))
            await conn.execute(
                insert(knock_bans).values(user_id=user_id, pattern=pattern, banned_at=now)
            )

    async def bans_for(self, pattern: str) -> list[str]:
        """Return the users Knock banned because of `pattern`."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(knock_bans.c.user_id).where(knock_bans.c.pattern == pattern)
            )
            return [row.user_id for row in rows]

    async def forget_ban(self, user_id: str) -> None:
        """Forget a ban Knock lifted."""
        async with self._write() as conn:
            await conn.execute(delete(knock_bans).where(knock_bans.c.user_id == user_id))


def _key(pattern: str, allow: bool, origin: str) -> ColumnElement[bool]:
    c = blocklist_entries.c
    return and_(c.pattern == pattern, c.allow == int(allow), c.origin == origin)


def _row(entry: StoredEntry) -> dict[str, object]:
    return {
        "pattern": entry.pattern,
        "allow": int(entry.allow),
        "origin": entry.origin,
        "hashed": int(entry.hashed),
        "source": entry.source,
        "reason": entry.reason,
        "added_at": entry.added_at,
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
