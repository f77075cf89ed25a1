"""Run durable jobs: each invite is tried until it is done or refused for a stated reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.door import explain
from knock.core.lifecycle import Event, Reason, State
from knock.core.retry import backoff_delay
from knock.matrix.client import MatrixClient, MatrixError, RateLimited
from knock.services.blocklist import Blocklist
from knock.services.follow import WELCOME_JOB, Follower
from knock.services.intake import ANNOUNCE_JOB, INVITE_JOB
from knock.store import HistoryLine, Job, KnockRecord, Store

if TYPE_CHECKING:
    from knock.services.moderation_room import ModerationRoom

log = logging.getLogger(__name__)

WORKER_ACTOR = "worker"
_IDLE_POLL = 2.0  # seconds between looks at the queue when nothing wakes the worker


class Worker:
    """Claim due jobs and carry them out; every step checks the room before acting."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        room_id: str,
        blocklist: Blocklist,
        follower: Follower,
    ) -> None:
        self.settings = settings
        self.blocklist = blocklist
        self.follower = follower
        self.moderation_room: ModerationRoom | None = None  # set when MODERATION_ROOM_ID is
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.room_id = room_id
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the queue now (a knock was just committed)."""
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled, with `WORKER_CONCURRENCY` jobs at a time."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self.settings.worker_concurrency):
                group.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:  # the database is down: keep the loop alive and try later
                log.exception("The worker could not reach the database")
            self._wake.clear()
            idle = await self._idle_for()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await self._wake.wait()

    async def _idle_for(self) -> float:
        try:
            due = await self.store.next_job_at()
        except Exception:
            return _IDLE_POLL
        if due is None:
            return _IDLE_POLL
        return min(_IDLE_POLL, max(0.05, due - self.clock.now()))

    async def run_once(self) -> bool:
        """Claim and carry out one due job; return False when none was due."""
        job = await self.store.claim_job(
            self.name, self.clock.now(), self.settings.lease_ttl, attempts_invite=INVITE_JOB
        )
        if job is None:
            return False
        heartbeat = asyncio.create_task(self._keep_leased(job))
        try:
            finished = await self._carry_out(job)
        except Exception as exc:
            await self._retry_or_fail(job, exc)
        else:
            if not finished:
                await self.store.finish_job(job.job_id, self.name)
        finally:
            heartbeat.cancel()
        return True

    async def _keep_leased(self, job: Job) -> None:
        """Renew the job's lease while it runs, so a slow step is not taken over by another worker.

        A worker that dies stops renewing, and the job is free again one `LEASE_TTL` later.
        """
        ttl = self.settings.lease_ttl
        while True:
            # Real time, not the injected clock: a test's fake clock would spin this loop.
            await asyncio.sleep(ttl / 3)
            try:
                await self.store.extend_lease(job.job_id, self.name, self.clock.now() + ttl)
            except Exception:
                log.warning("Could not renew the lease of job %s", job.job_id)

    async def _carry_out(self, job: Job) -> bool:
        """Do the job; return True when its last step also completed it."""
        knock = job.knock
        if knock is None:
            log.warning("Dropping job %s (%s): its knock is gone", job.job_id, job.kind)
        elif job.kind == INVITE_JOB:
            if knock.state is State.QUEUED:
                return await InviteStep(self, knock, job).run()
        elif job.kind == WELCOME_JOB:
            await self.follower.welcome(knock)
        elif job.kind == ANNOUNCE_JOB and self.moderation_room is not None:
            await self.moderation_room.announce(knock)
        else:
            log.error("Dropping a job of unknown kind %r", job.kind)
        return False

    async def _retry_or_fail(self, job: Job, exc: Exception) -> None:
        now = self.clock.now()
        if job.knock_id and now - job.first_attempt_at >= self.settings.invite_retry_for:
            log.warning("Giving up on knock %s after %s: %s", job.knock_id, job.attempts, exc)
            await self.move(
                job.knock_id, State.FAILED, Reason.HOMESERVER_ERROR, Event.FAILED, str(exc)
            )
            await self.store.finish_job(job.job_id, self.name)
            return
        if isinstance(exc, RateLimited):
            delay = exc.retry_after
        else:
            delay = backoff_delay(job.attempts, base=1.0, cap=self.settings.job_retry_cap)
        if isinstance(exc, MatrixError):
            log.warning(
                "Job %s for knock %s: %s; retrying in %.0fs", job.kind, job.knock_id, exc, delay
            )
        else:
            log.error(
                "Job %s for knock %s failed; retrying in %.0fs",
                job.kind,
                job.knock_id,
                delay,
                exc_info=exc,
            )
        await self.store.retry_job(job.job_id, self.name, now + delay, str(exc))

    async def move(
        self,
        knock_id: str,
        target: State,
        reason: Reason | None,
        event: Event,
        detail: str | None = None,
        *,
        invited_at: float | None = None,
        job_kind: str | None = None,
        finish: Job | None = None,
    ) -> bool:
        """Record a transition made by the worker (completing `finish`, the job that made it)."""
        history: Sequence[HistoryLine] = [(str(event), WORKER_ACTOR, detail)]
        return await self.store.move(
            knock_id,
            target,
            reason=reason.value if reason else None,
            history=history,
            now=self.clock.now(),
            invited_at=invited_at,
            job_kind=job_kind,
            finish=(finish.job_id, self.name) if finish else None,
        )


class InviteStep:
    """Invite one queued knock, idempotently: the room is read before anything is written to it."""

    def __init__(self, worker: Worker, knock: KnockRecord, job: Job) -> None:
        self.worker = worker
        self.matrix = worker.matrix
        self.room_id = worker.room_id
        self.knock = knock
        self.job = job
        self.finished = False  # the recorded outcome completed the job in its transaction

    async def run(self) -> bool:
        """Invite, or settle the knock otherwise; return whether that completed the job."""
        await self._run()
        return self.finished

    async def _run(self) -> None:
        """Check that the person exists, is not blocked and not already in, then invite them."""
        profile = await self._profile()
        if profile is None:
            await self._settle(State.REJECTED, Reason.UNKNOWN_USER, Event.REJECTED)
            return
        if await self._stopped_by_blocklist(profile.get("displayname")):
            return
        if await self._settled_by_membership():
            return
        try:
            await self.matrix.invite(
                self.room_id, self.knock.user_id, self.worker.settings.invite_reason
            )
        except MatrixError as exc:
            # A 403 may mean the membership changed since we looked (joined, banned): look again.
            if exc.status == 403 and await self._settled_by_membership():
                return
            raise
        await self._invited(None)

    async def _profile(self) -> dict[str, Any] | None:
        """Return the person's profile; None when they do not exist."""
        try:
            return await self.matrix.profile(self.knock.user_id)
        except MatrixError as exc:
            if exc.status == 404:
                return None
            if exc.status == 403:
                return {}  # the homeserver limits profile lookups: existence cannot be told
            raise

    async def _stopped_by_blocklist(self, display_name: object) -> bool:
        """Check again (the list may have grown since the knock came in), now with the name."""
        name = display_name if isinstance(display_name, str) else None
        decision = self.worker.blocklist.check(self.knock.user_id, display_name=name)
        if decision.verdict == "block":
            await self._settle(State.REJECTED, Reason.BLOCKED, Event.REJECTED, explain(decision))
            return True
        if decision.verdict == "review" and not await self._approved():
            await self._settle(
                State.REVIEW, Reason.FUZZY_MATCH, Event.HELD_FOR_REVIEW, explain(decision)
            )
            return True
        return False

    async def _approved(self) -> bool:
        history = await self.worker.store.history(self.knock.knock_id)
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
        now = self.worker.clock.now()
        self.finished = await self.worker.move(
            self.knock.knock_id,
            State.INVITED,
            None,
            Event.INVITED,
            detail,
            invited_at=now,
            finish=self.job,
        )
        log.info("Invited %s (knock %s)", self.knock.user_id, self.knock.knock_id)

    async def _settle(
        self, state: State, reason: Reason, event: Event, detail: str | None = None
    ) -> None:
        announce = state is State.REVIEW and self.worker.settings.moderation_room_id
        job = ANNOUNCE_JOB if announce else None
        self.finished = await self.worker.move(
            self.knock.knock_id, state, reason, event, detail, job_kind=job, finish=self.job
        )
        if state is State.REJECTED:  # a refusal found late counts for back-off like any other
            settings = self.worker.settings
            await self.worker.store.strike(
                f"user:{self.knock.user_id}",
                self.worker.clock.now(),
                settings.backoff_base,
                settings.backoff_cap,
                settings.backoff_reset,
            )
        log.info("Knock %s for %s: %s/%s", self.knock.knock_id, self.knock.user_id, state, reason)
