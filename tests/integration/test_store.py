"""The store's promises to many processes, on both engines: each `Store` here is its own engine
with its own connections, as a separate Knock process would have."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from knock.core.admission_batch import AddKnock
from knock.core.admission_state import AdmissionState, Wanted
from knock.core.blocklist import FOLD_VERSION
from knock.core.history import Actor, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Event, State
from knock.store import Store
from knock.store.admission import UNNUMBERED_UNTIL, _load_hits, _numbered_hits
from knock.store.engine import make_engine
from knock.store.migrate import migrate
from knock.store.schema import (
    MIGRATIONS,
    guard_hits,
    knocks,
    review_posts,
    room_bans,
    state_values,
)
from tests.integration.harness import DATABASE, knock_row_before_doors, migrate_to_before


@pytest.fixture
async def stores() -> AsyncIterator[list[Store]]:
    """Four stores on the test's database, opened (and migrated) all at once."""
    opened = await asyncio.gather(
        *(Store.open(DATABASE.url) for _ in range(4)), return_exceptions=True
    )
    stores = [store for store in opened if isinstance(store, Store)]
    try:
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        yield stores
    finally:
        await asyncio.gather(*(store.close() for store in stores))


def _knock(n: int) -> NewKnock:
    return NewKnock(
        knock_id=uuid.uuid4().hex,
        user_id=f"@person{n}:example.org",
        requested_id=f"@person{n}:example.org",
        state=State.QUEUED,
        reason=None,
        source="form:tally",
        submission_key=f"tally:{n}",
        ip_hash=None,
        answers=None,
    )


async def test_processes_starting_together_migrate_once(stores: list[Store]) -> None:
    # The fixture opened four stores at once on an empty database; each ran `migrate`.
    async with stores[0].engine.connect() as conn:
        rows = await conn.execute(text("SELECT version FROM schema_migrations ORDER BY version"))
        versions = [row[0] for row in rows]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


async def test_every_job_is_claimed_by_exactly_one_worker(stores: list[Store]) -> None:
    now = 1_000_000.0
    for n in range(120):
        received = (HistoryLine(Event.RECEIVED, Actor.form("tally")),)
        await stores[n % 4].admit(AddKnock(_knock(n), received, JobKind.INVITE), now)

    claimed: dict[int, list[str]] = {}

    async def work(store: Store, name: str) -> None:
        while (job := await store.claim_job(name, now + 1, lease=60)) is not None:
            claimed.setdefault(job.job_id, []).append(name)
            await store.finish_job(job.job_id, name)

    # Two workers per store, all claiming at once.
    await asyncio.gather(
        *(work(store, f"w{i}-{k}") for i, store in enumerate(stores) for k in range(2))
    )
    assert len(claimed) == 120
    assert all(len(workers) == 1 for workers in claimed.values())
    assert await stores[0].count_jobs() == 0


async def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(
    stores: list[Store],
) -> None:
    now = 1_000_000.0
    await stores[0].admit(AddKnock(_knock(1), (), JobKind.INVITE), now)
    first = await stores[0].claim_job("dead", now, lease=30)
    assert first is not None
    assert await stores[1].claim_job("alive", now + 10, lease=30) is None
    again = await stores[1].claim_job("alive", now + 31, lease=30)
    assert again is not None and again.job_id == first.job_id and again.attempts == 2
    # The dead worker cannot finish or extend a job it lost.
    assert not await stores[0].extend_lease(first.job_id, "dead", now + 90)


async def test_one_lease_holder_at_a_time(stores: list[Store]) -> None:
    now = 1_000_000.0
    held = await asyncio.gather(
        *(store.take_lease("singleton", f"p{i}", now, ttl=30) for i, store in enumerate(stores))
    )
    assert sum(held) == 1
    holder = f"p{held.index(True)}"
    other = "p0" if holder != "p0" else "p1"
    assert not await stores[0].take_lease("singleton", other, now + 29, ttl=30)
    assert await stores[0].take_lease("singleton", other, now + 31, ttl=30)
    await stores[1].release_lease("singleton", other)
    assert await stores[2].take_lease("singleton", holder, now + 32, ttl=30)


async def test_request_delay_spaces_the_accounts_calls_across_processes(
    stores: list[Store],
) -> None:
    now = 1_000_000.0
    starts = await asyncio.gather(
        *(stores[n % 4].reserve_call("bot", now, delay=0.5) for n in range(40))
    )
    ordered = sorted(starts)
    assert ordered[0] == pytest.approx(now)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    assert all(gap == pytest.approx(0.5) for gap in gaps)


async def test_a_rate_limit_seen_by_one_process_holds_back_the_others(
    stores: list[Store],
) -> None:
    now = 1_000_000.0
    await stores[0].hold_calls("bot", now + 30)
    assert await stores[1].reserve_call("bot", now + 1, delay=0.5) == pytest.approx(now + 30)
    # A shorter hold never shortens a longer one.
    await stores[2].hold_calls("bot", now + 5)
    assert await stores[3].reserve_call("bot", now + 2, delay=0.5) == pytest.approx(now + 30.5)


@pytest.mark.parametrize("foreign_keys", ["enforced", "not enforced"])
async def test_erasing_a_closed_knock_erases_its_review_post(foreign_keys: str) -> None:
    if foreign_keys == "not enforced" and not DATABASE.url.startswith("sqlite"):
        pytest.skip("PostgreSQL always enforces foreign keys")
    store = await Store.open(DATABASE.url)
    if foreign_keys == "not enforced":
        # As on a SQLite connection opened without `PRAGMA foreign_keys=ON`: no cascade.
        @event.listens_for(store.engine.sync_engine, "connect")
        def _no_cascade(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

        await store.engine.dispose()  # no connection opened before stays in the pool
    now = 1_000_000.0
    decided, waiting = (dataclasses.replace(_knock(n), state=State.REVIEW) for n in (1, 2))
    try:
        for knock in (decided, waiting):
            await store.admit(AddKnock(knock, ()), now)
            await store.add_review_post(f"$post-{knock.knock_id}", knock.knock_id)
        denied = [HistoryLine(Event.DENIED, Actor.api("moderator"))]
        assert await store.move(
            decided.knock_id, State.REJECTED, reason="denied", history=denied, now=now
        )

        assert await store.purge_closed(now + 1) == 1
        async with store.engine.connect() as conn:
            posts = [tuple(row) for row in await conn.execute(select(review_posts))]
        erased = await store.knock_for_review_post(f"$post-{decided.knock_id}")
        kept = await store.knock_for_review_post(f"$post-{waiting.knock_id}")
    finally:
        await store.close()

    assert posts == [(f"$post-{waiting.knock_id}", waiting.knock_id)]
    assert erased is None
    assert kept == waiting.knock_id


async def test_the_review_posts_migration_moves_the_posts_of_knocks_still_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = 1_000_000.0
    stored = _knock(1)
    engine = make_engine(DATABASE.url)
    try:
        # A database from before the migration: review posts are stored values.
        version = await migrate_to_before(engine, monkeypatch, "CREATE TABLE review_posts")
        async with engine.begin() as conn:
            await conn.execute(insert(knocks).values(knock_row_before_doors(stored, now)))
            values = [
                ("moderation_room.event.$stored", stored.knock_id),
                ("moderation_room.event.$erased", "an erased knock"),
                ("sync.since", "s42"),
            ]
            await conn.execute(
                insert(state_values),
                [{"key": key, "value": value, "updated_at": now} for key, value in values],
            )

        ran = await migrate(engine)
        async with engine.connect() as conn:
            posts = [tuple(row) for row in await conn.execute(select(review_posts))]
            keys = [row[0] for row in await conn.execute(select(state_values.c.key))]
    finally:
        await engine.dispose()

    assert ran == len(MIGRATIONS) - version + 1
    assert posts == [("$stored", stored.knock_id)]
    assert keys == ["sync.since"]


async def test_door_wide_windows_count_the_same_across_the_running_totals_migration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hits stored before migration 16 have no place in a running total: windows reaching back
    to them are counted hit by hit, later ones from the total; both give the same counts. Bans
    remembered before migration 17 are kept, for every room."""
    wave = ("wave", "default:*")
    engine = make_engine(DATABASE.url)
    try:
        await migrate_to_before(engine, monkeypatch, "CREATE TABLE guard_totals")
        async with engine.begin() as conn:
            old = [{"scope": wave[0], "subject": wave[1], "at": 100.0 + i} for i in range(5)]
            await conn.execute(insert(guard_hits), old)
            await conn.execute(
                text("INSERT INTO knock_bans VALUES ('@troll:example.org', '@troll:*', 50.0)")
            )
        await migrate(engine)

        def counts(conn: Any) -> tuple[int, int, int]:
            # Three new hits at 200, each in a batch of its own, numbered from the total.
            for _ in range(3):
                state = AdmissionState(200.0)
                state.new_hits = [wave]
                conn.execute(insert(guard_hits), _numbered_hits(conn, state))
            found = []
            for since in (99.0, 102.0, 150.0):  # all eight; the last two old and the new; new
                state = AdmissionState(200.0)
                _load_hits(conn, state, Wanted(windows={(*wave, since)}))
                found.append(state.hits[wave][0])
            return found[0], found[1], found[2]

        async with engine.begin() as conn:
            found = await conn.run_sync(counts)
            bans = [tuple(row) for row in await conn.execute(select(room_bans))]
            unnumbered = (
                await conn.execute(
                    select(state_values.c.value).where(state_values.c.key == UNNUMBERED_UNTIL)
                )
            ).scalar_one()
    finally:
        await engine.dispose()

    assert float(unnumbered) == 104.0
    assert found == (8, 5, 3)
    assert bans == [("@troll:example.org", "*", "@troll:*", 50.0)]


async def test_a_door_wide_window_counts_a_hit_whose_clock_was_read_before_its_turn() -> None:
    """Two processes read their clocks, then take turns at admission: the later turn may carry
    the earlier time. Its hit is still counted in the window (two processes sharing a global
    window once admitted eleven knocks into ten places this way)."""
    admitted = ("admitted", "default")
    engine = make_engine(DATABASE.url)
    try:
        await migrate(engine)

        def count(conn: Any) -> int:
            for now in (100.1, 100.0):  # the second turn read its clock first
                state = AdmissionState(now)
                state.new_hits = [admitted]
                conn.execute(insert(guard_hits), _numbered_hits(conn, state))
            state = AdmissionState(200.0)
            _load_hits(conn, state, Wanted(windows={(*admitted, 50.0)}))
            return state.hits[admitted][0]

        async with engine.begin() as conn:
            counted = await conn.run_sync(count)
    finally:
        await engine.dispose()

    assert counted == 2


async def test_entries_stored_before_fold_keys_are_found_page_by_page_and_keyed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(DATABASE.url)
    patterns = ["@b-troll:example.org", "@a-troll:example.org", "evil.example", "@carl_99:x.org"]
    try:
        await migrate_to_before(engine, monkeypatch, "ADD COLUMN folded")
        async with engine.begin() as conn:  # as an older Knock stored them
            for allow in (0, 1):
                await conn.execute(
                    text(
                        "INSERT INTO blocklist_entries "
                        "(pattern, allow, origin, hashed, source, reason, added_at) "
                        "VALUES (:p, :a, 'moderator', 0, 'api', NULL, 0)"
                    ),
                    [{"p": pattern, "a": allow} for pattern in patterns],
                )
        await migrate(engine)
    finally:
        await engine.dispose()
    store = await Store.open(DATABASE.url)
    try:
        found, after = [], None
        while page := await store.blocklist.unfolded(after, 3):
            found += page
            await store.blocklist.store_keys(page)
            after = page[-1][:3]
        assert await store.blocklist.unfolded(None, 3) == []
        rows = [row for batch in [b async for b in store.blocklist.batches(100)] for row in batch]
    finally:
        await store.close()

    expected = sorted((pattern, allow) for pattern in patterns for allow in (0, 1))
    assert [(pattern, allow) for pattern, allow, _, _ in found] == expected
    keyed = {(row[0], row[1]): row[7:] for row in rows}
    assert keyed[("@a-troll:example.org", 1)] == ("atroi", None, FOLD_VERSION)
    assert keyed[("@carl_99:x.org", 0)] == ("carig", "cari", FOLD_VERSION)
    assert keyed[("evil.example", 0)] == (None, None, FOLD_VERSION)
