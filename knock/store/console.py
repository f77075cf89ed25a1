"""The console's records: its sessions, its sign-in links, and the counts its overview shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.core.jobs import JobKind
from knock.core.limits import Rate, window_retry_after
from knock.store.blocklist import Writer
from knock.store.schema import console_sessions, jobs, knocks, sign_in_links
from knock.store.writes import job_row


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


@dataclass(frozen=True)
class LinkRequest:
    """A sign-in link asked for, as its job finds it."""

    link_id: int
    user_id: str
    requested_at: float


@dataclass(frozen=True)
class Asked:
    """What became of a request for a sign-in link."""

    queued: bool  # a job will look at the account (False: its own limit was reached)
    retry_after: float | None = None  # the address's limit was reached: nothing was kept


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

    async def recent_errors(self, limit: int = 10, door: str | None = None) -> list[RecentError]:
        """Jobs waiting for a retry after an error, and knocks that failed: newest first.

        With `door`: the jobs and failed knocks of that door's knocks, and the jobs about no knock
        (a sign-in link's, say), which are every door's.
        """
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
        if door is not None:
            at_door = select(k.knock_id).where(k.door == door)
            retrying = retrying.where(or_(j.knock_id.is_(None), j.knock_id.in_(at_door)))
            failed = failed.where(k.door == door)
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

    # Sign-in links.

    async def ask_for_link(
        self,
        user_id: str,
        address: str,
        now: float,
        *,
        per_address: Rate | None,
        per_user: Rate | None,
    ) -> Asked:
        """Keep a request for a sign-in link and queue its job, within the limits.

        Past the address's limit nothing is kept (the caller answers 429). Past the account's,
        the request is kept (it still counts against the address) but no job is queued: a
        flood aimed at one moderator sends them nothing more.
        """
        c = sign_in_links.c
        async with self._write() as conn:
            if per_address is not None:
                count, oldest = await _in_window(conn, c.address == address, per_address, now)
                if count >= per_address.count:
                    return Asked(False, window_retry_after(oldest, per_address, now))
            queued = True
            if per_user is not None:
                count, _ = await _in_window(conn, c.user_id == user_id, per_user, now)
                queued = count < per_user.count
            job_id = None
            if queued:
                added = insert(jobs).values(job_row(JobKind.SIGN_IN_LINK, None, now))
                job_id = (await conn.execute(added.returning(jobs.c.id))).scalar_one()
            await conn.execute(
                insert(sign_in_links).values(
                    user_id=user_id, address=address, job_id=job_id, requested_at=now
                )
            )
        return Asked(queued)

    async def link_request(self, job_id: int) -> LinkRequest | None:
        """The request a sign-in link job is for (None: forgotten since).

        SQLite may give a finished job's id to a new job: the newest request with the id is
        the running job's, as it was kept after every older job of that id was done.
        """
        c = sign_in_links.c
        query = (
            select(c.id, c.user_id, c.requested_at)
            .where(c.job_id == job_id)
            .order_by(c.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else LinkRequest(row.id, row.user_id, row.requested_at)

    async def link_made(self, link_id: int, token_hash: str, expires_at: float) -> None:
        """Keep the hash of the link made for a request (a retried job's new link replaces it)."""
        async with self._write() as conn:
            await conn.execute(
                update(sign_in_links)
                .where(sign_in_links.c.id == link_id)
                .values(token_hash=token_hash, expires_at=expires_at)
            )

    async def usable_link(self, token_hash: str, now: float) -> str | None:
        """The account a link would sign in, if it is unused and unexpired; it is not used up."""
        c = sign_in_links.c
        query = select(c.user_id).where(
            c.token_hash == token_hash, c.used_at.is_(None), c.expires_at > now
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def use_link(self, token_hash: str, now: float) -> str | None:
        """Use a link up and return the account it signs in; None if used, expired or unknown.

        One statement: of two posts of the same link, one wins.
        """
        c = sign_in_links.c
        use = (
            update(sign_in_links)
            .where(c.token_hash == token_hash, c.used_at.is_(None), c.expires_at > now)
            .values(used_at=now)
            .returning(c.user_id)
        )
        async with self._write() as conn:
            user_id: str | None = (await conn.execute(use)).scalar_one_or_none()
        return user_id

    async def forget_links(self, before: float) -> int:
        """Forget requests for links made before `before`; return how many."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(sign_in_links).where(sign_in_links.c.requested_at < before)
            )
            return int(result.rowcount)

    async def end_sessions_of(self, actor: str) -> int:
        """End every session of one moderator; return how many."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(console_sessions).where(console_sessions.c.actor == actor)
            )
            return int(result.rowcount)


async def _in_window(
    conn: AsyncConnection, subject: object, rate: Rate, now: float
) -> tuple[int, float | None]:
    """How many link requests of a subject fall in the rate's window, and the oldest's time."""
    c = sign_in_links.c
    query = select(func.count(), func.min(c.requested_at)).where(
        subject,  # type: ignore[arg-type]
        c.requested_at > now - rate.seconds,
    )
    count, oldest = (await conn.execute(query)).one()
    return int(count), oldest
