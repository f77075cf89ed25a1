"""Every file Knock writes is readable by its owner only: the database holds the access token.

Real files on disk, their modes read back with stat, under the usual umask (022), which would
leave a file created without care readable by everyone (0644).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from knock.core.blocklist import Entry
from knock.core.history import CLI
from knock.services.runtime import Runtime
from knock.store import Store
from knock.store.engine import make_sqlite_thread_engine
from tests.services.conftest import BOT, Submit


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(directory: Path) -> dict[str, str]:
    return {
        path.name: oct(stat.S_IMODE(path.stat().st_mode))
        for path in sorted(directory.iterdir())
        if path.is_file()
    }


PASSWORD_LOGIN: dict[str, Any] = {
    "matrix_access_token": None,
    "matrix_user_id": BOT,
    "matrix_password": "bot-password",
}


@pytest.mark.parametrize("knock_options", [PASSWORD_LOGIN], ids=["password"])
async def test_the_database_its_wal_the_token_file_and_the_list_files_are_0600(
    runtime: Runtime, submit: Submit, tmp_path: Path
) -> None:
    services = runtime.services
    await submit("@someone:hs.test")  # a committed knock: the database and its WAL are written
    await services.blocking.block(
        Entry("@troll:hs.test", source="cli", reason="spam"), CLI, confirm=True
    )
    services.duties.force()
    await services.duties.run_once()  # mirrors the block-list and allow-list files

    written = modes(tmp_path)

    assert set(written) >= {
        "knock.db",
        "knock.db-wal",
        "knock.db-shm",
        "tokens.json",
        "blocked_users.txt",
        "allowed_users.txt",
    }
    assert written == dict.fromkeys(written, "0o600")


async def test_the_admission_threads_engine_creates_a_new_database_file_0600(
    tmp_path: Path,
) -> None:
    engine = make_sqlite_thread_engine(f"sqlite:///{tmp_path}/fresh.db")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:  # the WAL and its index exist while a connection is open
            conn.execute(text("SELECT x FROM t")).all()
            written = modes(tmp_path)
    finally:
        engine.dispose()

    assert written == dict.fromkeys(("fresh.db", "fresh.db-shm", "fresh.db-wal"), "0o600")


async def test_an_existing_database_open_to_others_is_left_as_it_is_and_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "old.db"
    database.touch(mode=0o644)

    with caplog.at_level(logging.WARNING, logger="knock.store"):
        store = await Store.open(f"sqlite:///{database}")
    await store.close()

    assert oct(stat.S_IMODE(database.stat().st_mode)) == "0o644"  # the operator's to change
    assert [r.getMessage() for r in caplog.records] == [
        f"The SQLite file {database} is open to other users (mode 0644) and holds the bot's "
        "access token: chmod 600 it and its -wal and -shm files"
    ]
