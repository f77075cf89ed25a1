"""Every integration test runs once per database engine: SQLite, then PostgreSQL.

`KNOCK_TEST_ENGINES=sqlite` (or `postgresql`) narrows a local run to one engine; `make test`
and CI run both. PostgreSQL is a throwaway cluster started once per session, with a fresh
database for every test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(params=ENGINES, autouse=True)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test's own empty database on this run's engine; the harness's Knocks use it."""
    engine = request.param
    if engine == "postgresql" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite's own locking; PostgreSQL has no such state")
    if engine == "sqlite":
        harness.DATABASE.url = f"sqlite:///{tmp_path / 'knock.db'}"
        yield harness.DATABASE.url
        return
    cluster: PostgresSandbox = request.getfixturevalue("postgres")
    name = f"test_{uuid.uuid4().hex[:16]}"
    harness.DATABASE.url = cluster.create_database(name)
    yield harness.DATABASE.url
    cluster.drop_database(name)
