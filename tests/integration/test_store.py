"""The store's promises to many processes, on both engines: each `Store` here is its own engine
with its own connections, as a separate Knock process would have."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from knock.core.admission_batch import AddKnock
from knock.core.history import Actor, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Event, State
from knock.store import Store
from knock.store.schema import MIGRATIONS
from tests.integration.harness import DATABASE


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
