"""SQLite's WAL is copied back into the database on the duty tick, never by a knock's commit.

Admission's and the worker's transactions leave checkpoints alone until the WAL reaches 40 MiB
(a checkpoint's fsync made about one knock in a hundred several milliseconds slower); each
process's duty tick makes a passive checkpoint instead, so the WAL file stays about one tick's
writes long however many knocks come in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from knock.config import Settings
from knock.services.compose import Services
from knock.store.engine import sqlite_file
from tests.services.conftest import Submit

ROUND = 150  # knocks between two duty ticks


def database(settings: Settings) -> str:
    path = sqlite_file(settings.database_url.get_secret_value())
    assert path is not None
    return path


def wal_size(settings: Settings) -> int:
    wal = Path(f"{database(settings)}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def wal_sizes(
    settings: Settings, submit: Submit, tick: Callable[[], Awaitable[None]] | None = None
) -> list[int]:
    """The WAL's size after each of three rounds of knocks, with a duty tick after each round
    when `tick` is given."""
    sizes = []
    for round_ in range(3):
        for n in range(ROUND):
            await submit(f"@person{round_}x{n}:example.org")
        sizes.append(wal_size(settings))
        if tick is not None:
            await tick()
    return sizes


async def test_the_wal_stays_one_ticks_writes_long(
    settings: Settings, services: Services, submit: Submit
) -> None:
    sizes = await wal_sizes(settings, submit, services.duties.run_once)

    assert sizes[0] > 0
    assert sizes[2] < 1.5 * sizes[0], f"the WAL grew round after round: {sizes}"
    with sqlite3.connect(database(settings)) as db:
        assert db.execute("SELECT count(*) FROM knocks").fetchone() == (3 * ROUND,)


async def test_without_the_tick_knocks_alone_never_checkpoint(
    settings: Settings, submit: Submit
) -> None:
    sizes = await wal_sizes(settings, submit)

    # Each round's commits went on growing the WAL: none of them stopped to checkpoint.
    assert sizes[0] < sizes[1] < sizes[2]
