"""What the door counts — window hits, back-off strikes, waiting knocks — read and written in one
transaction with the knock itself, so that every process on the database sees the same counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from knock.core import guard
from knock.core.guard import Strikes
from knock.core.lifecycle import Event, State
from knock.store.records import NewKnock
from knock.store.schema import guard_hits, jobs, knock_events, knocks, state_values, strikes
from knock.store.writes import (
    HistoryLine,
    add_history,
    add_job,
    history_rows,
    job_row,
    knock_row,
)

# Knocks that nobody has acted on yet: a second knock from the same person is a duplicate.
WAITING = (State.QUEUED.value, State.REVIEW.value, State.DEFERRED.value)


class DoorTransaction:
    """Named queries on one open write transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def hits(self, scope: str, subject: str, since: float) -> tuple[int, float | None]:
        """Return how many hits the subject has since `since`, and the oldest of them."""
        c = guard_hits.c
        query = select(func.count(), func.min(c.at)).where(
            c.scope == scope, c.subject == subject, c.at > since
        )
        count, oldest = (await self.conn.execute(query)).one()
        return int(count), oldest

    async def add_hits(self, hits: Iterable[tuple[str, str]], at: float) -> None:
        """Count one event for each (scope, subject)."""
        rows = [{"scope": scope, "subject": subject, "at": at} for scope, subject in hits]
        if rows:
            await self.conn.execute(insert(guard_hits), rows)

    async def strikes(self, subject: str) -> Strikes | None:
        """Return a subject's back-off record."""
        row = (await self.conn.execute(select(strikes).where(strikes.c.subject == subject))).first()
        if row is None:
            return None
        m = row._mapping  # `row.count` would be the tuple method, not the column
        return Strikes(m["count"], m["last_at"], m["locked_until"])

    async def put_strikes(self, subject: str, record: Strikes) -> None:
        """Store a subject's back-off record."""
        values = {
            "count": record.count,
            "last_at": record.last_at,
            "locked_until": record.locked_until,
        }
        changed = await self.conn.execute(
            update(strikes).where(strikes.c.subject == subject).values(**values)
        )
        if changed.rowcount == 0:
            await self.conn.execute(insert(strikes).values(subject=subject, **values))

    async def strike(self, subject: str, now: float, base: float, cap: float, reset: float) -> None:
        """Add a back-off strike to a subject (`user:<id>` or `ip:<hash>`)."""
        record = guard.strike(await self.strikes(subject), now, base, cap, reset)
        await self.put_strikes(subject, record)

    async def value(self, key: str) -> str | None:
        """Read a stored value within the transaction."""
        query = select(state_values.c.value).where(state_values.c.key == key)
        return (await self.conn.execute(query)).scalar_one_or_none()

    async def set_value(self, key: str, value: str | None, now: float) -> None:
        """Write (or, with None, delete) a stored value within the transaction."""
        await self.conn.execute(delete(state_values).where(state_values.c.key == key))
        if value is not None:
            await self.conn.execute(
                insert(state_values).values(key=key, value=value, updated_at=now)
            )

    async def oldest_in(self, state: State, limit: int) -> list[str]:
        """Return the ids of the oldest knocks in one state, in arrival order."""
        query = (
            select(knocks.c.knock_id)
            .where(knocks.c.state == state.value)
            .order_by(knocks.c.received_at, knocks.c.knock_id)
            .limit(limit)
        )
        return [row.knock_id for row in await self.conn.execute(query)]

    async def release(self, knock_id: str, now: float, job_kind: str) -> bool:
        """Move a deferred knock to the queue, with its invite job."""
        changed = await self.conn.execute(
            update(knocks)
            .where(knocks.c.knock_id == knock_id, knocks.c.state == State.DEFERRED.value)
            .values(state=State.QUEUED.value, reason=None, updated_at=now)
        )
        if not changed.rowcount:
            return False
        await add_history(self.conn, knock_id, [(Event.QUEUED.value, "door", None)], now)
        await add_job(self.conn, job_kind, knock_id, now)
        return True

    async def load(
        self,
        state: DoorState,
        windows: Iterable[Window],
        subjects: Iterable[str],
        users: Iterable[str],
        submission_keys: Iterable[str],
    ) -> None:
        """Read what a batch of knocks will ask about into `state`, in a few queries."""
        await self._load_hits(state, set(windows))
        await self._load_strikes(state, set(subjects))
        users, keys = list(set(users)), list(set(submission_keys))
        k = knocks.c
        if users:
            query = select(k.user_id).where(k.user_id.in_(users), k.state.in_(WAITING)).distinct()
            state.waiting.update(row.user_id for row in await self.conn.execute(query))
        if keys:
            query = select(k.submission_key, k.knock_id, k.state, k.reason).where(
                k.submission_key.in_(keys)
            )
            for row in await self.conn.execute(query):
                state.submissions[row.submission_key] = (row.knock_id, State(row.state), row.reason)
        query = select(func.count()).select_from(knocks).where(k.state == State.DEFERRED.value)
        state.deferred = int((await self.conn.execute(query)).scalar_one())

    async def load_values(self, state: DoorState, keys: Iterable[str]) -> None:
        """Read stored values into `state`."""
        keys = list(keys)
        state.values.update(dict.fromkeys(keys))
        query = select(state_values.c.key, state_values.c.value).where(state_values.c.key.in_(keys))
        state.values.update({row.key: row.value for row in await self.conn.execute(query)})

    async def save(self, state: DoorState) -> None:
        """Write what a batch decided: knocks, history, jobs, counts, strikes and values."""
        for table, rows in (
            (knocks, state.new_knocks),
            (knock_events, state.new_history),
            (jobs, state.new_jobs),
            (guard_hits, state.new_hits),
        ):
            if rows:
                await self.conn.execute(insert(table), rows)
        if state.changed_strikes:
            changed = sorted(state.changed_strikes)
            await self.conn.execute(delete(strikes).where(strikes.c.subject.in_(changed)))
            rows = [
                {
                    "subject": subject,
                    "count": r.count,
                    "last_at": r.last_at,
                    "locked_until": r.locked_until,
                }
                for subject in changed
                if (r := state.strikes[subject]) is not None
            ]
            await self.conn.execute(insert(strikes), rows)
        for key in sorted(state.changed_values):
            await self.set_value(key, state.values[key], state.now)

    async def _load_hits(self, state: DoorState, windows: set[Window]) -> None:
        # Windows of one scope share their start, so one condition per scope does.
        by_scope: dict[tuple[str, float], set[str]] = {}
        for scope, subject, since in windows:
            by_scope.setdefault((scope, since), set()).add(subject)
            state.hits[(scope, subject)] = (0, None)
        if not by_scope:
            return
        c = guard_hits.c
        wanted = or_(
            *(
                and_(c.scope == scope, c.subject.in_(sorted(subjects)), c.at > since)
                for (scope, since), subjects in by_scope.items()
            )
        )
        query = (
            select(c.scope, c.subject, func.count(), func.min(c.at))
            .where(wanted)
            .group_by(c.scope, c.subject)
        )
        for scope, subject, count, oldest in await self.conn.execute(query):
            state.hits[(scope, subject)] = (int(count), oldest)

    async def _load_strikes(self, state: DoorState, subjects: set[str]) -> None:
        state.strikes.update(dict.fromkeys(subjects))
        if not subjects:
            return
        query = select(strikes).where(strikes.c.subject.in_(sorted(subjects)))
        for row in await self.conn.execute(query):
            m = row._mapping  # `row.count` would be the tuple method, not the column
            state.strikes[m["subject"]] = Strikes(m["count"], m["last_at"], m["locked_until"])


# (scope, subject, window start)
Window = tuple[str, str, float]


@dataclass
class DoorState:
    """What the door knows while it decides a batch of knocks at one instant, `now`.

    `DoorTransaction.load` fills it from the database; deciding a knock then reads and changes it
    in memory (so the next knock of the batch sees this one's counts), and
    `DoorTransaction.save` writes the batch's changes, all in the same transaction.
    """

    now: float
    # (scope, subject) -> hits in its window and the oldest; a batch has one start per scope.
    hits: dict[tuple[str, str], tuple[int, float | None]] = field(default_factory=dict)
    strikes: dict[str, Strikes | None] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # people with a knock nobody has acted on
    deferred: int = 0
    values: dict[str, str | None] = field(default_factory=dict)
    # submission key -> (knock id, state, reason)
    submissions: dict[str, tuple[str, State, str | None]] = field(default_factory=dict)
    new_knocks: list[dict[str, object]] = field(default_factory=list)
    new_history: list[dict[str, object]] = field(default_factory=list)
    new_jobs: list[dict[str, object]] = field(default_factory=list)
    new_hits: list[dict[str, object]] = field(default_factory=list)
    changed_strikes: set[str] = field(default_factory=set)
    changed_values: set[str] = field(default_factory=set)

    def count(self, scope: str, subject: str) -> tuple[int, float | None]:
        """Hits in a window (loaded beforehand) and the oldest of them."""
        return self.hits[(scope, subject)]

    def add_hits(self, hits: Iterable[tuple[str, str]]) -> None:
        """Count one event now for each (scope, subject)."""
        for scope, subject in hits:
            self.new_hits.append({"scope": scope, "subject": subject, "at": self.now})
            counted = self.hits.get((scope, subject))
            if counted is not None:
                count, oldest = counted
                self.hits[(scope, subject)] = (count + 1, self.now if oldest is None else oldest)

    def strike(self, subject: str, base: float, cap: float, reset: float) -> None:
        """Add a back-off strike to a subject (loaded beforehand)."""
        self.strikes[subject] = guard.strike(self.strikes[subject], self.now, base, cap, reset)
        self.changed_strikes.add(subject)

    def set_value(self, key: str, value: str | None) -> None:
        """Change (or, with None, delete) a stored value."""
        self.values[key] = value
        self.changed_values.add(key)

    def add_knock(
        self, new: NewKnock, history: Iterable[HistoryLine], job_kind: str | None
    ) -> None:
        """Add a knock with its first history lines and its first job."""
        self.new_knocks.append(knock_row(new, self.now))
        self.new_history += history_rows(new.knock_id, history, self.now)
        if job_kind is not None:
            self.new_jobs.append(job_row(job_kind, new.knock_id, self.now))
        if new.submission_key is not None:
            self.submissions[new.submission_key] = (new.knock_id, new.state, new.reason)
        if new.state.value in WAITING:
            self.waiting.add(new.user_id)
        if new.state is State.DEFERRED:
            self.deferred += 1


async def forget_hits_before(conn: AsyncConnection, before: float) -> int:
    """Erase hits too old for any window."""
    result = await conn.execute(delete(guard_hits).where(guard_hits.c.at < before))
    return int(result.rowcount)
