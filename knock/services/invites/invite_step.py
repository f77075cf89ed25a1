"""Invite one queued knock, idempotently: the room is read before anything is written to it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from knock.clock import Clock
from knock.config import Settings
from knock.core import mxid
from knock.core.admission_batch import Rules, Strike
from knock.core.evidence import evidence_text
from knock.core.history import WORKER, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import Event, Reason, State
from knock.doors import Door, default_door, door_of
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.blocklist.index import Blocklist
from knock.services.homeserver.profiles import Lookup, ProfileCache, look_up
from knock.services.homeserver.room_check import suggested_rooms
from knock.store import Job, Store

log = logging.getLogger(__name__)


class Inviter:
    """Carry out invite jobs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        blocklist: Blocklist,
        rules: Rules,
        profiles: ProfileCache,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.blocklist = blocklist
        self.rules = rules
        self.profiles = profiles
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}

    async def run(self, job: Job, knock: KnockRecord) -> bool:
        """Invite a queued knock (or settle it otherwise); return whether that completed the job."""
        if knock.state is not State.QUEUED:
            return False
        step = InviteStep(self, knock, job)
        await step.run()
        return step.finished

    async def child_rooms(self, door: Door) -> list[str]:
        """The child rooms a space door invites into as well: those listed, or those the space
        marks as suggested now (`rooms = "suggested"`)."""
        if door.rooms != "suggested":
            return list(door.rooms)
        return await suggested_rooms(self.matrix, door.room)

    async def invite_to_child(self, job: Job, knock: KnockRecord) -> bool:
        """Invite a space door's knock into one child room (the job's), once; record it."""
        room = job.room
        if room is None or knock.state not in (State.INVITED, State.JOINED):
            return False  # rescinded, expired or blocked meanwhile: nothing more to invite into
        membership = await self.matrix.membership(room, knock.user_id)
        if membership not in ("invite", "join", "ban"):
            door = door_of(self.doors, knock.door)
            await self.matrix.invite(room, knock.user_id, door.settings.invite_reason)
        if membership != "ban":
            line = HistoryLine(Event.INVITED_TO_ROOM, WORKER, room)
            await self.store.add_history(knock.knock_id, [line], self.clock.now())
        return False

    async def strike(self, user_id: str, door: str = DEFAULT_DOOR) -> None:
        """Count a refusal found at invite time toward the person's back-off at the door, like
        any other."""
        rules = replace(self.rules, door=door)
        await self.store.admit(Strike(rules.scoped(f"user:{user_id}"), rules), self.clock.now())


class InviteStep:
    """One invite: check that the person exists, is not blocked and not already in; invite."""

    def __init__(self, inviter: Inviter, knock: KnockRecord, job: Job) -> None:
        self.inviter = inviter
        self.matrix = inviter.matrix
        self.door = door_of(inviter.doors, knock.door)
        self.room_id = self.door.room
        self.knock = knock
        self.job = job
        self.finished = False  # the recorded outcome completed the job in its transaction

    async def run(self) -> None:
        """Invite, or settle the knock otherwise."""
        profile = await self._person()
        if profile is None:
            return
        if profile.known is False:
            await self._settle(State.REJECTED, Reason.UNKNOWN_USER, Event.REJECTED)
            return
        if await self._stopped_by_blocklist(profile.display_name):
            return
        if await self._settled_by_membership():
            return
        try:
            await self.matrix.invite(
                self.room_id, self.knock.user_id, self.door.settings.invite_reason
            )
        except MatrixError as exc:
            # A 403 may mean the membership changed since we looked (joined, banned): look again.
            if exc.status == 403 and await self._settled_by_membership():
                return
            raise
        await self._invited(None)

    async def _person(self) -> Lookup | None:
        """Look the person up; a historical id they do not know falls back to its lower case.

        The id as typed is tried first (a real old account such as ``@Alice:example.org`` keeps
        its name); only when the homeserver does not know it (or will not say, and the lower-
        cased id is not known to be missing) is the lower-cased id invited instead, as a repair
        written in the knock's history. Return None when the knock was settled on the way.
        """
        typed = await self._profile(self.knock.user_id)
        fallback = mxid.lower_cased(self.knock.user_id)
        if typed.known is True or fallback is None:
            return typed
        other = await self._profile(fallback)
        if other.known is False:
            return typed
        typed_id = self.knock.user_id
        detail = f"lower-cased: {typed_id} is unknown to its homeserver"
        if typed.known is None:
            detail = f"lower-cased: the homeserver would not say whether {typed_id} exists"
        now = self.inviter.clock.now()
        history = [HistoryLine(Event.REPAIRED, WORKER, detail)]
        if not await self.inviter.store.rename_queued(self.knock.knock_id, fallback, history, now):
            return None  # moved meanwhile (a moderator's decision): nothing more to do here
        self.knock = replace(self.knock, user_id=fallback)
        if self.inviter.settings.repair_action == "review" and not await self._approved():
            await self._settle(State.REVIEW, Reason.REPAIRED_ID, Event.HELD_FOR_REVIEW)
            return None
        return other

    async def _profile(self, user_id: str) -> Lookup:
        """Look an id up, and keep what was found for the console (a knock held here for
        review needs no lookup of its own: this one is it)."""
        lookup = await look_up(self.matrix, user_id)
        await self.inviter.profiles.record(user_id, lookup)
        return lookup

    async def _stopped_by_blocklist(self, display_name: str | None) -> bool:
        """Check again (the list may have grown since the knock came in), now with the name."""
        decision = self.inviter.blocklist.check(
            mxid.lower_cased(self.knock.user_id) or self.knock.user_id,
            typed=self.knock.user_id,
            display_name=display_name,
            door=self.knock.door,
        )
        evidence = evidence_text(decision)
        if decision.verdict == "block":
            await self._settle(State.REJECTED, Reason.BLOCKED, Event.REJECTED, evidence)
            return True
        if decision.verdict == "review" and not await self._approved():
            await self._settle(State.REVIEW, Reason.FUZZY_MATCH, Event.HELD_FOR_REVIEW, evidence)
            return True
        return False

    async def _approved(self) -> bool:
        history = await self.inviter.store.history(self.knock.knock_id)
        return any(entry.event == Event.APPROVED for entry in history)

    async def _settled_by_membership(self) -> bool:
        membership = await self.matrix.membership(self.room_id, self.knock.user_id)
        if membership == "join":
            await self._settle(State.DROPPED, Reason.DUPLICATE, Event.DROPPED, "already a member")
        elif membership == "ban":
            await self._settle(
                State.REJECTED, Reason.BANNED, Event.REJECTED, "banned from the room"
            )
        elif membership == "invite":
            if self.knock.invite_attempted_at is not None:
                # Our own invite went out before a crash kept us from recording it.
                await self._invited("invite found in the room after a retry")
            else:
                await self._settle(
                    State.DROPPED, Reason.DUPLICATE, Event.DROPPED, "already invited"
                )
        else:
            return False
        return True

    async def _invited(self, detail: str | None) -> None:
        # A space door's child rooms: each invited into by a job of its own, queued with the move.
        children = await self.inviter.child_rooms(self.door)
        now = self.inviter.clock.now()
        self.finished = await self.inviter.store.move(
            self.knock.knock_id,
            State.INVITED,
            reason=None,
            history=[HistoryLine(Event.INVITED, WORKER, detail)],
            now=now,
            invited_at=now,
            finish=self.job,
            child_rooms=children,
        )
        log.info("Invited %s (knock %s)", self.knock.user_id, self.knock.knock_id)

    async def _settle(
        self, state: State, reason: Reason, event: Event, detail: str | None = None
    ) -> None:
        announce = state is State.REVIEW and self.door.settings.moderation_room_id
        self.finished = await self.inviter.store.move(
            self.knock.knock_id,
            state,
            reason=reason.value,
            history=[HistoryLine(event, WORKER, detail)],
            now=self.inviter.clock.now(),
            job_kind=JobKind.ANNOUNCE if announce else None,
            finish=self.job,
        )
        if state is State.REJECTED:  # a refusal found late counts for back-off like any other
            await self.inviter.strike(self.knock.user_id, self.knock.door)
        log.info("Knock %s for %s: %s/%s", self.knock.knock_id, self.knock.user_id, state, reason)
