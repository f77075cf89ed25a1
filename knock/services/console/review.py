"""The console's review queue: the knocks held for review with what a moderator decides on.

Read from the database only (no homeserver call per page view; the page adds names and avatars
from the profile cache, `Profiles`); decisions go through :class:`Moderation`, like the admin
API's and the moderation room's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from knock.clock import Clock
from knock.config import Settings
from knock.core.answers import questions
from knock.core.explain import ago, held_because, platform_name
from knock.core.history import Actor
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import State
from knock.services.moderation.actions import Moderation, NoSuchKnock, NotInReview
from knock.store import Store

# Knocks shown at once, oldest first; a join wave can hold hundreds, decided a page at a time.
SHOWN = 100
# What one bulk decision may name (the page shows no more than this).
MOST_AT_ONCE = SHOWN
NOTE_LIMIT = 2000  # as the admin API's note


@dataclass(frozen=True)
class Held:
    """One knock held for review, as the page shows it."""

    knock: KnockRecord
    answers: tuple[tuple[str, str], ...] | None  # question -> answer; None when none are kept
    why: tuple[str, ...]  # why it is held, one sentence per finding, the main one first
    platform: str  # where it came from, named
    arrived_ago: str  # "3 hours ago"


@dataclass(frozen=True)
class Queue:
    """The knocks held for review, oldest first, and how many there are in all."""

    held: tuple[Held, ...]
    total: int
    answers_kept: bool  # STORE_FORM_ANSWERS: when off, no knock has answers to show


@dataclass(frozen=True)
class Decided:
    """What one decision (of one knock or several) did."""

    done: tuple[str, ...]  # the knocks decided
    gone: int  # named knocks no longer in review (decided meanwhile, or erased)


class Reviews:
    """Gather the review queue, and decide knocks in it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        moderation: Moderation,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.moderation = moderation

    async def queue(self, door: str, limit: int = SHOWN) -> Queue:
        """A door's oldest knocks held for review, each with its answers and why it is held."""
        knocks = await self.store.knocks_in([State.REVIEW], limit=limit, door=door)
        total = await self.store.console.count_in(State.REVIEW.value, door)
        now = self.clock.now()
        held = []
        for knock in knocks:
            history = await self.store.history(knock.knock_id)
            answers = await self.store.answers_of(knock.knock_id)
            why = held_because(
                knock.reason, history, user_id=knock.user_id, requested_id=knock.requested_id
            )
            held.append(
                Held(
                    knock=knock,
                    answers=None if answers is None else questions(answers),
                    why=why,
                    platform=platform_name(knock.source),
                    arrived_ago=ago(now - knock.received_at),
                )
            )
        return Queue(tuple(held), max(total, len(held)), self.settings.store_form_answers)

    async def approve(
        self, knock_ids: Iterable[str], actor: Actor, doors: frozenset[str] | None = None
    ) -> Decided:
        """Let these knocks go ahead to their invites (those still in review, at `doors`)."""
        return await self._decide(knock_ids, actor, None, doors, approve=True)

    async def deny(
        self,
        knock_ids: Iterable[str],
        actor: Actor,
        note: str | None,
        doors: frozenset[str] | None = None,
    ) -> Decided:
        """Turn these knocks down (those at `doors`), silently, with a note only moderators see."""
        return await self._decide(knock_ids, actor, note, doors, approve=False)

    async def _decide(
        self,
        knock_ids: Iterable[str],
        actor: Actor,
        note: str | None,
        doors: frozenset[str] | None,
        *,
        approve: bool,
    ) -> Decided:
        note = (note or "").strip()[:NOTE_LIMIT] or None
        done: list[str] = []
        gone = 0
        for knock_id in dict.fromkeys(knock_ids):
            if doors is not None and not await self._at(knock_id, doors):
                gone += 1  # at a door this moderator does not moderate: as if gone
                continue
            try:
                if approve:
                    await self.moderation.approve(knock_id, actor, note)
                else:
                    await self.moderation.deny(knock_id, actor, note)
            except (NoSuchKnock, NotInReview):
                gone += 1  # decided by another moderator meanwhile, or erased
                continue
            done.append(knock_id)
        return Decided(tuple(done), gone)

    async def _at(self, knock_id: str, doors: frozenset[str]) -> bool:
        knock = await self.store.get_knock(knock_id)
        return knock is not None and knock.door in doors
