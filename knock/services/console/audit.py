"""The console's audit: every moderator action from every route, newest first, paged.

Moderators act through the admin API, the console, the `knock` command and the moderation room;
each writes its actor into the knock's history (knock.core.history.ActorKind: api, console, cli,
matrix). Adding to the block-list or the allow-list keeps who did it and when on the entry, and
shows here as a "block" or "allow" action. Changes that are not about one knock (unblocking,
removing an allow-list entry, confirming a held block, resetting the join wave) are logged with
their actor as they are made (knock.core.history.Change), and erased after RETENTION.
"""

from __future__ import annotations

from dataclasses import dataclass

from knock.core.history import Change
from knock.core.lifecycle import Event
from knock.store import Store
from knock.store.audit import ALLOW, BLOCK, AuditCursor, AuditFilter, AuditRow

__all__ = ["ACTIONS", "LABELS", "Audit", "AuditCursor", "AuditFilter", "AuditPage", "AuditRow"]

PAGE_SIZE = 50
# Every action in plain words, in the order the filter offers them: the knocks' events, then the
# block-list's and allow-list's changes, then the join wave's.
LABELS: dict[str, str] = {
    Event.RECEIVED: "Received",
    Event.REPAIRED: "Repaired the Matrix ID",
    Event.DEFERRED: "Deferred",
    Event.HELD_FOR_REVIEW: "Held for review",
    Event.APPROVED: "Approved",
    Event.DENIED: "Denied",
    Event.QUEUED: "Queued for an invite",
    Event.INVITED: "Invited",
    Event.INVITED_TO_ROOM: "Invited to a room of the space",
    Event.ROOM_INVITE_EXPIRED: "An invite to a room of the space expired",
    Event.REMINDED: "Reminded",
    Event.JOINED: "Joined",
    Event.WELCOMED: "Welcomed",
    Event.DECLINED: "Declined",
    Event.EXPIRED: "Expired",
    Event.RESCINDED: "Rescinded the invite",
    Event.BLOCKED: "Blocked the knock",
    Event.LEFT: "Left",
    Event.FAILED: "Failed",
    Event.DROPPED: "Dropped",
    Event.REJECTED: "Rejected",
    BLOCK: "Blocked",
    Change.UNBLOCK: "Unblocked",
    Change.CONFIRM_BLOCK: "Confirmed a held block",
    ALLOW: "Added to the allow-list",
    Change.UNALLOW: "Removed from the allow-list",
    Change.RESET_JOIN_WAVE: "Reset the join wave",
}
ACTIONS = tuple(str(action) for action in LABELS)  # the values the filter takes


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
