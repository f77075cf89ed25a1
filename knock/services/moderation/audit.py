"""The audit log as moderators read it: knocks, newest first, and one knock's whole history."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from knock.config import Settings
from knock.core.answers import questions
from knock.core.history import HistoryEntry
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import State
from knock.services.errors import Unavailable
from knock.store import Store


@dataclass(frozen=True)
class KnockWithHistory:
    """One knock, every line of its audit log (oldest first) and its form's answers."""

    knock: KnockRecord
    history: list[HistoryEntry]
    answers: tuple[tuple[str, str], ...]  # (question, answer); empty when none were kept


class AuditLog:
    """Read knocks and their histories for the admin API and the CLI."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def knocks(
        self,
        *,
        state: State | None = None,
        user_id: str | None = None,
        reason: str | None = None,
        door: str | None = None,
        limit: int = 100,
    ) -> list[KnockRecord]:
        """Return knocks newest first, optionally of one state, person, reason or door."""
        return await self.store.list_knocks(
            state=state, user_id=user_id, reason=reason, door=door, limit=limit
        )

    async def knock(self, knock_id: str) -> KnockWithHistory | None:
        """Return one knock with its history and answers, or None when no knock has that id."""
        knock = await self.store.get_knock(knock_id)
        if knock is None:
            return None
        answers = questions(await self.store.answers_of(knock_id) or {})
        return KnockWithHistory(knock, await self.store.history(knock_id), answers)


@contextlib.asynccontextmanager
async def stored_audit(settings: Settings) -> AsyncIterator[AuditLog]:
    """The audit log as stored, without a room or a sign-in (for `knock knocks`).

    Raise Unavailable("database") in one line when DATABASE_URL cannot be opened.
    """
    try:
        store = await Store.open(
            settings.database_url,
            synchronous=settings.sqlite_synchronous,
            timeout=settings.database_timeout,
        )
    except (SQLAlchemyError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise Unavailable("database", f"DATABASE_URL cannot be opened: {first}") from None
    try:
        yield AuditLog(store)
    finally:
        await store.close()
