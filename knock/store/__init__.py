"""Knock's database: knocks with their history, durable jobs, and a few stored values."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import SecretStr
from sqlalchemy import Engine, and_, case, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.core.admission_state import AdmissionWork
from knock.core.history import HistoryEntry, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import CLOSED, Event, State, sources_of
from knock.metrics import knock_entered, knock_invited
from knock.store import steps
from knock.store.admission import Admitted, forget_hits_before, run_admission
from knock.store.audit import AuditQueries
from knock.store.blocklist import BlocklistQueries, StoredEntry
from knock.store.console import ConsoleQueries
from knock.store.doors import DoorQueries
from knock.store.engine import cannot_open_database, make_engine, make_sqlite_thread_engine
from knock.store.migrate import migrate
from knock.store.pages import PageQueries
from knock.store.profiles import ProfileQueries
from knock.store.records import Job, knock_from_row
from knock.store.schema import (
    jobs,
    knock_events,
    knock_pages,
    knocks,
    leases,
    pacing,
    review_posts,
    state_values,
)
from knock.store.search import SearchQueries
from knock.store.writes import add_history, history_rows, job_row, upsert

__all__ = [
    "DATABASE_BUSY",
    "UNAVAILABLE",
    "Job",
    "Store",
    "StoredEntry",
    "cannot_open_database",
]

T = TypeVar("T")
R = TypeVar("R")

# Errors that mean the database cannot be reached or is busy right now (as opposed to a bug):
# a caller may answer "retry later" and lose nothing.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, OSError)
# The same, but only what the database driver raises (an OSError may also come from a file).
DATABASE_BUSY = (OperationalError, InterfaceError, PoolTimeout)


class Store:
    """Named queries over one engine; every method is one short transaction."""

    def __init__(self, engine: AsyncEngine, thread_engine: Engine | None = None) -> None:
        self.engine = engine
        # SQLite: admission runs whole in a worker thread, on its own synchronous engine.
        self._thread_engine = thread_engine
        # SQLite has one writer at a time. Queueing this process's writers here is much faster
        # than letting them collide and sleep in SQLite's busy handler; other processes still
        # wait through busy_timeout.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self.blocklist = BlocklistQueries(
            engine, self._write, self._read_in_thread if thread_engine is not None else None
        )
        self.pages = PageQueries(engine, self._write)
        self.console = ConsoleQueries(engine, self._write)
        self.search = SearchQueries(engine)
        self.profiles = ProfileQueries(engine, self._write)
        self.doors = DoorQueries(engine, self._write)
        self.audit = AuditQueries(engine, self._write)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """Open a write transaction, committed when the block ends."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            # IMMEDIATE takes the write lock before the first read, so a transaction that reads
            # then writes (a count, then an insert) cannot deadlock with another process's.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    @classmethod
    async def open(
        cls, url: str | SecretStr, *, synchronous: str = "NORMAL", timeout: float = 5.0
    ) -> Store:
        """Connect and bring the schema up to date (a SQLite file is created with mode 0600)."""
        url = url.get_secret_value() if isinstance(url, SecretStr) else url
        engine = make_engine(url, synchronous=synchronous, timeout=timeout)
        await migrate(engine)
        thread_engine = None
        if engine.dialect.name == "sqlite":
            thread_engine = make_sqlite_thread_engine(url, synchronous=synchronous, timeout=timeout)
        return cls(engine, thread_engine)

    async def close(self) -> None:
        """Release every connection."""
        await self.engine.dispose()
        if self._thread_engine is not None:
            self._thread_engine.dispose()

    async def checkpoint(self) -> None:
        """Copy what the SQLite WAL holds back into the database file, without waiting for
        readers or writers (a passive checkpoint), off the request path; nothing on PostgreSQL.

        The hot path's transactions leave this to the duty tick of every process (see
        `make_sqlite_thread_engine`), which keeps the WAL short. A checkpoint another connection
        is making meanwhile is left to finish it.
        """
        if self._thread_engine is None:
            return
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except DATABASE_BUSY:
            pass

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # Stored values (the homeserver token, the IP hashing key, ...).

    async def get_value(self, key: str) -> str | None:
        """Return a stored value, or None."""
        async with self.engine.connect() as conn:
            query = select(state_values.c.value).where(state_values.c.key == key)
            return (await conn.execute(query)).scalar_one_or_none()

    async def set_value(self, key: str, value: str, now: float) -> None:
        """Store a value, replacing any earlier one."""
        async with self._write() as conn:
            row = {"key": key, "value": value, "updated_at": now}
            await upsert(conn, state_values, row, ["key"], {"value": value, "updated_at": now})

    async def delete_value(self, key: str) -> None:
        """Forget a stored value (nothing happens when there is none)."""
        async with self._write() as conn:
            await conn.execute(delete(state_values).where(state_values.c.key == key))

    async def admit(self, work: AdmissionWork[T], now: float) -> T:
        """Run admission's `work` in one transaction: load its snapshot, decide, save.

        The whole transaction is one hand-off to the database's thread.
        """
        admitted: Admitted[T] = await self._at_once(run_admission, work, now)
        for entered in admitted.entered:  # committed
            knock_entered(*entered)
        return admitted.result

    async def _at_once(self, transaction: Callable[..., R], *args: Any) -> R:
        """Run a synchronous `transaction(conn, *args)` as one write transaction, in one hand-off:
        on SQLite to the thread of its own synchronous engine (in this process's writers' queue),
        on PostgreSQL by `run_sync`. For the hot paths: one hop instead of one per statement."""
        if self._thread_engine is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(transaction, *args)
        assert self._write_lock is not None
        async with self._write_lock:
            return await asyncio.to_thread(self._in_thread, transaction, *args)

    async def _read_at_once(self, read: Callable[..., R], *args: Any) -> R:
        """Run a synchronous `read(conn, *args)` in one hand-off, as `_at_once` does, but as a
        read: on SQLite it takes no write lock and waits for no writer."""
        if self._thread_engine is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(read, *args)
        return await asyncio.to_thread(self._read_in_thread, read, *args)

    def _read_in_thread(self, read: Callable[..., R], *args: Any) -> R:
        assert self._thread_engine is not None
        with self._thread_engine.connect() as conn:
            return read(conn, *args)

    def _in_thread(self, transaction: Callable[..., R], *args: Any) -> R:
        assert self._thread_engine is not None
        with self._thread_engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = transaction(conn, *args)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return result

    async def forget_hits(self, before: float) -> int:
        """Erase admission's counts older than any window; return how many."""
        async with self._write() as conn:
            return await conn.run_sync(forget_hits_before, before)

    async def add_value_once(self, key: str, value: str, now: float) -> str:
        """Store `value` unless the key exists; return whichever value is stored."""
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(state_values).values(key=key, value=value, updated_at=now)
                )
            return value
        except IntegrityError:
            stored = await self.get_value(key)
            assert stored is not None
            return stored

    # Leases: singleton work runs on exactly one process, the holder.

    async def take_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the lease `name`; return whether `holder` holds it now."""
        if await self._at_once(steps.renew_lease, name, holder, now, ttl):
            return True
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(leases).values(name=name, holder=holder, expires_at=now + ttl)
                )
            return True
        except IntegrityError:
            return False  # another process holds it

    async def lease_held(self, name: str, now: float) -> bool:
        """Tell whether some process holds the lease `name` now."""
        query = select(leases.c.expires_at).where(leases.c.name == name)
        async with self.engine.connect() as conn:
            expires_at = (await conn.execute(query)).scalar_one_or_none()
        return expires_at is not None and float(expires_at) >= now

    async def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up so another process may take it at once."""
        async with self._write() as conn:
            await conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )

    # Pacing: REQUEST_DELAY spaces the bot account's calls across every process.

    async def reserve_call(self, name: str, now: float, delay: float) -> float:
        """Reserve the next free moment to call the homeserver as `name`; return it."""
        c = pacing.c
        start = case((c.next_at > now, c.next_at), else_=now)
        async with self._write() as conn:
            row = (
                await conn.execute(
                    update(pacing)
                    .where(c.name == name)
                    .values(next_at=start + delay)
                    .returning(c.next_at)
                )
            ).first()
        return float(row.next_at) - delay if row else now

    async def hold_calls(self, name: str, until: float) -> None:
        """Let no call go out as `name` before `until` (a rate limit)."""
        async with self._write() as conn:
            await conn.execute(
                update(pacing)
                .where(pacing.c.name == name, pacing.c.next_at < until)
                .values(next_at=until)
            )

    # Knocks.

    async def knock_by_submission(self, submission_key: str) -> KnockRecord | None:
        """Return the knock a platform submission made, if any."""
        return await self._one_knock(knocks.c.submission_key == submission_key)

    async def get_knock(self, knock_id: str) -> KnockRecord | None:
        """Return one knock, or None."""
        return await self._one_knock(knocks.c.knock_id == knock_id)

    async def child_rooms(self, knock_id: str) -> list[str]:
        """The child rooms a space door's knock was invited into, as its history says."""
        return [
            line.detail
            for line in await self.history(knock_id)
            if line.event == Event.INVITED_TO_ROOM and line.detail
        ]

    async def latest_knock(
        self, user_id: str, states: Iterable[State], *, door: str | None = None
    ) -> KnockRecord | None:
        """Return the newest knock for a person in one of `states` (at one door, if given)."""
        condition = and_(knocks.c.user_id == user_id, knocks.c.state.in_([s.value for s in states]))
        if door is not None:
            condition = and_(condition, knocks.c.door == door)
        return await self._one_knock(condition)

    async def knocks_in(
        self, states: Iterable[State], limit: int = 1000, *, door: str | None = None
    ) -> list[KnockRecord]:
        """Return knocks in the given states (through one door, if given), oldest first."""
        query = (
            select(knocks)
            .where(knocks.c.state.in_([s.value for s in states]))
            .order_by(knocks.c.received_at)
            .limit(limit)
        )
        if door is not None:
            query = query.where(knocks.c.door == door)
        async with self.engine.connect() as conn:
            return [knock_from_row(row) for row in await conn.execute(query)]

    async def list_knocks(
        self,
        *,
        state: State | None = None,
        user_id: str | None = None,
        reason: str | None = None,
        door: str | None = None,
        limit: int = 100,
    ) -> list[KnockRecord]:
        """Return knocks newest first, optionally of one state, person, reason or door."""
        query = select(knocks).order_by(knocks.c.received_at.desc()).limit(limit)
        if door is not None:
            query = query.where(knocks.c.door == door)
        if state is not None:
            query = query.where(knocks.c.state == state.value)
        if user_id is not None:
            query = query.where(knocks.c.user_id == user_id)
        if reason is not None:
            query = query.where(knocks.c.reason == reason)
        async with self.engine.connect() as conn:
            return [knock_from_row(row) for row in await conn.execute(query)]

    async def count_knocks(self, state: State, reason: str, *, door: str | None = None) -> int:
        """Count the knocks in one state with one reason (at one door, if given)."""
        query = select(func.count()).where(knocks.c.state == state.value, knocks.c.reason == reason)
        if door is not None:
            query = query.where(knocks.c.door == door)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def answers_of(self, knock_id: str) -> dict[str, str] | None:
        """Return a knock's form answers (None when none were kept: STORE_FORM_ANSWERS)."""
        query = select(knocks.c.answers).where(knocks.c.knock_id == knock_id)
        async with self.engine.connect() as conn:
            stored = (await conn.execute(query)).scalar_one_or_none()
        if stored is None:
            return None
        try:
            answers = json.loads(stored)
        except ValueError:
            answers = None
        if not isinstance(answers, dict):  # cut mid-object by an older version: shown as kept
            return {"Answers (as stored)": stored}
        return {str(key): str(value) for key, value in answers.items()}

    async def history(self, knock_id: str) -> list[HistoryEntry]:
        """Return a knock's audit log, oldest first."""
        query = (
            select(knock_events)
            .where(knock_events.c.knock_id == knock_id)
            .order_by(knock_events.c.id)
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [HistoryEntry(r.at, r.event, r.actor, r.detail) for r in rows]

    async def move(
        self,
        knock_id: str,
        target: State,
        *,
        reason: str | None,
        history: Sequence[HistoryLine],
        now: float,
        invited_at: float | None = None,
        job_kind: JobKind | None = None,
        finish: Job | None = None,
        child_rooms: Sequence[str] = (),
    ) -> bool:
        """Move a knock to `target` if the state machine allows it from where it is now.

        Return False, changing nothing, when another worker moved it first. `finish` completes
        the job that made the move, in the same transaction; `child_rooms` queues a child
        invite for each (a space door's invite).
        """
        allowed = [state.value for state in sources_of(target)]
        values: dict[str, object] = {"state": target.value, "reason": reason, "updated_at": now}
        if invited_at is not None:
            values["invited_at"] = invited_at
        new_jobs = [job_row(job_kind, knock_id, now)] if job_kind is not None else []
        new_jobs += [job_row(JobKind.CHILD_INVITE, knock_id, now, room) for room in child_rooms]
        moved = await self._at_once(
            steps.move,
            knock_id,
            values,
            allowed,
            history_rows(knock_id, history, now),
            new_jobs,
            finish,
        )
        if moved is None:
            return False
        door, received_at = moved
        knock_entered(door, target.value, reason)
        if target is State.INVITED:
            knock_invited(door, now - received_at)
        return True

    async def rename_queued(
        self, knock_id: str, user_id: str, history: Sequence[HistoryLine], now: float
    ) -> bool:
        """Change the Matrix ID of a queued knock (the id found at invite time); False if moved."""
        async with self._write() as conn:
            changed = await conn.execute(
                update(knocks)
                .where(knocks.c.knock_id == knock_id, knocks.c.state == State.QUEUED.value)
                .values(user_id=user_id, updated_at=now)
            )
            if changed.rowcount == 0:
                return False
            await add_history(conn, knock_id, history, now)
        return True

    async def add_history(self, knock_id: str, history: Sequence[HistoryLine], now: float) -> None:
        """Append lines to a knock's history without changing its state."""
        async with self._write() as conn:
            await add_history(conn, knock_id, history, now)

    async def purge_closed(self, before: float) -> int:
        """Erase closed knocks last changed before `before`; return how many."""
        closed = [state.value for state in CLOSED]
        async with self._write() as conn:
            old = select(knocks.c.knock_id).where(
                knocks.c.state.in_(closed), knocks.c.updated_at < before
            )
            await conn.execute(delete(knock_events).where(knock_events.c.knock_id.in_(old)))
            await conn.execute(delete(jobs).where(jobs.c.knock_id.in_(old)))
            await conn.execute(delete(review_posts).where(review_posts.c.knock_id.in_(old)))
            await conn.execute(delete(knock_pages).where(knock_pages.c.knock_id.in_(old)))
            result = await conn.execute(delete(knocks).where(knocks.c.knock_id.in_(old)))
            return int(result.rowcount)

    # Review posts: what the moderation room posted for a knock held for review.

    async def add_review_post(self, event_id: str, knock_id: str) -> None:
        """Remember that the moderation room's post `event_id` announced `knock_id`."""
        async with self._write() as conn:
            row = {"event_id": event_id, "knock_id": knock_id}
            await upsert(conn, review_posts, row, ["event_id"], {"knock_id": knock_id})

    async def knock_for_review_post(self, event_id: str) -> str | None:
        """Return the knock a post announced, or None (not a review post, or the knock erased)."""
        query = select(review_posts.c.knock_id).where(review_posts.c.event_id == event_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def _one_knock(self, condition: object) -> KnockRecord | None:
        query = select(knocks).where(condition).order_by(knocks.c.received_at.desc()).limit(1)  # type: ignore[arg-type]
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return knock_from_row(row) if row else None

    # Jobs.

    async def claim_job(
        self,
        worker: str,
        now: float,
        lease: float,
        *,
        kinds: Iterable[JobKind] | None = None,
        held_doors: Iterable[str] = (),
    ) -> Job | None:
        """Lease the oldest due job (of `kinds`, if given) to `worker`, or None when none is due.

        Invites of knocks through `held_doors` (doors whose room is not ready) wait, unclaimed.

        The job comes with its knock as it was before the claim. A kind that attempts an invite
        also marks the knock, in the claim's transaction (see `JobKind.attempts_invite`).
        """
        names = None if kinds is None else sorted(kind.value for kind in kinds)
        return await self._at_once(steps.claim, worker, now, lease, names, sorted(held_doors))

    async def extend_lease(self, job_id: int, worker: str, until: float) -> bool:
        """Keep a running job leased to its worker; return False if another worker took it."""
        async with self._write() as conn:
            changed = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == worker)
                .values(locked_until=until)
            )
        return bool(changed.rowcount)

    async def finish_job(self, job_id: int, worker: str) -> None:
        """Delete a job its worker has completed."""
        async with self._write() as conn:
            await conn.execute(delete(jobs).where(jobs.c.id == job_id, jobs.c.locked_by == worker))

    async def retry_job(self, job_id: int, worker: str, run_at: float, error: str) -> None:
        """Release a job to be tried again at `run_at`."""
        async with self._write() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == worker)
                .values(run_at=run_at, locked_by=None, locked_until=None, last_error=error[:500])
            )

    async def next_job_at(
        self, kinds: Iterable[JobKind] | None = None, held_doors: Iterable[str] = ()
    ) -> float | None:
        """Return when the next job (of `kinds`, not an invite at `held_doors`) falls due or
        its lease runs out, if any."""
        names = None if kinds is None else sorted(kind.value for kind in kinds)
        return await self._read_at_once(steps.next_job_at, names, sorted(held_doors))

    async def job_backlog(self) -> list[tuple[str, int, float]]:
        """Return how many jobs of each kind wait or run, and when the oldest was made."""
        query = select(jobs.c.kind, func.count(), func.min(jobs.c.created_at)).group_by(jobs.c.kind)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [(str(kind), int(count), float(oldest)) for kind, count, oldest in rows]

    async def count_jobs(self) -> int:
        """Return how many jobs wait or run."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(jobs))).scalar_one())
