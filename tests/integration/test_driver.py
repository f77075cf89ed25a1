"""Statements run straight on the driver (knock/store/driver.py) answer as SQLAlchemy would, on
both engines, in the store's own transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, func, insert, literal_column, select, text
from sqlalchemy.exc import IntegrityError

from knock.store import Store, driver
from knock.store.schema import state_values
from tests.integration.harness import DATABASE, eventually

_v = state_values.c
_SOME = select(_v.key, _v.value).where(_v.key.in_(bindparam("keys", expanding=True)))
_SOME_NOT = select(_v.key).where(
    _v.key.in_(bindparam("keys", expanding=True)), _v.value.not_in(["b", "c"])
)
_ONE = select(_v.value).where(_v.key == bindparam("key"))
_ADD = insert(state_values)


def _row(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": value, "updated_at": 1.0}


def _add_and_read(conn: Connection) -> dict[str, Any]:
    driver.insert_rows(conn, _ADD, [_row(f"driver.{n}", chr(ord("a") + n)) for n in range(4)])
    found: dict[str, Any] = {}
    for keys in ([], ["driver.0"], ["driver.1", "driver.2", "driver.9"], ["driver.3"]):
        mine = sorted(tuple(row) for row in driver.rows(conn, _SOME, {"keys": keys}))
        theirs = sorted(tuple(row) for row in conn.execute(_SOME, {"keys": keys}))
        found[f"keys {keys}"] = (mine, theirs)
    found["constant list"] = sorted(
        key for (key,) in driver.rows(conn, _SOME_NOT, {"keys": [f"driver.{n}" for n in range(4)]})
    )
    found["scalar"] = driver.scalar(conn, _ONE, {"key": "driver.2"})
    found["no row"] = driver.scalar(conn, _ONE, {"key": "driver.9"})
    return found


async def test_rows_are_those_sqlalchemy_reads_for_lists_of_every_length(store: Store) -> None:
    found = await store._at_once(_add_and_read)

    for keys, (mine, theirs) in ((k, v) for k, v in found.items() if k.startswith("keys")):
        assert mine == theirs, keys
    assert found["keys []"][0] == []
    assert found["keys ['driver.0']"][0] == [("driver.0", "a")]
    assert found["keys ['driver.3']"][0] == [("driver.3", "d")]
    assert found["keys ['driver.1', 'driver.2', 'driver.9']"][0] == [
        ("driver.1", "b"),
        ("driver.2", "c"),
    ]
    assert found["constant list"] == ["driver.0", "driver.3"]
    assert (found["scalar"], found["no row"]) == ("c", None)


def _add_twice(conn: Connection) -> None:
    driver.insert_rows(conn, _ADD, [_row("driver.twice", "a")])
    driver.insert_rows(conn, _ADD, [_row("driver.twice", "b")])


async def test_a_refused_write_is_sqlalchemys_error_and_rolls_the_transaction_back(
    store: Store,
) -> None:
    with pytest.raises(IntegrityError):
        await store._at_once(_add_twice)

    assert await store.get_value("driver.twice") is None


def _inlined(conn: Connection) -> Any:
    inline = select(_v.key).where(
        _v.key.in_(bindparam("keys", expanding=True, literal_execute=True))
    )
    return driver.rows(conn, inline, {"keys": ["a"]})


async def test_a_statement_that_inlines_its_values_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="not a statement to render once"):
        await store._at_once(_inlined)


def _without_its_parameter(conn: Connection) -> Any:
    return driver.rows(conn, select(literal_column("1")).where(_v.key == bindparam("key")), {})


async def test_a_missing_parameter_is_named(store: Store) -> None:
    with pytest.raises(Exception, match="key"):
        await store._at_once(_without_its_parameter)


async def _cancelled_in_pg_sleep(
    store: Store, sleep: Coroutine[Any, Any, Any]
) -> asyncio.Task[Any]:
    """Run `sleep` (a `pg_sleep` statement) as a task, cancel it once PostgreSQL runs the
    statement, and return the task once it has ended (or after 10 s)."""

    async def sleeping() -> bool:
        async with store.engine.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%'"
            return bool((await conn.execute(text(query))).scalar_one())

    task = asyncio.create_task(sleep)
    await eventually(sleeping, timeout=10, what="the statement to run")
    task.cancel()
    await asyncio.wait({task}, timeout=10)
    return task


async def test_a_statement_cancelled_on_postgresql_leaves_its_task_cancelled(
    store: Store,
) -> None:
    """Stopping Knock cancels its tasks mid-statement; the engine's busy-error hook must let
    the cancellation through (it once turned it into an AttributeError, which a retrying loop
    caught, and the stop waited for ever)."""
    if DATABASE.url.startswith("sqlite"):
        pytest.skip("the busy-error hook is PostgreSQL's (SQLite's busy error is one already)")

    async def sleep_in_the_database() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(60)"))

    task = await _cancelled_in_pg_sleep(store, sleep_in_the_database())

    assert task.done()
    assert task.cancelled()


def _sleep_in_the_database(conn: Connection) -> Any:
    return driver.rows(conn, select(func.pg_sleep(60)))


async def test_a_driver_statement_cancelled_leaves_a_store_that_works_and_closes() -> None:
    if DATABASE.url.startswith("sqlite"):
        pytest.skip("SQLite's statements run in their own thread, which a cancellation never stops")
    store = await Store.open(DATABASE.url)
    try:
        task = await _cancelled_in_pg_sleep(store, store._at_once(_sleep_in_the_database))
        assert task.done() and task.cancelled()
        await store.set_value("driver.after", "yes", 1.0)
        assert await store.get_value("driver.after") == "yes"
    finally:
        await asyncio.wait_for(store.close(), timeout=10)
