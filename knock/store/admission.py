"""Admission's transaction: load a snapshot, run the pure decision, save what it changed.

Synchronous on purpose: the whole transaction runs in the database's own thread (pysqlite on
SQLite, `run_sync` on asyncpg), one hand-off per batch instead of one per statement.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    ScalarSelect,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)

from knock.core.admission_state import RELEASED, AdmissionState, AdmissionWork, Wanted
from knock.core.jobs import JobKind
from knock.core.lifecycle import WAITING, State
from knock.core.limits import Strikes
from knock.store.schema import (
    guard_hits,
    guard_totals,
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
# Windows whose subject is everyone at a door (the join wave, the global window): they hold every
# knock, so they are counted from a running total, not by reading each hit (at 200 knocks a
# second, 120,000 hits in a join wave's 10 minutes cost SQLite 7 ms a count; the probe 2 µs).
_TOTALLED = frozenset({"wave", "admitted"})
# Hits stored before the running totals carry no place in them: a window reaching back to
# then is counted hit by hit (see migration 16).
UNNUMBERED_UNTIL = "guard_hits.unnumbered_until"
# The running totals admission read, by (scope, subject); 0: none stored yet.
_Totals = dict[tuple[str, str], int]
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
    totals: _Totals = {}
    _load_values(conn, state, work.values)
    _load(conn, state, work.wanted(state), totals)
    result = work.decide(state)
    return Admitted(result, _save(conn, state, totals))


def _load_values(conn: Connection, state: AdmissionState, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    state.values.update(dict.fromkeys(keys))
    query = select(state_values.c.key, state_values.c.value).where(state_values.c.key.in_(keys))
    state.values.update({row.key: row.value for row in conn.execute(query)})


def _load(conn: Connection, state: AdmissionState, wanted: Wanted, totals: _Totals) -> None:
    _load_hits(conn, state, wanted, totals)
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


def _load_hits(
    conn: Connection, state: AdmissionState, wanted: Wanted, totals: _Totals | None = None
) -> None:
    """Count the hits of every window wanted; note the running totals read in `totals`."""
    # Windows of one scope share their start, so one condition per scope does.
    by_scope: dict[tuple[str, float], set[str]] = {}
    for scope, subject, since in wanted.windows:
        by_scope.setdefault((scope, since), set()).add(subject)
        state.hits[(scope, subject)] = (0, None)
    unnumbered = _unnumbered_until(conn) if any(s in _TOTALLED for s, _ in by_scope) else 0.0
    totalled = {
        key: subjects
        for key, subjects in by_scope.items()
        if key[0] in _TOTALLED and key[1] >= unnumbered
    }
    if totalled:
        _load_totalled(conn, state, totalled, {} if totals is None else totals)
        for key in totalled:
            del by_scope[key]
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


# When the last hit stored before the running totals was made, by database: it never changes
# once migration 16 has run, so each process reads it once.
_UNNUMBERED: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def _unnumbered_until(conn: Connection) -> float:
    """When the last hit stored before the running totals was made (-inf: none was)."""
    known = _UNNUMBERED.get(conn.engine)
    if known is None:
        query = select(state_values.c.value).where(state_values.c.key == UNNUMBERED_UNTIL)
        value = conn.execute(query).scalar_one_or_none()
        known = _UNNUMBERED[conn.engine] = float("-inf") if value is None else float(value)
    return known


def _load_totalled(
    conn: Connection,
    state: AdmissionState,
    windows: dict[tuple[str, float], set[str]],
    totals: _Totals,
) -> None:
    """Count door-wide windows as their running total minus the place of their first hit, in
    one statement for them all; note each total read (absent: none yet, 0)."""
    t, h = guard_totals.c, guard_hits.c
    parts = []
    for (scope, since), subjects in windows.items():
        totals.update(dict.fromkeys(((scope, subject) for subject in subjects), 0))

        def first(column: ColumnElement[Any], since: float = since) -> ScalarSelect[Any]:
            return (
                select(column)
                .where(h.scope == t.scope, h.subject == t.subject, h.at > since)
                .order_by(h.at, h.n)
                .limit(1)
                .scalar_subquery()
            )

        parts.append(
            select(t.scope, t.subject, t.total, first(h.n), first(h.at)).where(
                t.scope == scope, t.subject.in_(sorted(subjects))
            )
        )
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    for scope, subject, total, place, oldest in conn.execute(query):
        totals[(scope, subject)] = int(total)
        if place is not None:
            state.hits[(scope, subject)] = (int(total) - int(place) + 1, oldest)


def _load_strikes(conn: Connection, state: AdmissionState, subjects: set[str]) -> None:
    state.strikes.update(dict.fromkeys(subjects))
    if not subjects:
        return
    query = select(strikes).where(strikes.c.subject.in_(sorted(subjects)))
    for row in conn.execute(query):
        m = row._mapping  # `row.count` would be the tuple method, not the column
        state.strikes[m["subject"]] = Strikes(m["count"], m["last_at"], m["locked_until"])


def _save(
    conn: Connection, state: AdmissionState, totals: _Totals
) -> list[tuple[str, str, str | None]]:
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
    hits = _numbered_hits(conn, state, totals)
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


def _numbered_hits(
    conn: Connection, state: AdmissionState, totals: _Totals | None = None
) -> list[dict[str, object]]:
    """The new hits' rows, each of a door-wide window with its place in the window's running
    total; the totals are brought up to date (`totals`: those read already, 0 for none)."""
    totals = {} if totals is None else dict(totals)
    known = {key for key, total in totals.items() if total}
    missing: dict[str, set[str]] = {}
    for scope, subject in state.new_hits:
        if scope in _TOTALLED and (scope, subject) not in totals:
            missing.setdefault(scope, set()).add(subject)
    t = guard_totals.c
    for scope, subjects in missing.items():
        query = select(t.subject, t.total).where(t.scope == scope, t.subject.in_(sorted(subjects)))
        found = {(scope, row.subject): int(row.total) for row in conn.execute(query)}
        totals.update(found)
        known.update(found)
    before = dict(totals)
    rows: list[dict[str, object]] = []
    for scope, subject in state.new_hits:
        place = None
        if scope in _TOTALLED:
            place = totals[(scope, subject)] = totals.get((scope, subject), 0) + 1
        rows.append({"scope": scope, "subject": subject, "at": state.now, "n": place})
    changed = [key for key, total in totals.items() if total != before.get(key)]
    updates = [{"s": s, "j": j, "v": totals[(s, j)]} for s, j in changed if (s, j) in known]
    inserts = [
        {"scope": s, "subject": j, "total": totals[(s, j)]}
        for s, j in changed
        if (s, j) not in known
    ]
    if updates:
        conn.execute(
            update(guard_totals)
            .where(t.scope == bindparam("s"), t.subject == bindparam("j"))
            .values(total=bindparam("v")),
            updates,
        )
    if inserts:
        conn.execute(insert(guard_totals), inserts)
    return rows


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
