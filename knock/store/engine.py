"""The database engine, picked from `DATABASE_URL`, with SQLite tuned for durable commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def driver_url(url: str) -> str:
    """Name the async driver for a plain `sqlite:` or `postgresql:` URL."""
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    return url


def make_engine(url: str, *, synchronous: str = "NORMAL", timeout: float = 5.0) -> AsyncEngine:
    """Create the engine; for SQLite turn on WAL and wait `timeout` seconds for a busy writer."""
    full = driver_url(url)
    if not full.startswith("sqlite"):
        return create_async_engine(full, pool_pre_ping=True)
    engine = create_async_engine(full, connect_args={"timeout": timeout})

    @event.listens_for(engine.sync_engine, "connect")
    def _tune(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL with synchronous=NORMAL survives a crash of Knock or its host process; FULL also
        # survives a power loss.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
