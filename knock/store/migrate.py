"""Apply the numbered migrations once, under a lock, so that many processes may start together."""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.store.schema import BINARY, MIGRATIONS, SERIAL

log = logging.getLogger(__name__)

# Any constant: every Knock process asks PostgreSQL for the same advisory lock.
_PG_LOCK_KEY = 0x6B6E6F636B


async def migrate(engine: AsyncEngine) -> int:
    """Bring the schema up to date; return how many migrations ran."""
    dialect = engine.dialect.name
    async with engine.connect() as conn:
        await _lock(conn, dialect)
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
        )
        done = {row[0] for row in await conn.execute(text("SELECT version FROM schema_migrations"))}
        ran = 0
        for version, statements in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            for statement in statements:
                sql = statement.format(serial=SERIAL[dialect], binary=BINARY[dialect])
                await conn.execute(text(sql))
            await conn.execute(
                text("INSERT INTO schema_migrations (version, applied_at) VALUES (:v, :t)"),
                {"v": version, "t": time.time()},
            )
            log.info("Applied database migration %d", version)
            ran += 1
        await conn.commit()
    return ran


async def _lock(conn: AsyncConnection, dialect: str) -> None:
    if dialect == "sqlite":
        # Takes the write lock now rather than at the first write, so two processes starting
        # together cannot both decide a migration is missing.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
