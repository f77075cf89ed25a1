"""The audit log as moderators read it: knocks, newest first, and one knock's whole history."""

from __future__ import annotations

from dataclasses import dataclass

from knock.core.answers import questions
from knock.core.history import HistoryEntry
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import State
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
        self, *, state: State | None = None, user_id: str | None = None, limit: int = 100
    ) -> list[KnockRecord]:
        """Return knocks newest first, optionally of one state or one person."""
        return await self.store.list_knocks(state=state, user_id=user_id, limit=limit)

    async def knock(self, knock_id: str) -> KnockWithHistory | None:
        """Return one knock with its history and answers, or None when no knock has that id."""
        knock = await self.store.get_knock(knock_id)
        if knock is None:
            return None
        answers = questions(await self.store.answers_of(knock_id) or {})
        return KnockWithHistory(knock, await self.store.history(knock_id), answers)
