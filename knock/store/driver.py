"""Statements run straight on the driver's cursor, each rendered once.

SQLAlchemy builds an execution context for every statement it runs: 30–50 µs of Python, where
SQLite runs one of admission's small statements in 4–6 µs. Admission's transaction runs a dozen
for every knock, so its statements are rendered to the driver's SQL once (per dialect, and per
length of each list bound with ``expanding=True``) and run on the connection's own cursor, inside
the transaction SQLAlchemy began. Rows come back as the driver gives them: tuples, read by place.

Only statements whose rendering the values cannot change go this way: a statement that inlines
a value into its SQL (SQLAlchemy's ``literal_execute``) is refused when it is first rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Insert
from sqlalchemy.sql.compiler import SQLCompiler

from knock.store.engine import busy_as_operational

__all__ = ["execute", "execute_many", "insert_rows", "rows", "scalar"]

_Getter = Callable[[Mapping[str, Any]], Any]


class _Rendered(NamedTuple):
    sql: str
    values: tuple[_Getter, ...]  # each positional value, from the caller's parameters

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(value(params) for value in self.values)


# (statement, dialect) -> its compiled form and the names bound to lists; statements are
# module-level constants (or cached per shape), so keying them by identity holds them once.
_COMPILED: dict[tuple[ClauseElement, str], tuple[SQLCompiler, tuple[str, ...]]] = {}
_RENDERED: dict[tuple[ClauseElement, str, tuple[int, ...]], _Rendered] = {}
_INSERTS: dict[tuple[Insert, str, tuple[str, ...]], _Rendered] = {}


def rows(conn: Connection, statement: ClauseElement, params: Mapping[str, Any] = {}) -> list[Any]:
    """The rows `statement` returns, as tuples."""
    rendered = _rendered(conn, statement, params)
    args = rendered.args(params)
    with _cursor(conn, rendered.sql, args) as cursor:
        cursor.execute(rendered.sql, args)
        return list(cursor.fetchall())


def scalar(conn: Connection, statement: ClauseElement, params: Mapping[str, Any] = {}) -> Any:
    """The first column of the first row `statement` returns (None: no row)."""
    found = rows(conn, statement, params)
    return found[0][0] if found else None


def execute(conn: Connection, statement: ClauseElement, params: Mapping[str, Any] = {}) -> int:
    """Run a statement that returns no rows; return how many rows it changed."""
    rendered = _rendered(conn, statement, params)
    args = rendered.args(params)
    with _cursor(conn, rendered.sql, args) as cursor:
        cursor.execute(rendered.sql, args)
        return int(cursor.rowcount)


def execute_many(
    conn: Connection, statement: ClauseElement, batch: Sequence[Mapping[str, Any]]
) -> None:
    """Run a statement that returns no rows once for each of `batch` (no lists bound)."""
    if not batch:
        return
    rendered = _rendered(conn, statement, batch[0])
    many = [rendered.args(params) for params in batch]
    with _cursor(conn, rendered.sql, many) as cursor:
        cursor.executemany(rendered.sql, many)


def insert_rows(conn: Connection, statement: Insert, batch: Sequence[Mapping[str, Any]]) -> None:
    """Insert `batch`, rows that all name the same columns (those left out get the server's
    default); `statement` is a bare ``insert(table)``."""
    if not batch:
        return
    columns = tuple(batch[0])
    key = (statement, conn.dialect.name, columns)
    rendered = _INSERTS.get(key)
    if rendered is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
        assert isinstance(compiled, SQLCompiler) and compiled.positional
        example = dict.fromkeys(columns)
        rendered = _INSERTS[key] = _render(compiled, example, example)
    many = [rendered.args(row) for row in batch]
    with _cursor(conn, rendered.sql, many) as cursor:
        cursor.executemany(rendered.sql, many)


@contextmanager
def _cursor(conn: Connection, sql: str, args: Any) -> Iterator[DBAPICursor]:
    """The connection's own cursor; the driver's errors raised as SQLAlchemy and Knock's engine
    raise them (`IntegrityError`, `OperationalError` for a busy database, ...).

    A connection lost, or left mid-statement by a cancellation, is SQLAlchemy's to handle as it
    ends the transaction (and PostgreSQL's pool pings a connection before handing it out)."""
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as error:
        wrapped = DBAPIError.instance(
            sql,
            args,
            error,
            conn.dialect.loaded_dbapi.Error,
            hide_parameters=conn.engine.hide_parameters,
            dialect=conn.dialect,
        )
        assert isinstance(wrapped, DBAPIError)
        raise busy_as_operational(wrapped) or wrapped from error
    finally:
        cursor.close()


def _rendered(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> _Rendered:
    dialect = conn.dialect.name
    known = _COMPILED.get((statement, dialect))
    if known is None:
        compiled = statement.compile(dialect=conn.dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params or not compiled.positional:
            raise ValueError(f"not a statement to render once: {compiled}")
        lists = tuple(bind.key for bind in compiled.binds.values() if bind.expanding)
        known = _COMPILED[(statement, dialect)] = (compiled, lists)
    compiled, lists = known
    key = (statement, dialect, tuple(len(params.get(name, ())) for name in lists))
    rendered = _RENDERED.get(key)
    if rendered is None:
        rendered = _RENDERED[key] = _render(compiled, params, params)
    return rendered


def _render(
    compiled: SQLCompiler, example: Mapping[str, Any], given: Mapping[str, Any]
) -> _Rendered:
    """The statement's SQL with each list spread to its length in `example`, and how to read
    each positional value from the caller's parameters (`given`: the names the caller gives)."""
    expanded = compiled.construct_expanded_state(dict(example))
    spread = {
        name: (original, place)
        for original, names in expanded.parameter_expansion.items()
        for place, name in enumerate(names)
    }
    values = []
    for name in expanded.positiontup or ():
        if name in given:
            value: _Getter = itemgetter(name)
        elif name in spread and spread[name][0] in given:
            original, place = spread[name]
            value = _item(original, place)
        else:  # bound in the statement itself
            value = _constant(expanded.parameters[name])
        processor = expanded.processors.get(name)
        values.append(value if processor is None else _processed(value, processor))
    return _Rendered(expanded.statement, tuple(values))


def _item(name: str, place: int) -> _Getter:
    return lambda params: params[name][place]


def _constant(value: Any) -> _Getter:
    return lambda _: value


def _processed(value: _Getter, processor: Callable[[Any], Any]) -> _Getter:
    return lambda params: processor(value(params))
