"""The console's records: its sessions, and the counts its overview shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.store.blocklist import Writer
from knock.store.schema import console_sessions, jobs, knocks


@dataclass(frozen=True)
class RecentError:
    """A recent failure moderators should see: a job being retried, or a knock that failed."""

    at: float
    knock_id: str | None
    what: str  # the job's kind, or "failed" for a knock given up on
    detail: str


@dataclass(frozen=True)
class StoredSession:
    """One console session as stored."""

    actor: str
    csrf: str
    key_mark: str
    expires_at: float


class ConsoleQueries:
    """Named queries for the console."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def add_session(self, token_hash: str, session: StoredSession, now: float) -> None:
        """Keep a new session."""
        async with self._write() as conn:
            await conn.execute(
                insert(console_sessions).values(
                    token_hash=token_hash,
                    actor=session.actor,
                    csrf=session.csrf,
                    key_mark=session.key_mark,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )

    async def session(self, token_hash: str) -> StoredSession | None:
        """Return a session by its token's hash (expired or not: the caller decides)."""
        c = console_sessions.c
        query = select(c.actor, c.csrf, c.key_mark, c.expires_at).where(c.token_hash == token_hash)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return StoredSession(row.actor, row.csrf, row.key_mark, row.expires_at)

    async def end_session(self, token_hash: str) -> None:
        """Forget a session (sign out)."""
        async with self._write() as conn:
            await conn.execute(
                delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
            )

    async def forget_sessions(self, now: float) -> int:
        """Forget expired sessions; return how many."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(console_sessions).where(console_sessions.c.expires_at < now)
            )
            return int(result.rowcount)

    async def counts_by_state(self, since: float, door: str) -> dict[str, int]:
        """Count a door's knocks received since `since`, by their state now."""
        query = (
            select(knocks.c.state, func.count())
            .where(knocks.c.received_at >= since, knocks.c.door == door)
            .group_by(knocks.c.state)
        )
        async with self.engine.connect() as conn:
            return {state: int(count) for state, count in await conn.execute(query)}

    async def count_in(self, state: str, door: str) -> int:
        """Count a door's knocks in one state now (the review queue's size, say)."""
        query = select(func.count()).where(knocks.c.state == state, knocks.c.door == door)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def recent_errors(self, limit: int = 10) -> list[RecentError]:
        """Jobs waiting for a retry after an error, and knocks that failed: newest first."""
        j, k = jobs.c, knocks.c
        retrying = (
            select(j.created_at, j.knock_id, j.kind, j.last_error, j.attempts)
            .where(j.last_error.is_not(None))
            .order_by(j.id.desc())
            .limit(limit)
        )
        failed = (
            select(k.updated_at, k.knock_id, k.reason)
            .where(k.state == "failed")
            .order_by(k.updated_at.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            errors = [
                RecentError(
                    row.created_at, row.knock_id, row.kind, f"{row.last_error} (try {row.attempts})"
                )
                for row in await conn.execute(retrying)
            ]
            errors += [
                RecentError(row.updated_at, row.knock_id, "failed", row.reason or "")
                for row in await conn.execute(failed)
            ]
        return sorted(errors, key=lambda error: error.at, reverse=True)[:limit]
