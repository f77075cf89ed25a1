"""Admission's transaction: load a snapshot, run the pure decision, save what it changed.

Synchronous on purpose: the whole transaction runs in the database's own thread (pysqlite on
SQLite, `run_sync` on asyncpg), one hand-off per batch instead of one per statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text, update

from knock.core.admission_state import RELEASED, AdmissionState, AdmissionWork, Wanted
from knock.core.jobs import JobKind
from knock.core.lifecycle import WAITING, State
from knock.core.limits import Strikes
from knock.store.schema import (
    guard_hits,
    jobs,
    knock_events,
    knock_pages,
    knocks,
    moderator_actions,
    state_values,
    strikes,
)
from knock.store.writes import action_row, history_rows, job_row, knock_row

T = TypeVar("T")

# PostgreSQL advisory lock key (any constant, the same in every Knock process).
_ADMISSION_LOCK = 0x6B6E6F636B01
_WAITING = [state.value for state in WAITING]


@dataclass(frozen=True)
class Admitted(Generic[T]):
    """What admission decided, and the knocks that entered a state: (door, state, reason)."""

    result: T
    entered: list[tuple[str, str, str | None]]


def run_admission(conn: Connection, work: AdmissionWork[T], now: float) -> Admitted[T]:
    """Decide `work` on a snapshot read in this transaction, and write what it changed."""
    if conn.dialect.name == "postgresql":
        # Admission reads counts and then writes them: on PostgreSQL, admission transactions
        # from every process take turns, as SQLite's single writer makes them do.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADMISSION_LOCK})
    state = AdmissionState(now)
    _load_values(conn, state, work.values)
    _load(conn, state, work.wanted(state))
    result = work.decide(state)
    return Admitted(result, _save(conn, state))


def _load_values(conn: Connection, state: AdmissionState, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    state.values.update(dict.fromkeys(keys))
    query = select(state_values.c.key, state_values.c.value).where(state_values.c.key.in_(keys))
    state.values.update({row.key: row.value for row in conn.execute(query)})


def _load(conn: Connection, state: AdmissionState, wanted: Wanted) -> None:
    _load_hits(conn, state, wanted)
    _load_strikes(conn, state, wanted.strike_subjects)
    k = knocks.c
    if wanted.users:
        people = sorted({user_id for user_id, _ in wanted.users})
        query = (
            select(k.user_id, k.door).where(k.user_id.in_(people), k.state.in_(_WAITING))
        ).distinct()
        state.waiting.update((row.user_id, row.door) for row in conn.execute(query))
    if wanted.submission_keys:
        query = select(k.submission_key, k.knock_id, k.state, k.reason).where(
            k.submission_key.in_(sorted(wanted.submission_keys))
        )
        for row in conn.execute(query):
            state.submissions[row.submission_key] = (row.knock_id, State(row.state), row.reason)
    deferred = k.state == State.DEFERRED.value
    state.deferred = int(conn.execute(select(func.count()).where(deferred)).scalar_one())
    if wanted.oldest_deferred:
        door = [] if wanted.deferred_door is None else [k.door == wanted.deferred_door]
        query = (
            select(k.knock_id)
            .where(deferred, *door)
            .order_by(k.received_at, k.knock_id)
            .limit(wanted.oldest_deferred)
        )
        state.oldest_deferred = [row.knock_id for row in conn.execute(query)]


def _load_hits(conn: Connection, state: AdmissionState, wanted: Wanted) -> None:
    # Windows of one scope share their start, so one condition per scope does.
    by_scope: dict[tuple[str, float], set[str]] = {}
    for scope, subject, since in wanted.windows:
        by_scope.setdefault((scope, since), set()).add(subject)
        state.hits[(scope, subject)] = (0, None)
    if not by_scope:
        return
    c = guard_hits.c
    in_window = or_(
        *(
            and_(c.scope == scope, c.subject.in_(sorted(subjects)), c.at > since)
            for (scope, since), subjects in by_scope.items()
        )
    )
    query = (
        select(c.scope, c.subject, func.count(), func.min(c.at))
        .where(in_window)
        .group_by(c.scope, c.subject)
    )
    for scope, subject, count, oldest in conn.execute(query):
        state.hits[(scope, subject)] = (int(count), oldest)


def _load_strikes(conn: Connection, state: AdmissionState, subjects: set[str]) -> None:
    state.strikes.update(dict.fromkeys(subjects))
    if not subjects:
        return
    query = select(strikes).where(strikes.c.subject.in_(sorted(subjects)))
    for row in conn.execute(query):
        m = row._mapping  # `row.count` would be the tuple method, not the column
        state.strikes[m["subject"]] = Strikes(m["count"], m["last_at"], m["locked_until"])


def _save(conn: Connection, state: AdmissionState) -> list[tuple[str, str, str | None]]:
    """Write what admission changed; return the knocks that entered a state."""
    now = state.now
    new_knocks = [knock_row(new.knock, now) for new in state.new_knocks]
    entered = [
        (new.knock.door, new.knock.state.value, new.knock.reason) for new in state.new_knocks
    ]
    history = [
        row
        for new in state.new_knocks
        for row in history_rows(new.knock.knock_id, new.history, now)
    ]
    new_jobs = [
        job_row(kind, new.knock.knock_id, now) for new in state.new_knocks for kind in new.jobs()
    ]
    released_jobs, released_doors = _release(conn, state, history)
    new_jobs += released_jobs
    entered += [(door, State.QUEUED.value, None) for door in released_doors]
    pages = [
        {
            "token_hash": new.page.token_hash,
            "knock_id": new.knock.knock_id,
            "door": new.page.door,
            "created_at": now,
        }
        for new in state.new_knocks
        if new.page is not None
    ]
    hits = [{"scope": scope, "subject": subject, "at": now} for scope, subject in state.new_hits]
    for table, rows in (
        (knocks, new_knocks),
        (knock_events, history),
        (jobs, new_jobs),
        (guard_hits, hits),
        (knock_pages, pages),
        (moderator_actions, [action_row(action, now) for action in state.actions]),
    ):
        if rows:
            conn.execute(insert(table), rows)
    _save_strikes(conn, state)
    for key in sorted(state.changed_values):
        conn.execute(delete(state_values).where(state_values.c.key == key))
        value = state.values[key]
        if value is not None:
            conn.execute(insert(state_values).values(key=key, value=value, updated_at=now))
    return entered


def _release(
    conn: Connection, state: AdmissionState, history: list[dict[str, object]]
) -> tuple[list[dict[str, object]], list[str]]:
    """Queue released knocks; return their invite jobs and doors (and add their history)."""
    new_jobs, doors = [], []
    for knock_id in state.released:
        door = conn.execute(
            update(knocks)
            .where(knocks.c.knock_id == knock_id, knocks.c.state == State.DEFERRED.value)
            .values(state=State.QUEUED.value, reason=None, updated_at=state.now)
            .returning(knocks.c.door)
        ).scalar_one_or_none()
        if door is not None:
            history += history_rows(knock_id, [RELEASED], state.now)
            new_jobs.append(job_row(JobKind.INVITE, knock_id, state.now))
            doors.append(str(door))
    return new_jobs, doors


def _save_strikes(conn: Connection, state: AdmissionState) -> None:
    if not state.changed_strikes:
        return
    changed = sorted(state.changed_strikes)
    conn.execute(delete(strikes).where(strikes.c.subject.in_(changed)))
    rows = [
        {"subject": subject, "count": r.count, "last_at": r.last_at, "locked_until": r.locked_until}
        for subject in changed
        if (r := state.strikes[subject]) is not None
    ]
    conn.execute(insert(strikes), rows)


def forget_hits_before(conn: Connection, before: float) -> int:
    """Erase hits too old for any window."""
    result = conn.execute(delete(guard_hits).where(guard_hits.c.at < before))
    return int(result.rowcount)
