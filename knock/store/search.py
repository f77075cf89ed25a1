"""The console's searches: every knock, filtered and paged; when pending invites were reminded."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.core.knock_filter import Cursor, KnockFilter
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import Event
from knock.store.records import knock_from_row
from knock.store.schema import knock_events, knocks

ESCAPE = "\\"


def contains(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%")
    return "%" + escaped.replace("_", ESCAPE + "_") + "%"


class SearchQueries:
    """Named queries for the console's list of knocks and its pending invites."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def knocks(
        self,
        wanted: KnockFilter,
        *,
        limit: int,
        older_than: Cursor | None = None,
        newer_than: Cursor | None = None,
    ) -> list[KnockRecord]:
        """Knocks that pass the filter, newest first, from a place in the list (keyset paging).

        `older_than` reads on towards older knocks; `newer_than` reads back towards newer ones
        (the `limit` knocks just newer than the cursor, still returned newest first).
        """
        k = knocks.c
        query = select(knocks).where(*_conditions(wanted))
        if newer_than is not None:
            query = query.where(
                or_(
                    k.received_at > newer_than.received_at,
                    and_(k.received_at == newer_than.received_at, k.knock_id > newer_than.knock_id),
                )
            ).order_by(k.received_at, k.knock_id)
        else:
            if older_than is not None:
                query = query.where(
                    or_(
                        k.received_at < older_than.received_at,
                        and_(
                            k.received_at == older_than.received_at,
                            k.knock_id < older_than.knock_id,
                        ),
                    )
                )
            query = query.order_by(k.received_at.desc(), k.knock_id.desc())
        async with self.engine.connect() as conn:
            found = [knock_from_row(row) for row in await conn.execute(query.limit(limit))]
        return found[::-1] if newer_than is not None else found

    async def sources(self, door: str | None = None) -> list[str]:
        """Every platform knocks (through `door`, if given) came from, as stored."""
        query = select(knocks.c.source).distinct().order_by(knocks.c.source)
        if door is not None:
            query = query.where(knocks.c.door == door)
        async with self.engine.connect() as conn:
            return [str(source) for source in (await conn.execute(query)).scalars()]

    async def reminded_at(self, knock_ids: Iterable[str]) -> dict[str, float]:
        """When each of these knocks was reminded of its invite (those never reminded left out)."""
        ids = sorted(set(knock_ids))
        if not ids:
            return {}
        e = knock_events.c
        query = (
            select(e.knock_id, func.max(e.at))
            .where(e.knock_id.in_(ids), e.event == Event.REMINDED.value)
            .group_by(e.knock_id)
        )
        async with self.engine.connect() as conn:
            return {str(knock_id): float(at) for knock_id, at in await conn.execute(query)}


def _conditions(wanted: KnockFilter) -> list[ColumnElement[bool]]:
    k = knocks.c
    conditions: list[ColumnElement[bool]] = []
    if wanted.door is not None:
        conditions.append(k.door == wanted.door)
    if wanted.state is not None:
        conditions.append(k.state == wanted.state.value)
    if wanted.reason is not None:
        conditions.append(k.reason == wanted.reason)
    if wanted.source is not None:
        conditions.append(k.source == wanted.source)
    if wanted.since is not None:
        conditions.append(k.received_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(k.received_at < wanted.until)
    if wanted.text:
        # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite (whose lower() folds ASCII only).
        # The answers are searched as stored, in their JSON text.
        pattern = contains(wanted.text)
        conditions.append(
            or_(
                k.user_id.ilike(pattern, escape=ESCAPE),
                k.requested_id.ilike(pattern, escape=ESCAPE),
                k.answers.ilike(pattern, escape=ESCAPE),
            )
        )
    return conditions
