"""Every integration test runs once per database engine: SQLite, then PostgreSQL.

`KNOCK_TEST_ENGINES=sqlite` (or `postgresql`) narrows a local run to one engine; `make test`
and CI run both. PostgreSQL is a throwaway cluster started once per session, with a fresh
database for every test.

A test marked `no_database` (it starts no Knock and opens no store) runs once, not once per
engine, whatever `KNOCK_TEST_ENGINES` says.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from knock.store import Store
from knock_testing.postgres import PostgresSandbox
from tests.integration import harness

ENGINES = [
    engine
    for engine in ("sqlite", "postgresql")
    if engine in os.environ.get("KNOCK_TEST_ENGINES", "sqlite,postgresql").split(",")
]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresSandbox]:
    """A PostgreSQL cluster for the session (fsync off: these tests do not pull the plug)."""
    with PostgresSandbox(durable=False) as cluster:
        yield cluster


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test once per engine, unless it is marked `no_database`."""
    if "database_url" in metafunc.fixturenames and not metafunc.definition.get_closest_marker(
        "no_database"
    ):
        metafunc.parametrize("database_url", ENGINES, indirect=True)


@pytest.fixture(autouse=True)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's own empty database on this run's engine; the harness's Knocks use it."""
    engine = getattr(request, "param", None)
    if engine is None:
        # A `no_database` test: an empty URL, so that any Knock it started anyway fails loudly.
        harness.DATABASE.url = ""
        yield ""
        return
    if engine == "postgresql" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite's own locking; PostgreSQL has no such state")
    if engine == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        harness.DATABASE.url = f"sqlite:///{tmp_path / 'knock.db'}"
        yield harness.DATABASE.url
        return
    cluster: PostgresSandbox = request.getfixturevalue("postgres")
    name = f"test_{uuid.uuid4().hex[:16]}"
    harness.DATABASE.url = cluster.create_database(name)
    yield harness.DATABASE.url
    cluster.drop_database(name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store opened (and migrated) on the test's database, closed after the test."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
