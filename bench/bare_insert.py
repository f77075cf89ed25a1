"""The second intake reference: the bare route plus one committed INSERT of the body.

`python -m bench.intake` serves it with the same uvicorn options as Knock and the bare route
(`uvicorn bench.bare_insert:app`, one process), with `BENCH_DATABASE_URL` naming a fresh
database: `sqlite:///<file>` or `postgresql://...`. Each request reads the body, parses the JSON
(as the bare route does), stores the body in one INSERT committed on its own (no batching, no
other statement), and answers 202 with the new row's id as `knock_id`, so the benchmark can
match the 202s with the stored rows as it does Knock's. The difference between this route and
the bare one is what durability alone costs on this stack.

- SQLite: the file in WAL mode with `synchronous=NORMAL`, as Knock opens it; the INSERT runs on
  one database thread (stdlib sqlite3, autocommit), as Knock's SQLite writes leave the event loop
  for a thread.
- PostgreSQL: asyncpg, the driver Knock uses, with a pool as large as Knock's engine may grow
  (SQLAlchemy's default: 5 connections and 10 more on demand); each INSERT is its own
  transaction, committed (fsync on) before the answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

POOL_SIZE = 15  # SQLAlchemy's default pool: 5, and 10 more on demand
SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, submission TEXT NOT NULL"
    " UNIQUE, received_at REAL NOT NULL, body TEXT NOT NULL)"
)
POSTGRES_TABLE = (
    "CREATE TABLE IF NOT EXISTS deliveries (id BIGSERIAL PRIMARY KEY, submission TEXT NOT NULL"
    " UNIQUE, received_at DOUBLE PRECISION NOT NULL, body TEXT NOT NULL)"
)


class SqliteStore:
    """One SQLite connection used by one thread: each INSERT is its own committed transaction."""

    def __init__(self, path: str) -> None:
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(SQLITE_TABLE)

    def _insert(self, submission: str, now: float, body: str) -> int:
        cursor = self.conn.execute(
            "INSERT INTO deliveries (submission, received_at, body) VALUES (?, ?, ?)",
            (submission, now, body),
        )
        return int(cursor.lastrowid or 0)

    async def insert(self, submission: str, now: float, body: str) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.thread, self._insert, submission, now, body)

    async def close(self) -> None:
        self.thread.shutdown()
        self.conn.close()


class PostgresStore:
    """An asyncpg pool: each INSERT is its own committed transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE)
        await pool.execute(POSTGRES_TABLE)
        return cls(pool)

    async def insert(self, submission: str, now: float, body: str) -> int:
        row_id = await self.pool.fetchval(
            "INSERT INTO deliveries (submission, received_at, body) VALUES ($1, $2, $3)"
            " RETURNING id",
            submission,
            now,
            body,
        )
        return int(row_id)

    async def close(self) -> None:
        await self.pool.close()


async def open_store(url: str) -> SqliteStore | PostgresStore:
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        return SqliteStore(rest.removeprefix("/"))
    if scheme in ("postgresql", "postgres"):
        return await PostgresStore.open(url)
    raise SystemExit(f"BENCH_DATABASE_URL: sqlite:///<file> or postgresql://..., not {scheme!r}")


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[None]:
    store = await open_store(os.environ["BENCH_DATABASE_URL"])
    api.state.store = store
    try:
        yield
    finally:
        await store.close()


app = FastAPI(lifespan=lifespan)


def submission_of(delivery: Any) -> str:
    """The delivery's submission id (Tally's), the key the benchmark matches rows by."""
    data = delivery.get("data") if isinstance(delivery, dict) else None
    submission = data.get("submissionId") if isinstance(data, dict) else None
    return str(submission or delivery.get("eventId", ""))


@app.post("/invite_from_form")
async def take(request: Request) -> Response:
    """Read the body, parse the JSON, commit one INSERT of it, answer 202 with the row's id."""
    body = await request.body()
    delivery = json.loads(body)
    row_id = await request.app.state.store.insert(
        submission_of(delivery), time.time(), body.decode()
    )
    return Response(
        b'{"status":"accepted","knock_id":"%d"}' % row_id,
        status_code=202,
        media_type="application/json",
    )
