"""The database engine, picked from `DATABASE_URL`, with SQLite tuned for durable commits."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

# The database holds the bot's access token: its file, and the -wal and -shm files SQLite gives
# the same mode, are readable by their owner only.
PRIVATE = 0o600


def driver_url(url: str) -> str:
    """Name the async driver for a plain `sqlite:` or `postgresql:` URL."""
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    return url


def make_engine(url: str, *, synchronous: str = "NORMAL", timeout: float = 5.0) -> AsyncEngine:
    """Create the engine; wait at most `timeout` seconds for a busy database (SQLite: in WAL)."""
    full = driver_url(url)
    if not full.startswith("sqlite"):
        # `timeout` bounds connecting, waiting for a pooled connection and waiting for a lock
        # another client holds (then the caller hears "busy, retry later").
        engine = create_async_engine(
            full,
            pool_pre_ping=True,
            pool_timeout=timeout,
            connect_args={
                "timeout": timeout,
                "server_settings": {"lock_timeout": str(max(1, int(timeout * 1000)))},
            },
        )
        event.listen(engine.sync_engine, "handle_error", _busy_is_operational)
        return engine
    path = sqlite_file(url)
    if path is not None:
        _create_private(path)
        _warn_if_readable_by_others(path)
    engine = create_async_engine(full, connect_args={"timeout": timeout})
    _tune_sqlite(engine.sync_engine, synchronous, timeout)
    return engine


def make_sqlite_thread_engine(
    url: str, *, synchronous: str = "NORMAL", timeout: float = 5.0
) -> Engine:
    """Create a synchronous engine on the same SQLite file, for work run in a worker thread."""
    _, _, rest = url.partition("://")
    path = sqlite_file(url)
    if path is not None:
        _create_private(path)
    engine = create_engine(
        f"sqlite://{rest}", connect_args={"timeout": timeout, "check_same_thread": False}
    )
    # Admission and the worker's hot transactions commit here: none of them should be the one
    # that copies the WAL back into the database (with an fsync), which made about one knock in
    # a hundred 4-5 ms slower. A server's duty tick checkpoints instead (`Store.checkpoint`),
    # every 2 s, long before the WAL reaches this many pages; the threshold still bounds the
    # WAL of a process without that tick (a `knock import` of many knocks).
    _tune_sqlite(engine, synchronous, timeout, checkpoint_pages=HOT_PATH_CHECKPOINT_PAGES)
    return engine


def sqlite_file(url: str) -> str | None:
    """The file a `sqlite:` URL names, as given (None: not SQLite, in memory, or a `file:` URI)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def database_location(url: str) -> str:
    """Where `url` points, for a message: the SQLite file's full path, or the PostgreSQL server
    and database with neither password nor query (which may hold one)."""
    path = sqlite_file(url)
    if path is not None:
        return f"the SQLite file {os.path.abspath(path)}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "a URL that cannot be read"
    if parsed.drivername.startswith("sqlite"):
        return "an in-memory SQLite database"
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.drivername}://{user}{parsed.host or ''}{port}/{parsed.database or ''}"


def cannot_open_database(url: str | SecretStr, exc: BaseException) -> str:
    """One line for a database that cannot be opened: where it is (no password), and why."""
    url = url.get_secret_value() if isinstance(url, SecretStr) else url
    cause = getattr(exc, "orig", None) or exc  # the driver's own error, without SQLAlchemy's tag
    why = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause).strip()
    why = why.splitlines()[0] if why else type(cause).__name__
    return f"DATABASE_URL cannot be opened ({database_location(url)}): {why}"


def _create_private(path: str) -> None:
    """Create a new database file with mode 0600 before SQLite creates it 0644.

    SQLite creates its -wal, -shm and -journal files with the database file's mode, so they are
    private too. An existing file is left as it is.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        pass


def _warn_if_readable_by_others(path: str) -> None:
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "The SQLite file %s is open to other users (mode %04o) and holds the bot's access "
            "token: chmod 600 it and its -wal and -shm files",
            os.path.abspath(path),
            mode,
        )


# Pages of WAL (4 KiB each) after which a hot-path commit checkpoints: 40 MiB.
HOT_PATH_CHECKPOINT_PAGES = 10_000


def _tune_sqlite(
    engine: Engine, synchronous: str, timeout: float, *, checkpoint_pages: int | None = None
) -> None:
    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        # WAL with synchronous=NORMAL survives a crash of Knock or its host process; FULL also
        # survives a power loss. WAL is a property of the file: only the first connection to a
        # new database switches it, and processes starting together may race to do so.
        deadline = time.monotonic() + max(timeout, _WAL_SWITCH_WAIT)
        while not _is_wal(cursor):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except Exception:  # "database is locked", in the driver's own exception class
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # only ever while a new database is first opened
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if checkpoint_pages is not None:  # else SQLite's default, 1,000 pages
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
        cursor.close()


_WAL_SWITCH_WAIT = 30.0  # seconds a new database's first connections may race to switch to WAL


def _is_wal(cursor: Any) -> bool:
    cursor.execute("PRAGMA journal_mode")
    return str(cursor.fetchone()[0]).lower() == "wal"


# PostgreSQL error classes that mean "busy or unreachable right now, try again": connection
# exceptions, insufficient resources, a lock or statement timeout, the server shutting down,
# and transactions that lost a race.
_BUSY_SQLSTATES = ("08", "53", "55P03", "57014", "57P", "40001", "40P01")


def _busy_is_operational(context: Any) -> Exception | None:
    """Raise PostgreSQL's busy errors as OperationalError, as SQLite's "database is locked" is."""
    error = context.sqlalchemy_exception
    if error is None:  # not the driver's error (a cancellation): left as it is
        return None
    return busy_as_operational(error)


def busy_as_operational(error: StatementError) -> OperationalError | None:
    """PostgreSQL's busy `error` as an OperationalError (None: not a busy error, or one already).

    `Store` tells a busy database by OperationalError; see `UNAVAILABLE` and `DATABASE_BUSY`."""
    code = getattr(error.orig, "sqlstate", None) or ""
    if (
        error.orig is None
        or isinstance(error, OperationalError)
        or not code.startswith(_BUSY_SQLSTATES)
    ):
        return None
    return OperationalError(error.statement, error.params, error.orig)
