"""The console's audit: every moderator action, newest first, filtered and paged.

Two tables hold what moderators did: the knocks' history (a line per event, with its actor) and
the block-list (an entry keeps who added it, `source`, and when). Both are read as one list.
"""

from __future__ import annotations

import math
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
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.store.schema import blocklist_entries, knock_events, knocks
from knock.store.search import ESCAPE, contains

# The actor kinds that are moderators (knock.core.history.ActorKind), as stored: "kind[:name]".
MODERATOR_KINDS = ("api", "console", "cli", "matrix")
MODERATOR_ORIGIN = "moderator"  # block-list entries a moderator added (not a policy room's)
BLOCK, ALLOW = "block", "allow"  # the actions a block-list entry stands for
ID_WIDTH = 10**12  # added to an event's id in its key: 13 digits for every id below 9e12
MAX_KEY = 1200  # a cursor's key is an event id or a block-list pattern (at most 512 characters)


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
    action: str | None = None  # the event exactly ("approved"), or "block" / "allow"
    door: str | None = None  # knocks through this door (block-list entries are every door's)


@dataclass(frozen=True)
class AuditRow:
    """One moderator action."""

    at: float
    key: str  # "e<10**12 + id>" for a history line, "b<allow>:<pattern>" for a block-list entry
    action: str
    actor: str
    target: str  # the knock's Matrix ID, or the block-list entry's pattern
    knock_id: str | None  # None for a block-list entry
    detail: str | None


def is_moderator(actor: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether a stored actor (or block-list source) is a moderator's."""
    named = [actor.like(kind + ":%") for kind in MODERATOR_KINDS]
    return or_(actor.in_(MODERATOR_KINDS), *named)


class AuditQueries:
    """Named queries for the console's audit page."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

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
        both = _both(wanted.door).subquery("audit")
        c = both.c
        query = select(both)
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
                target=str(row["target"]),
                knock_id=row["knock_id"],
                detail=row["detail"],
            )
            for row in rows
        ]
        return found[::-1] if newer_than is not None else found

    async def actors(self, door: str | None = None) -> list[str]:
        """Every moderator who acted (through that door's knocks, and on the block-list)."""
        both = _both(door).subquery("audit")
        query = select(both.c.actor).distinct().order_by(both.c.actor)
        async with self.engine.connect() as conn:
            return [str(actor) for actor in (await conn.execute(query)).scalars()]


def _both(door: str | None) -> CompoundSelect[Any]:
    """Moderators' history lines and block-list entries, as one select of the same columns."""
    e, k, b = knock_events.c, knocks.c, blocklist_entries.c
    lines = (
        select(
            e.at.label("at"),
            # Fixed-width digits, so that the text orders as the ids do.
            (literal("e") + cast(cast(e.id, BigInteger) + ID_WIDTH, Text)).label("key"),
            e.event.label("action"),
            e.actor.label("actor"),
            k.user_id.label("target"),
            e.knock_id.label("knock_id"),
            e.detail.label("detail"),
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
    ).where(b.origin == MODERATOR_ORIGIN, is_moderator(b.source))
    return union_all(lines, entries)
