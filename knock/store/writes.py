"""Rows written by more than one transaction: a knock with its history, jobs, and moderators'
changes that are not about one knock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

from knock.core.history import HistoryLine, ModeratorAction
from knock.core.jobs import JobKind
from knock.core.knocks import NewKnock
from knock.store.schema import knock_events, moderator_actions


async def add_history(
    conn: AsyncConnection, knock_id: str, history: Iterable[HistoryLine], now: float
) -> None:
    """Append lines to a knock's history."""
    rows = history_rows(knock_id, history, now)
    if rows:
        await conn.execute(insert(knock_events), rows)


async def add_action(conn: AsyncConnection, action: ModeratorAction, now: float) -> None:
    """Log a moderator's change, in the transaction that makes it."""
    await conn.execute(insert(moderator_actions).values(action_row(action, now)))


def knock_row(new: NewKnock, now: float) -> dict[str, object]:
    """The knocks row of a new knock."""
    return {**new.__dict__, "state": new.state.value, "received_at": now, "updated_at": now}


def history_rows(
    knock_id: str, history: Iterable[HistoryLine], now: float
) -> list[dict[str, object]]:
    """The knock_events rows of history lines."""
    return [
        {
            "knock_id": knock_id,
            "at": now,
            "event": line.event.value,
            "actor": str(line.actor),
            "detail": line.detail,
        }
        for line in history
    ]


def action_row(action: ModeratorAction, now: float) -> dict[str, object]:
    """The moderator_actions row of a moderator's change made now."""
    return {
        "at": now,
        "actor": str(action.actor),
        "action": action.change.value,
        "target": action.target,
        "note": action.note,
        "door": action.door,
    }


def job_row(
    kind: JobKind, knock_id: str | None, now: float, room: str | None = None
) -> dict[str, object]:
    """The jobs row of a job due now."""
    return {
        "kind": kind.value,
        "knock_id": knock_id,
        "run_at": now,
        "attempts": 0,
        "created_at": now,
        "room": room,
    }


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    keys: list[str],
    changes: dict[str, Any],
    returning: Any = None,
) -> CursorResult[Any]:
    """Insert a row, or apply `changes` to the row with the same `keys`, in one statement.

    One statement, because reading first and then inserting races with another process on
    PostgreSQL (SQLite's single writer hides that race).
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    statement = statement.on_conflict_do_update(index_elements=keys, set_=changes)
    if returning is not None:
        statement = statement.returning(returning)
    result: CursorResult[Any] = await conn.execute(statement)
    return result
