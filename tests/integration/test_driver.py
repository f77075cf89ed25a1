"""Statements run straight on the driver (knock/store/driver.py) answer as SQLAlchemy would, on
both engines, in the store's own transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, insert, literal_column, select
from sqlalchemy.exc import IntegrityError

from knock.store import Store, driver
from knock.store.schema import state_values
from tests.integration.harness import DATABASE

_v = state_values.c
_SOME = select(_v.key, _v.value).where(_v.key.in_(bindparam("keys", expanding=True)))
_SOME_NOT = select(_v.key).where(
    _v.key.in_(bindparam("keys", expanding=True)), _v.value.not_in(["b", "c"])
)
_ONE = select(_v.value).where(_v.key == bindparam("key"))
_ADD = insert(state_values)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    store = await Store.open(DATABASE.url)
    try:
        yield store
    finally:
        await store.close()


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


def _columns(conn: Connection) -> Any:
    return driver.rows(conn, select(literal_column("1")).where(_v.key == bindparam("key")), {})


async def test_a_missing_parameter_is_named(store: Store) -> None:
    with pytest.raises(Exception, match="key"):
        await store._at_once(_columns)
