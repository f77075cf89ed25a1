"""Admission's transaction: load a snapshot, run the pure decision, save what it changed.

Synchronous on purpose: the whole transaction runs in the database's own thread (pysqlite on
SQLite, `run_sync` on asyncpg), one hand-off per batch instead of one per statement.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Integer,
    ScalarSelect,
    Select,
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
from knock.store import driver
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

# Every statement below is built once (per shape, where the number of windows varies) with bound
# parameters: building and keying a SQLAlchemy statement costs more Python than running it, and
# admission runs these for every batch, a lone knock's included.

# PostgreSQL advisory lock key (any constant, the same in every Knock process).
_ADMISSION_LOCK = 0x6B6E6F636B01
_TAKE_TURNS = text("SELECT pg_advisory_xact_lock(:k)")
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
        conn.execute(_TAKE_TURNS, {"k": _ADMISSION_LOCK})
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
    state.values.update(driver.rows(conn, _VALUES, {"keys": list(keys)}))


_VALUES = select(state_values.c.key, state_values.c.value).where(
    state_values.c.key.in_(bindparam("keys", expanding=True))
)


def _load(conn: Connection, state: AdmissionState, wanted: Wanted, totals: _Totals) -> None:
    _load_hits(conn, state, wanted, totals)
    _load_strikes(conn, state, wanted.strike_subjects)
    if wanted.users:
        people = sorted({user_id for user_id, _ in wanted.users})
        state.waiting.update(driver.rows(conn, _WAITING_USERS, {"users": people}))
    if wanted.submission_keys:
        found = driver.rows(conn, _SUBMISSIONS, {"keys": sorted(wanted.submission_keys)})
        for key, knock_id, knock_state, reason in found:
            state.submissions[key] = (knock_id, State(knock_state), reason)
    state.deferred = int(driver.scalar(conn, _DEFERRED))
    if wanted.oldest_deferred:
        if wanted.deferred_door is None:
            found = driver.rows(conn, _OLDEST_DEFERRED, {"n": wanted.oldest_deferred})
        else:
            found = driver.rows(
                conn,
                _OLDEST_DEFERRED_AT,
                {"n": wanted.oldest_deferred, "door": wanted.deferred_door},
            )
        state.oldest_deferred = [knock_id for (knock_id,) in found]


_k = knocks.c
_IS_DEFERRED = _k.state == State.DEFERRED.value
_WAITING_USERS = (
    select(_k.user_id, _k.door)
    .where(_k.user_id.in_(bindparam("users", expanding=True)), _k.state.in_(_WAITING))
    .distinct()
)
_SUBMISSIONS = select(_k.submission_key, _k.knock_id, _k.state, _k.reason).where(
    _k.submission_key.in_(bindparam("keys", expanding=True))
)
_DEFERRED = select(func.count()).where(_IS_DEFERRED)
_OLDEST_DEFERRED = (
    select(_k.knock_id)
    .where(_IS_DEFERRED)
    .order_by(_k.received_at, _k.knock_id)
    .limit(bindparam("n", type_=Integer))
)
_OLDEST_DEFERRED_AT = (
    select(_k.knock_id)
    .where(_IS_DEFERRED, _k.door == bindparam("door"))
    .order_by(_k.received_at, _k.knock_id)
    .limit(bindparam("n", type_=Integer))
)


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
    params: dict[str, object] = {}
    for n, ((scope, since), subjects) in enumerate(by_scope.items()):
        params |= {f"scope{n}": scope, f"subjects{n}": sorted(subjects), f"since{n}": since}
    for scope, subject, count, oldest in driver.rows(conn, _hits_query(len(by_scope)), params):
        state.hits[(scope, subject)] = (int(count), oldest)


@cache
def _hits_query(windows: int) -> Select[Any]:
    """Count the hits of `windows` windows (each a scope, its subjects and its start)."""
    c = guard_hits.c
    in_window = or_(
        *(
            and_(
                c.scope == bindparam(f"scope{n}"),
                c.subject.in_(bindparam(f"subjects{n}", expanding=True)),
                c.at > bindparam(f"since{n}"),
            )
            for n in range(windows)
        )
    )
    return (
        select(c.scope, c.subject, func.count(), func.min(c.at))
        .where(in_window)
        .group_by(c.scope, c.subject)
    )


# When the last hit stored before the running totals was made, by database: it never changes
# once migration 16 has run, so each process reads it once.
_UNNUMBERED: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


_UNNUMBERED_VALUE = select(state_values.c.value).where(state_values.c.key == UNNUMBERED_UNTIL)


def _unnumbered_until(conn: Connection) -> float:
    """When the last hit stored before the running totals was made (-inf: none was)."""
    known = _UNNUMBERED.get(conn.engine)
    if known is None:
        value = driver.scalar(conn, _UNNUMBERED_VALUE)
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
    params: dict[str, object] = {}
    for n, ((scope, since), subjects) in enumerate(windows.items()):
        totals.update(dict.fromkeys(((scope, subject) for subject in subjects), 0))
        params |= {f"scope{n}": scope, f"subjects{n}": sorted(subjects), f"since{n}": since}
    found = driver.rows(conn, _totalled_query(len(windows)), params)
    for scope, subject, total, place, oldest in found:
        totals[(scope, subject)] = int(total)
        if place is not None:
            state.hits[(scope, subject)] = (int(total) - int(place) + 1, oldest)


@cache
def _totalled_query(windows: int) -> Select[Any] | CompoundSelect[Any]:
    """Read the running totals of `windows` door-wide windows, each with the place and time of
    its first hit in the window."""
    t, h = guard_totals.c, guard_hits.c
    parts = []
    for n in range(windows):

        def first(column: ColumnElement[Any], n: int = n) -> ScalarSelect[Any]:
            return (
                select(column)
                .where(h.scope == t.scope, h.subject == t.subject, h.at > bindparam(f"since{n}"))
                .order_by(h.at, h.n)
                .limit(1)
                .scalar_subquery()
            )

        parts.append(
            select(t.scope, t.subject, t.total, first(h.n), first(h.at)).where(
                t.scope == bindparam(f"scope{n}"),
                t.subject.in_(bindparam(f"subjects{n}", expanding=True)),
            )
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)


_STRIKES = select(
    strikes.c.subject, strikes.c.count, strikes.c.last_at, strikes.c.locked_until
).where(strikes.c.subject.in_(bindparam("subjects", expanding=True)))


def _load_strikes(conn: Connection, state: AdmissionState, subjects: set[str]) -> None:
    state.strikes.update(dict.fromkeys(subjects))
    if not subjects:
        return
    for subject, count, last_at, locked_until in driver.rows(
        conn, _STRIKES, {"subjects": sorted(subjects)}
    ):
        state.strikes[subject] = Strikes(count, last_at, locked_until)


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
            driver.insert_rows(conn, _INSERT[table.name], rows)
    _save_strikes(conn, state)
    for key in sorted(state.changed_values):
        driver.execute(conn, _DELETE_VALUE, {"key": key})
        value = state.values[key]
        if value is not None:
            row = {"key": key, "value": value, "updated_at": now}
            driver.insert_rows(conn, _INSERT[state_values.name], [row])
    return entered


_INSERT = {
    table.name: insert(table)
    for table in (
        knocks,
        knock_events,
        jobs,
        guard_hits,
        guard_totals,
        knock_pages,
        moderator_actions,
        strikes,
        state_values,
    )
}
_DELETE_VALUE = delete(state_values).where(state_values.c.key == bindparam("key"))


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
    for scope, subjects in missing.items():
        stored = driver.rows(conn, _TOTALS, {"scope": scope, "subjects": sorted(subjects)})
        found = {(scope, subject): int(total) for subject, total in stored}
        totals.update(found)
        known.update(found)
    before = dict(totals)
    # A hit of a door-wide window is filed no earlier than the window's last one: the time was
    # read before this transaction waited for its turn, and a hit numbered later but dated
    # earlier would put the window's first hit after others in it, and the count (the total
    # less the first hit's place) would leave some out. At most the wait (milliseconds) later.
    at = {
        key: max(state.now, _latest(conn, *key))
        for key in dict.fromkeys(key for key in state.new_hits if key[0] in _TOTALLED)
    }
    rows: list[dict[str, object]] = []
    for scope, subject in state.new_hits:
        place = None
        if scope in _TOTALLED:
            place = totals[(scope, subject)] = totals.get((scope, subject), 0) + 1
        when = at.get((scope, subject), state.now)
        rows.append({"scope": scope, "subject": subject, "at": when, "n": place})
    changed = [key for key, total in totals.items() if total != before.get(key)]
    updates = [{"s": s, "j": j, "v": totals[(s, j)]} for s, j in changed if (s, j) in known]
    inserts = [
        {"scope": s, "subject": j, "total": totals[(s, j)]}
        for s, j in changed
        if (s, j) not in known
    ]
    if updates:
        driver.execute_many(conn, _UPDATE_TOTAL, updates)
    if inserts:
        driver.insert_rows(conn, _INSERT[guard_totals.name], inserts)
    return rows


def _latest(conn: Connection, scope: str, subject: str) -> float:
    """When the window's last hit was filed (-inf: it has none)."""
    found = driver.scalar(conn, _LATEST, {"scope": scope, "subject": subject})
    return float("-inf") if found is None else float(found)


_LATEST = (
    select(guard_hits.c.at)
    .where(guard_hits.c.scope == bindparam("scope"), guard_hits.c.subject == bindparam("subject"))
    .order_by(guard_hits.c.at.desc())
    .limit(1)
)
_TOTALS = select(guard_totals.c.subject, guard_totals.c.total).where(
    guard_totals.c.scope == bindparam("scope"),
    guard_totals.c.subject.in_(bindparam("subjects", expanding=True)),
)
_UPDATE_TOTAL = (
    update(guard_totals)
    .where(guard_totals.c.scope == bindparam("s"), guard_totals.c.subject == bindparam("j"))
    .values(total=bindparam("v"))
)


def _release(
    conn: Connection, state: AdmissionState, history: list[dict[str, object]]
) -> tuple[list[dict[str, object]], list[str]]:
    """Queue released knocks; return their invite jobs and doors (and add their history)."""
    new_jobs, doors = [], []
    for knock_id in state.released:
        door = driver.scalar(conn, _RELEASE, {"id": knock_id, "now": state.now})
        if door is not None:
            history += history_rows(knock_id, [RELEASED], state.now)
            new_jobs.append(job_row(JobKind.INVITE, knock_id, state.now))
            doors.append(str(door))
    return new_jobs, doors


_RELEASE = (
    update(knocks)
    .where(_k.knock_id == bindparam("id"), _IS_DEFERRED)
    .values(state=State.QUEUED.value, reason=None, updated_at=bindparam("now"))
    .returning(_k.door)
)


def _save_strikes(conn: Connection, state: AdmissionState) -> None:
    if not state.changed_strikes:
        return
    changed = sorted(state.changed_strikes)
    driver.execute(conn, _DELETE_STRIKES, {"subjects": changed})
    rows = [
        {"subject": subject, "count": r.count, "last_at": r.last_at, "locked_until": r.locked_until}
        for subject in changed
        if (r := state.strikes[subject]) is not None
    ]
    if rows:
        driver.insert_rows(conn, _INSERT[strikes.name], rows)


_DELETE_STRIKES = delete(strikes).where(
    strikes.c.subject.in_(bindparam("subjects", expanding=True))
)


def forget_hits_before(conn: Connection, before: float) -> int:
    """Erase hits too old for any window."""
    result = conn.execute(delete(guard_hits).where(guard_hits.c.at < before))
    return int(result.rowcount)
