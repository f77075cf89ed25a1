"""The hot transactions beside admission: a worker's claim on the oldest due job, a knock's move
with the outcome, and every process's lease renewal on its duty tick.

Each is one synchronous transaction, run in one hand-off to the database (see `Store._at_once`):
on SQLite they queue with admission for the one writer, so they must hold it briefly. Every job
is claimed, and most end in a move; a worker also claims once more to find none is due. Their
statements are built once per shape, with bound parameters, and run straight on the driver
(`knock.store.driver`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Update,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from knock.core.jobs import JobKind
from knock.store import driver
from knock.store.records import Job, knock_from_mapping
from knock.store.schema import jobs, knock_events, knocks, leases


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
    claimed = driver.rows(conn, _claim_query(kinds is not None, bool(held)), params)
    if not claimed:
        return None
    job_id, kind_name, knock_id, attempts, first_attempt_at, room = claimed[0]
    knock = None
    if knock_id is not None:
        found = driver.rows(conn, _KNOCK, {"id": knock_id})
        knock = (
            knock_from_mapping(dict(zip(_KNOCK_COLUMNS, found[0], strict=True))) if found else None
        )
    kind = JobKind.read(kind_name)
    if knock is not None and kind is not None and kind.attempts_invite:
        driver.execute(conn, _ATTEMPTED, {"id": knock.knock_id, "now": now})
    return Job(job_id, kind, knock_id, attempts, first_attempt_at, worker, knock, room)


def next_job_at(conn: Connection, kinds: list[str] | None, held: list[str]) -> float | None:
    """When the next job (of `kinds`, not an invite at a `held` door) falls due or its lease
    runs out, if any."""
    params: dict[str, Any] = {}
    if kinds is not None:
        params["kinds"] = kinds
    if held:
        params["held"] = held
    value = driver.scalar(conn, _next_query(kinds is not None, bool(held)), params)
    return float(value) if value is not None else None


def _of(some_kinds: bool, held_doors: bool) -> list[ColumnElement[bool]]:
    """The jobs of some kinds (`kinds`), and not invites at held doors (`held`)."""
    conditions: list[ColumnElement[bool]] = []
    if some_kinds:
        conditions.append(jobs.c.kind.in_(bindparam("kinds", expanding=True)))
    if held_doors:
        at_held = select(knocks.c.knock_id).where(
            knocks.c.door.in_(bindparam("held", expanding=True))
        )
        conditions.append(or_(jobs.c.kind != JobKind.INVITE.value, jobs.c.knock_id.not_in(at_held)))
    return conditions


@cache
def _next_query(some_kinds: bool, held_doors: bool) -> Select[Any]:
    return select(func.min(func.coalesce(jobs.c.locked_until, jobs.c.run_at))).where(
        *_of(some_kinds, held_doors)
    )


@cache
def _claim_query(some_kinds: bool, held_doors: bool) -> Update:
    free = or_(jobs.c.locked_until.is_(None), jobs.c.locked_until < bindparam("now"))
    due = [jobs.c.run_at <= bindparam("now"), free, *_of(some_kinds, held_doors)]
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


_KNOCK_COLUMNS = tuple(knocks.c.keys())
_KNOCK = select(knocks).where(knocks.c.knock_id == bindparam("id"))
_ATTEMPTED = (
    update(knocks)
    .where(knocks.c.knock_id == bindparam("id"))
    .values(invite_attempted_at=bindparam("now"))
)


def move(
    conn: Connection,
    knock_id: str,
    changes: dict[str, object],
    allowed: list[str],
    history: list[dict[str, object]],
    new_jobs: list[dict[str, object]],
    finish: Job | None,
) -> tuple[str, float] | None:
    """Move a knock whose state is one of `allowed`: apply `changes` (`state`, `reason`,
    `updated_at`, and `invited_at` when given), add its `history` rows and `new_jobs`, and
    delete the `finish` job if its worker still holds it. Return the knock's (door,
    received_at), or None when it was not in an allowed state (nothing changed)."""
    params = {f"new_{name}": value for name, value in changes.items()}
    params |= {"id": knock_id, "allowed": allowed}
    moved = driver.rows(conn, _move_query(tuple(sorted(changes))), params)
    if not moved:
        return None
    driver.insert_rows(conn, _ADD_HISTORY, history)
    driver.insert_rows(conn, _ADD_JOB, new_jobs)
    if finish is not None:
        driver.execute(conn, _FINISH, {"id": finish.job_id, "worker": finish.claimed_by})
    door, received_at = moved[0]
    return door, received_at


@cache
def _move_query(columns: tuple[str, ...]) -> Update:
    return (
        update(knocks)
        .where(
            knocks.c.knock_id == bindparam("id"),
            knocks.c.state.in_(bindparam("allowed", expanding=True)),
        )
        .values({name: bindparam(f"new_{name}") for name in columns})
        .returning(knocks.c.door, knocks.c.received_at)
    )


_ADD_HISTORY = insert(knock_events)
_ADD_JOB = insert(jobs)
_FINISH = delete(jobs).where(jobs.c.id == bindparam("id"), jobs.c.locked_by == bindparam("worker"))


def renew_lease(conn: Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Renew the lease `name` for `holder`, or take it over once it has run out; tell whether
    that happened (False also when no process has taken it yet)."""
    # (No parameter is named after a column: an UPDATE would set that column from it.)
    params = {"lease": name, "who": holder, "now": now, "until": now + ttl}
    return driver.execute(conn, _RENEW, params) > 0


_RENEW = (
    update(leases)
    .where(
        leases.c.name == bindparam("lease"),
        or_(leases.c.holder == bindparam("who"), leases.c.expires_at < bindparam("now")),
    )
    .values(holder=bindparam("who"), expires_at=bindparam("until"))
)
