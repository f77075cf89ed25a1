"""The schema is written twice, and both must say the same: the numbered migrations (what real
databases have) and the Core `Table` objects the queries are built from (knock/store/schema.py).

A freshly migrated database is reflected on each engine and compared with the `Table` objects,
table by table and column by column.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from knock.store import Store
from knock.store.schema import metadata
from tests.integration.harness import DATABASE

# Written by `migrate` itself to record which migrations ran; it has no `Table` object.
BOOKKEEPING_TABLE = "schema_migrations"

# Families of column types: SQLite keeps whatever type name the DDL declared and reflects it
# loosely, so types are compared by the Python values they hold, not by their exact names.
_FAMILIES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    decimal.Decimal: "decimal",
    str: "text",
    bytes: "binary",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.time: "time",
    datetime.timedelta: "interval",
}


def _family(type_: TypeEngine[Any]) -> str:
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return f"unknown ({type_!r})"
    return _FAMILIES.get(python_type, python_type.__name__)


@dataclass(frozen=True)
class ColumnShape:
    family: str
    nullable: bool
    default: str | None  # the server-side default, as SQL text


@dataclass
class TableShape:
    columns: dict[str, ColumnShape] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique: set[tuple[str, ...]] = field(default_factory=set)
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    # (columns, referred table, referred columns, ON DELETE)
    foreign_keys: set[tuple[tuple[str, ...], str, tuple[str, ...], str | None]] = field(
        default_factory=set
    )


def _default(sql: str | None) -> str | None:
    """`0`, `'0'` and `(0)` are the same default; PostgreSQL also adds casts (`'x'::text`)."""
    if sql is None:
        return None
    text = sql.split("::", 1)[0].strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text.strip("'")


def _declared() -> dict[str, TableShape]:
    """The shape of every `Table` object."""
    shapes = {}
    for table in metadata.tables.values():
        shape = TableShape()
        for column in table.columns:
            assert isinstance(column, Column)
            server_default = getattr(column.server_default, "arg", None)
            default = getattr(server_default, "text", server_default)
            shape.columns[column.name] = ColumnShape(
                _family(column.type),
                bool(column.nullable),
                _default(None if default is None else str(default)),
            )
        shape.primary_key = tuple(column.name for column in table.primary_key.columns)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                shape.unique.add(tuple(column.name for column in constraint.columns))
        for index in table.indexes:
            assert isinstance(index, Index) and index.name is not None
            names = tuple(column.name for column in index.columns)
            shape.indexes[str(index.name)] = (names, bool(index.unique))
        for constraint in table.foreign_key_constraints:
            shape.foreign_keys.add(
                (
                    tuple(constraint.column_keys),
                    constraint.referred_table.name,
                    tuple(element.column.name for element in constraint.elements),
                    constraint.ondelete.upper() if constraint.ondelete else None,
                )
            )
        shapes[table.name] = shape
    return shapes


def _reflected(conn: Connection) -> dict[str, TableShape]:
    """The shape of every table in the database."""
    inspector = inspect(conn)
    names = inspector.get_table_names()
    assert BOOKKEEPING_TABLE in names, f"no {BOOKKEEPING_TABLE} table: did the migrations run?"
    shapes = {}
    for name in names:
        if name == BOOKKEEPING_TABLE:
            continue
        shape = TableShape()
        shape.primary_key = tuple(inspector.get_pk_constraint(name)["constrained_columns"])
        for column in inspector.get_columns(name):
            # SQLite lets a PRIMARY KEY column that is not an INTEGER one hold NULL (a documented
            # legacy quirk) and reflects it as nullable; PostgreSQL makes every key NOT NULL.
            nullable = column["nullable"] and column["name"] not in shape.primary_key
            default = column.get("default")
            if column.get("autoincrement") is True and "nextval(" in str(default):
                default = None  # PostgreSQL's BIGSERIAL: the auto-numbered key, not a default
            shape.columns[column["name"]] = ColumnShape(
                _family(column["type"]), bool(nullable), _default(default)
            )
        for unique in inspector.get_unique_constraints(name):
            shape.unique.add(tuple(unique["column_names"]))
        for index in inspector.get_indexes(name):
            if index.get("duplicates_constraint"):
                continue  # PostgreSQL's index behind a UNIQUE constraint, compared above
            assert index["name"] is not None
            columns = tuple(str(column) for column in index["column_names"])
            shape.indexes[index["name"]] = (columns, bool(index["unique"]))
        on_delete = _sqlite_on_delete(conn, name) if conn.dialect.name == "sqlite" else {}
        for key in inspector.get_foreign_keys(name):
            constrained = tuple(key["constrained_columns"])
            ondelete = on_delete.get(constrained, key.get("options", {}).get("ondelete"))
            shape.foreign_keys.add(
                (
                    constrained,
                    key["referred_table"],
                    tuple(key["referred_columns"]),
                    ondelete.upper() if ondelete else None,
                )
            )
        shapes[name] = shape
    return shapes


def _sqlite_on_delete(conn: Connection, table: str) -> dict[tuple[str, ...], str | None]:
    """SQLite's ON DELETE actions by constrained columns (SQLAlchemy reflects them only for
    table-level FOREIGN KEY clauses, not for a column's inline REFERENCES)."""
    keys: dict[int, tuple[list[str], str]] = {}
    for row in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")'):
        key_id, _seq, _referred, column, _to, _on_update, on_delete = tuple(row)[:7]
        keys.setdefault(key_id, ([], on_delete))[0].append(column)
    return {
        tuple(columns): None if action == "NO ACTION" else action
        for columns, action in keys.values()
    }


def _differences(declared: dict[str, TableShape], migrated: dict[str, TableShape]) -> list[str]:
    """Say, one line each, where the `Table` objects and the migrated database disagree."""
    found = []
    for name in sorted(declared.keys() - migrated.keys()):
        found.append(f"table {name}: a Table object, but no migration creates it")
    for name in sorted(migrated.keys() - declared.keys()):
        found.append(f"table {name}: created by the migrations, but has no Table object")
    for name in sorted(declared.keys() & migrated.keys()):
        table, database = declared[name], migrated[name]
        for column in sorted(table.columns.keys() - database.columns.keys()):
            found.append(f"{name}.{column}: in the Table object, not in the migrated table")
        for column in sorted(database.columns.keys() - table.columns.keys()):
            found.append(f"{name}.{column}: in the migrated table, not in the Table object")
        for column in sorted(table.columns.keys() & database.columns.keys()):
            ours, theirs = table.columns[column], database.columns[column]
            if ours.family != theirs.family:
                found.append(
                    f"{name}.{column}: type {ours.family} in the Table object, "
                    f"{theirs.family} in the migrated table"
                )
            if ours.nullable != theirs.nullable:
                found.append(
                    f"{name}.{column}: {_null(ours.nullable)} in the Table object, "
                    f"{_null(theirs.nullable)} in the migrated table"
                )
            if ours.default != theirs.default:
                found.append(
                    f"{name}.{column}: server default {ours.default!r} in the Table object, "
                    f"{theirs.default!r} in the migrated table"
                )
        for what in ("primary_key", "unique", "indexes", "foreign_keys"):
            ours, theirs = getattr(table, what), getattr(database, what)
            if ours != theirs:
                found.append(
                    f"{name}: {what.replace('_', ' ')} {_show(ours)} in the Table object, "
                    f"{_show(theirs)} in the migrated table"
                )
    return found


def _null(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"


def _show(value: object) -> str:
    if isinstance(value, set):
        return repr(sorted(value, key=repr)) if value else "none"
    if isinstance(value, dict):
        return repr(dict(sorted(value.items()))) if value else "none"
    return repr(value)


async def test_the_table_objects_describe_what_the_migrations_create() -> None:
    store = await Store.open(DATABASE.url)
    try:
        async with store.engine.connect() as conn:
            migrated = await conn.run_sync(_reflected)
    finally:
        await store.close()
    engine = DATABASE.url.split(":", 1)[0]

    differences = _differences(_declared(), migrated)

    assert not differences, f"schema.py and the migrations disagree ({engine}):\n" + "\n".join(
        differences
    )
