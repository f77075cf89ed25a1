"""The doors Knock was started with, kept so that a door removed from DOORS_FILE keeps its room."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.core.history import HistoryLine
from knock.core.jobs import JobKind
from knock.core.lifecycle import Reason, State
from knock.store.blocklist import Writer
from knock.store.schema import doors, jobs, knocks
from knock.store.writes import add_history, upsert

# Not yet invited: a removed door's knocks in these states wait in review for a moderator.
NOT_YET_INVITED = (State.QUEUED, State.DEFERRED)


class DoorQueries:
    """Keep the configured doors' rooms; find the doors since removed, with their rooms."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def seen(self, rooms: Mapping[str, str], now: float) -> dict[str, str]:
        """Keep each configured door's room; return the removed doors' rooms, by name.

        A removed door is one kept before that is not configured now and still has knocks.
        """
        async with self._write() as conn:
            for name, room in rooms.items():
                row = {"name": name, "room": room, "seen_at": now}
                await upsert(conn, doors, row, ["name"], {"room": room, "seen_at": now})
            kept = {row.name: row.room for row in await conn.execute(select(doors))}
            used = {
                row.door
                for row in await conn.execute(select(knocks.c.door).distinct())
                if row.door not in rooms
            }
        return {name: room for name, room in kept.items() if name not in rooms and name in used}

    async def hold_removed(self, names: list[str], line: HistoryLine, now: float) -> int:
        """Move the removed doors' knocks not yet invited to review; return how many.

        Their invite jobs go too (a moderator's approval queues a new one).
        """
        if not names:
            return 0
        k = knocks.c
        waiting = and_(k.door.in_(names), k.state.in_([s.value for s in NOT_YET_INVITED]))
        async with self._write() as conn:
            ids = [row.knock_id for row in await conn.execute(select(k.knock_id).where(waiting))]
            if not ids:
                return 0
            await conn.execute(
                update(knocks)
                .where(k.knock_id.in_(ids), k.state.in_([s.value for s in NOT_YET_INVITED]))
                .values(state=State.REVIEW.value, reason=Reason.DOOR_REMOVED.value, updated_at=now)
            )
            invites = and_(jobs.c.knock_id.in_(ids), jobs.c.kind == JobKind.INVITE.value)
            await conn.execute(jobs.delete().where(invites))
            for knock_id in ids:
                await add_history(conn, knock_id, [line], now)
        return len(ids)
