"""The console's audit: every moderator action, newest first, filtered and paged.

Three tables hold what moderators did: the knocks' history (a line per event, with its actor),
the block-list (an entry keeps who added it, `source`, and when) and the moderators' own log of
changes that are not about one knock (unblocking, removing an allow-list entry, confirming a
held block, resetting the join wave). They are read as one list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Text,
    and_,
    case,
    cast,
    delete,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from knock.core.knocks import EVERY_DOOR
from knock.store.schema import blocklist_entries, knock_events, knocks, moderator_actions
from knock.store.search import ESCAPE, contains

# The actor kinds that are moderators (knock.core.history.ActorKind), as stored: "kind[:name]".
MODERATOR_KINDS = ("api", "console", "cli", "matrix")
MODERATOR_ORIGIN = "moderator"  # block-list entries a moderator added (not a policy room's)
BLOCK, ALLOW = "block", "allow"  # the actions a block-list entry stands for
ID_WIDTH = 10**12  # added to a row's id in its key: 13 digits for every id below 9e12
MAX_KEY = 1200  # a cursor's key is a row's id or a block-list pattern (at most 512 characters)

Writer = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class AuditCursor:
    """A place in the audit, newest first: the action's time, then its key for ties.

    Written into page links as `<at>_<key>`: a float's repr never holds an underscore.
    """

    at: float
    key: str

    def __str__(self) -> str:
        return f"{self.at!r}_{self.key}"

    @classmethod
    def parse(cls, text: str | None) -> AuditCursor | None:
        """Read a cursor back from a link; None for anything else."""
        if not text or len(text) > MAX_KEY:
            return None
        at, separator, key = text.partition("_")
        if not separator or not key:
            return None
        try:
            when = float(at)
        except ValueError:
            return None
        return cls(when, key) if math.isfinite(when) else None


@dataclass(frozen=True)
class AuditFilter:
    """Which actions to list; every field left None lets every action through."""

    actor: str | None = None  # in the actor, any case ("console", "api:admin", "@mod:hs")
    action: str | None = None  # the event exactly ("approved"), "block" / "allow", or a Change
    # Knocks through this door, and changes about it (the block-list's are every door's).
    door: str | None = None


@dataclass(frozen=True)
class AuditRow:
    """One moderator action."""

    at: float
    # "e<10**12 + id>" for a history line, "b<allow>:<pattern>" for a block-list entry,
    # "a<10**12 + id>" for a line of the moderators' log
    key: str
    action: str
    actor: str
    target: str | None  # the knock's Matrix ID, an entry's pattern; None for the join wave
    knock_id: str | None  # None but for a history line
    detail: str | None
    door: str = EVERY_DOOR  # the knock's door; EVERY_DOOR for the lists and the join wave


def is_moderator(actor: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether a stored actor (or block-list source) is a moderator's."""
    named = [actor.like(kind + ":%") for kind in MODERATOR_KINDS]
    return or_(actor.in_(MODERATOR_KINDS), *named)


class AuditQueries:
    """Named queries for the console's audit page."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def actions(
        self,
        wanted: AuditFilter,
        *,
        limit: int,
        older_than: AuditCursor | None = None,
        newer_than: AuditCursor | None = None,
    ) -> list[AuditRow]:
        """Moderator actions that pass the filter, newest first, from a place (keyset paging).

        `newer_than` reads back towards newer actions (still returned newest first).
        """
        every = _every(wanted.door).subquery("audit")
        c = every.c
        query = select(every)
        if wanted.actor:
            query = query.where(c.actor.ilike(contains(wanted.actor), escape=ESCAPE))
        if wanted.action:
            query = query.where(c.action == wanted.action)
        if newer_than is not None:
            query = query.where(
                or_(c.at > newer_than.at, and_(c.at == newer_than.at, c.key > newer_than.key))
            ).order_by(c.at, c.key)
        else:
            if older_than is not None:
                query = query.where(
                    or_(c.at < older_than.at, and_(c.at == older_than.at, c.key < older_than.key))
                )
            query = query.order_by(c.at.desc(), c.key.desc())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        found = [
            AuditRow(
                at=float(row["at"]),
                key=str(row["key"]),
                action=str(row["action"]),
                actor=str(row["actor"]),
                target=row["target"],
                knock_id=row["knock_id"],
                detail=row["detail"],
                door=str(row["door"]),
            )
            for row in rows
        ]
        return found[::-1] if newer_than is not None else found

    async def actors(self, door: str | None = None) -> list[str]:
        """Every moderator who acted (through that door's knocks, on the block-list, ...)."""
        every = _every(door).subquery("audit")
        query = select(every.c.actor).distinct().order_by(every.c.actor)
        async with self.engine.connect() as conn:
            return [str(actor) for actor in (await conn.execute(query)).scalars()]

    async def forget(self, before: float) -> int:
        """Erase the moderators' log older than `before` (RETENTION); return how many lines.

        A knock's history goes with the knock, and a block-list entry's addition with the entry.
        """
        async with self._write() as conn:
            gone = await conn.execute(
                delete(moderator_actions).where(moderator_actions.c.at < before)
            )
            return int(gone.rowcount)


def _every(door: str | None) -> CompoundSelect[Any]:
    """Moderators' history lines, block-list entries and log, as one select of the same columns."""
    e, k, b, m = knock_events.c, knocks.c, blocklist_entries.c, moderator_actions.c
    lines = (
        select(
            e.at.label("at"),
            _key("e", e.id),
            e.event.label("action"),
            e.actor.label("actor"),
            k.user_id.label("target"),
            e.knock_id.label("knock_id"),
            e.detail.label("detail"),
            k.door.label("door"),
        )
        .select_from(knock_events.join(knocks, e.knock_id == k.knock_id))
        # A person's own membership changes (joined, declined, left) are written as
        # "matrix:<their id>" too: those are not a moderator's.
        .where(is_moderator(e.actor), e.actor != literal("matrix:") + k.user_id)
    )
    if door is not None:
        lines = lines.where(k.door == door)
    entries = select(
        b.added_at.label("at"),
        (literal("b") + cast(b.allow, Text) + literal(":") + b.pattern).label("key"),
        case((b.allow == 1, literal(ALLOW)), else_=literal(BLOCK)).label("action"),
        b.source.label("actor"),
        b.pattern.label("target"),
        cast(null(), Text).label("knock_id"),
        b.reason.label("detail"),
        cast(literal(EVERY_DOOR), Text).label("door"),
    ).where(b.origin == MODERATOR_ORIGIN, is_moderator(b.source))
    changes = select(
        m.at.label("at"),
        _key("a", m.id),
        m.action.label("action"),
        m.actor.label("actor"),
        m.target.label("target"),
        cast(null(), Text).label("knock_id"),
        m.note.label("detail"),
        m.door.label("door"),
    ).where(is_moderator(m.actor))
    if door is not None:
        changes = changes.where(m.door.in_([door, EVERY_DOOR]))
    return union_all(lines, entries, changes)


def _key(prefix: str, row_id: ColumnElement[int]) -> ColumnElement[str]:
    """A row's key: the prefix, then fixed-width digits, so that the text orders as ids do."""
    return (literal(prefix) + cast(cast(row_id, BigInteger) + ID_WIDTH, Text)).label("key")
