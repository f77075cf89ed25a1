"""A worker's claim on the oldest due job: one synchronous transaction, run in one hand-off.

Every worker claims after every job it finishes (and once more to find none is due), so this is
the worker's hottest statement; its statements are built once per shape, with bound parameters.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Update, bindparam, func, or_, select, update

from knock.core.jobs import JobKind
from knock.store.records import Job, knock_from_row
from knock.store.schema import jobs, knocks


def claim(
    conn: Connection,
    worker: str,
    now: float,
    lease: float,
    kinds: list[str] | None,
    held: list[str],
) -> Job | None:
    """Lease the oldest due job (of `kinds`, if given; invites of knocks through `held` doors
    wait) to `worker`; return it with its knock as it was before the claim, or None."""
    params: dict[str, Any] = {"now": now, "until": now + lease, "worker": worker}
    if kinds is not None:
        params["kinds"] = kinds
    if held:
        params["held"] = held
    row = conn.execute(_claim_query(kinds is not None, bool(held)), params).first()
    if row is None:
        return None
    knock = None
    if row.knock_id is not None:
        found = conn.execute(_KNOCK, {"id": row.knock_id}).first()
        knock = knock_from_row(found) if found else None
    kind = JobKind.read(row.kind)
    if knock is not None and kind is not None and kind.attempts_invite:
        conn.execute(_ATTEMPTED, {"id": knock.knock_id, "now": now})
    return Job(
        row.id, kind, row.knock_id, row.attempts, row.first_attempt_at, worker, knock, row.room
    )


@cache
def _claim_query(some_kinds: bool, held_doors: bool) -> Update:
    free = or_(jobs.c.locked_until.is_(None), jobs.c.locked_until < bindparam("now"))
    due = [jobs.c.run_at <= bindparam("now"), free]
    if some_kinds:
        due.append(jobs.c.kind.in_(bindparam("kinds", expanding=True)))
    if held_doors:
        at_held = select(knocks.c.knock_id).where(
            knocks.c.door.in_(bindparam("held", expanding=True))
        )
        due.append(or_(jobs.c.kind != JobKind.INVITE.value, jobs.c.knock_id.not_in(at_held)))
    oldest_due = (
        select(jobs.c.id)
        .where(*due)
        .order_by(jobs.c.run_at, jobs.c.id)
        .limit(1)
        # PostgreSQL: workers on every host pass over rows another is claiming instead of
        # queueing behind them. SQLite has one writer, so the clause is left out there.
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    # One statement: the row is chosen and locked atomically, and the repeated `free` test
    # keeps two workers from both taking the same row.
    return (
        update(jobs)
        .where(jobs.c.id == oldest_due, free)
        .values(
            locked_by=bindparam("worker"),
            locked_until=bindparam("until"),
            attempts=jobs.c.attempts + 1,
            first_attempt_at=func.coalesce(jobs.c.first_attempt_at, bindparam("now")),
        )
        .returning(
            jobs.c.id,
            jobs.c.kind,
            jobs.c.knock_id,
            jobs.c.attempts,
            jobs.c.first_attempt_at,
            jobs.c.room,
        )
    )


_KNOCK = select(knocks).where(knocks.c.knock_id == bindparam("id"))
_ATTEMPTED = (
    update(knocks)
    .where(knocks.c.knock_id == bindparam("id"))
    .values(invite_attempted_at=bindparam("now"))
)
