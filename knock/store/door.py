"""What the door counts — window hits, back-off strikes, waiting knocks — read and written in one
transaction with the knock itself, so that every process on the database sees the same counts."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from knock.core import guard
from knock.core.guard import Strikes
from knock.core.lifecycle import Event, State
from knock.store.schema import guard_hits, knocks, state_values, strikes
from knock.store.writes import add_history, add_job

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

    async def hits_many(
        self, windows: list[tuple[str, str, float]]
    ) -> dict[tuple[str, str], tuple[int, float | None]]:
        """Count several windows at once: (scope, subject, since) -> (count, oldest hit)."""
        if not windows:
            return {}
        c = guard_hits.c
        wanted = or_(
            *(
                and_(c.scope == scope, c.subject == subject, c.at > since)
                for scope, subject, since in windows
            )
        )
        query = (
            select(c.scope, c.subject, func.count(), func.min(c.at))
            .where(wanted)
            .group_by(c.scope, c.subject)
        )
        found = {
            (scope, subject): (int(count), oldest)
            for scope, subject, count, oldest in await self.conn.execute(query)
        }
        return {
            (scope, subject): found.get((scope, subject), (0, None))
            for scope, subject, _ in windows
        }

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

    async def waiting_knock(self, user_id: str) -> bool:
        """Tell whether the person already has a knock nobody has acted on."""
        query = select(knocks.c.knock_id).where(
            knocks.c.user_id == user_id, knocks.c.state.in_(WAITING)
        )
        return (await self.conn.execute(query.limit(1))).first() is not None

    async def count_state(self, state: State) -> int:
        """Count the knocks in one state."""
        query = select(func.count()).select_from(knocks).where(knocks.c.state == state.value)
        return int((await self.conn.execute(query)).scalar_one())

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


async def forget_hits_before(conn: AsyncConnection, before: float) -> int:
    """Erase hits too old for any window."""
    result = await conn.execute(delete(guard_hits).where(guard_hits.c.at < before))
    return int(result.rowcount)
