"""The console's knocks: every knock filtered and paged (newest first), and one knock in full."""

from __future__ import annotations

from dataclasses import dataclass

from knock.config import Settings
from knock.core.answers import questions
from knock.core.evidence import MatchEvidence, read_evidence
from knock.core.knock_filter import Cursor, KnockFilter
from knock.core.knocks import KnockRecord
from knock.services.console.profiles import Profile, Profiles
from knock.store import Store

PAGE_SIZE = 50


@dataclass(frozen=True)
class Listing:
    """One page of knocks, newest first, and where the pages beside it start."""

    knocks: list[KnockRecord]
    profiles: dict[str, Profile]  # the cached profiles of the people on the page
    newer: Cursor | None  # the page before this one reads from here (None: this is the first)
    older: Cursor | None  # the page after this one reads from here (None: this is the last)


@dataclass(frozen=True)
class HistoryRow:
    """One line of a knock's history, with block-list evidence read back from its JSON."""

    at: float
    event: str
    actor: str
    detail: str | None
    evidence: tuple[MatchEvidence, ...] | None


@dataclass(frozen=True)
class KnockDetail:
    """A knock, its answers (None when none are kept) and its whole history, oldest first."""

    knock: KnockRecord
    profile: Profile | None
    answers: tuple[tuple[str, str], ...] | None  # question, answer; None: none kept
    answers_kept: bool  # STORE_FORM_ANSWERS: False means answers are never kept
    history: list[HistoryRow]


class KnockSearch:
    """Read knocks for the console: from the database and the profile cache, never Matrix."""

    def __init__(self, settings: Settings, store: Store, profiles: Profiles) -> None:
        self.settings = settings
        self.store = store
        self.profiles = profiles

    async def knocks(
        self,
        wanted: KnockFilter,
        *,
        older_than: Cursor | None = None,
        newer_than: Cursor | None = None,
        limit: int = PAGE_SIZE,
    ) -> Listing:
        """One page of the knocks that pass the filter (keyset paging on arrival time and id).

        Keyset rather than offset paging: a page stays put while new knocks arrive on top, and
        a page deep in the list costs what the first one does. Reading back (`newer_than`) to
        the top gives the first page as it is now, full.
        """
        search = self.store.search
        if newer_than is not None:
            found = await search.knocks(wanted, limit=limit + 1, newer_than=newer_than)
            if len(found) > limit:
                shown = found[1:]  # one more than a page: a newer page exists
                return await self._listing(shown, newer=_cursor(shown[0]), older=_cursor(shown[-1]))
            return await self.knocks(wanted, limit=limit)  # back at the top
        found = await search.knocks(wanted, limit=limit + 1, older_than=older_than)
        shown = found[:limit]
        newer = None
        if older_than is not None:
            newer = _cursor(shown[0]) if shown else older_than
        older = _cursor(shown[-1]) if len(found) > limit else None
        return await self._listing(shown, newer=newer, older=older)

    async def sources(self, door: str | None = None) -> list[str]:
        """The platforms knocks (through `door`, if given) came from, for the filter's choices."""
        return await self.store.search.sources(door)

    async def knock(self, knock_id: str) -> KnockDetail | None:
        """One knock with its answers and history; None when no knock has that id."""
        knock = await self.store.get_knock(knock_id)
        if knock is None:
            return None
        stored = await self.store.answers_of(knock_id)
        history = [
            HistoryRow(line.at, line.event, line.actor, line.detail, read_evidence(line.detail))
            for line in await self.store.history(knock_id)
        ]
        profiles = await self.profiles.of([knock.user_id])
        return KnockDetail(
            knock=knock,
            profile=profiles.get(knock.user_id),
            answers=None if stored is None else questions(stored),
            answers_kept=self.settings.store_form_answers,
            history=history,
        )

    async def _listing(
        self, shown: list[KnockRecord], *, newer: Cursor | None, older: Cursor | None
    ) -> Listing:
        profiles = await self.profiles.of(sorted({knock.user_id for knock in shown}))
        return Listing(shown, profiles, newer, older)


def _cursor(knock: KnockRecord) -> Cursor:
    return Cursor(knock.received_at, knock.knock_id)
