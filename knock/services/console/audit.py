"""The console's audit: every moderator action from every route, newest first, paged.

Moderators act through the admin API, the console, the `knock` command and the moderation room;
each writes its actor into the knock's history (knock.core.history.ActorKind: api, console, cli,
matrix). Adding to the block-list or the allow-list keeps who did it and when on the entry, and
shows here as a "block" or "allow" action. Unblocking and removing an allow-list entry are not
recorded with their actor anywhere (only Knock's log says them), so they are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from knock.core.lifecycle import Event
from knock.store import Store
from knock.store.audit import ALLOW, BLOCK, AuditCursor, AuditFilter, AuditRow

__all__ = ["ACTIONS", "Audit", "AuditCursor", "AuditFilter", "AuditPage", "AuditRow"]

PAGE_SIZE = 50
# The actions the filter offers: the knocks' events, then the block-list's additions.
ACTIONS = (*(event.value for event in Event), BLOCK, ALLOW)


@dataclass(frozen=True)
class AuditPage:
    """One page of actions, newest first, and where the pages beside it start."""

    rows: list[AuditRow]
    newer: AuditCursor | None  # the page before this one reads from here (None: the first)
    older: AuditCursor | None  # the page after this one reads from here (None: the last)


class Audit:
    """Read the moderators' actions for the console, from the database only."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def actions(
        self,
        wanted: AuditFilter,
        *,
        older_than: AuditCursor | None = None,
        newer_than: AuditCursor | None = None,
        limit: int = PAGE_SIZE,
    ) -> AuditPage:
        """One page of the actions that pass the filter (keyset paging on time and key)."""
        queries = self.store.audit
        if newer_than is not None:
            found = await queries.actions(wanted, limit=limit + 1, newer_than=newer_than)
            if len(found) > limit:
                shown = found[1:]  # one more than a page: a newer page exists
                return AuditPage(shown, _cursor(shown[0]), _cursor(shown[-1]))
            return await self.actions(wanted, limit=limit)  # back at the top
        found = await queries.actions(wanted, limit=limit + 1, older_than=older_than)
        shown = found[:limit]
        newer = None
        if older_than is not None:
            newer = _cursor(shown[0]) if shown else older_than
        older = _cursor(shown[-1]) if len(found) > limit else None
        return AuditPage(shown, newer, older)

    async def actors(self, door: str | None = None) -> list[str]:
        """The moderators who acted, for the filter's suggestions."""
        return await self.store.audit.actors(door)


def _cursor(row: AuditRow) -> AuditCursor:
    return AuditCursor(row.at, row.key)
