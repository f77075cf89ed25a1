"""Run durable jobs: each is tried until it is done or refused for a stated reason."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

from knock import log_context
from knock.clock import Clock
from knock.config import Settings
from knock.core.history import WORKER, HistoryLine
from knock.core.jobs import JobKind
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import Event, Reason, State
from knock.core.retry import backoff_delay
from knock.matrix.client import HomeserverUnavailable, MatrixError, RateLimited
from knock.services.console.links import SignInLinks
from knock.services.homeserver.link import HomeserverLink
from knock.services.homeserver.profiles import ProfileCache
from knock.services.invites.invite_step import Inviter
from knock.services.invites.welcome import Welcomer
from knock.services.knock_page.accounts import AccountChecks
from knock.services.moderation.room import ModerationRoom
from knock.services.wakeup import Wakeup
from knock.store import Job, Store

log = logging.getLogger(__name__)

_IDLE_POLL = 2.0  # seconds between looks at the queue when nothing wakes the worker

# Carries out a job for its knock; returns True when its last step also completed the job.
JobHandler = Callable[[Job, KnockRecord], Awaitable[bool]]


class Worker:
    """Claim due jobs and carry them out, each kind by its one handler."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        inviter: Inviter,
        welcomer: Welcomer,
        accounts: AccountChecks,
        profiles: ProfileCache,
        moderation_rooms: Mapping[str, ModerationRoom],
        sign_in_links: SignInLinks,
        link: HomeserverLink,
        wakeup: Wakeup,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.wakeup = wakeup
        self.link = link
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.moderation_rooms = moderation_rooms
        self._reviewed_in = {
            door: room for room in moderation_rooms.values() for door in room.doors
        }
        self.handlers: dict[JobKind, JobHandler] = {
            JobKind.INVITE: inviter.run,
            JobKind.CHILD_INVITE: inviter.invite_to_child,
            JobKind.WELCOME: _then_finish(welcomer.welcome),
            JobKind.ANNOUNCE: _then_finish(self._announce),
            JobKind.CHECK_ACCOUNT: _then_finish(accounts.check),
            JobKind.PROFILE: _then_finish(profiles.look_up),
        }
        # Jobs that are no knock's step.
        self.other_handlers: dict[JobKind, Callable[[Job], Awaitable[None]]] = {
            JobKind.SIGN_IN_LINK: sign_in_links.send,
        }

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
            self.wakeup.clear()
            await self.wakeup.wait(await self._idle_for())

    async def _idle_for(self) -> float:
        kinds = self.runnable_kinds()
        if not kinds:
            return _IDLE_POLL
        try:
            due = await self.store.next_job_at(kinds, self._held_doors())
        except Exception:
            return _IDLE_POLL
        if due is None:
            return _IDLE_POLL
        return min(_IDLE_POLL, max(0.05, due - self.clock.now()))

    async def run_once(self) -> bool:
        """Claim and carry out one due job; return False when none was due."""
        kinds = self.runnable_kinds()
        if not kinds:
            return False
        job = await self.store.claim_job(
            self.name,
            self.clock.now(),
            self.settings.lease_ttl,
            kinds=kinds,
            held_doors=self._held_doors(),
        )
        if job is None:
            return False
        with log_context.about(
            knock_id=job.knock_id,
            job=f"{job.kind or 'unknown'}:{job.job_id}",
            door=job.knock.door if job.knock is not None else None,
        ):
            await self._run_claimed(job)
        return True

    async def _run_claimed(self, job: Job) -> None:
        heartbeat = asyncio.create_task(self._keep_leased(job))
        try:
            finished = await self._carry_out(job)
        except asyncio.CancelledError:
            # Knock is stopping: hand the job back at once instead of after LEASE_TTL, so a
            # restarted Knock (or another process) carries it on; its steps are idempotent.
            await asyncio.shield(self._hand_back(job))
            raise
        except Exception as exc:
            await self._retry_or_fail(job, exc)
        else:
            if not finished:
                await self.store.finish_job(job.job_id, self.name)
        finally:
            heartbeat.cancel()

    async def _hand_back(self, job: Job) -> None:
        try:
            await self.store.retry_job(job.job_id, self.name, self.clock.now(), "Knock stopped")
        except Exception as exc:  # the lease then runs out as after a crash
            log.warning("Could not hand job %s back while stopping: %s", job.job_id, exc)

    def runnable_kinds(self) -> frozenset[JobKind]:
        """The kinds of job that can succeed now; the others wait, unclaimed and uncounted.

        Without a token nothing can; invites wait while the room is not ready (the bot has not
        joined it, or lacks invite, kick or ban power), announcements while the moderation room
        is not.
        """
        if not self.link.can_call():
            return frozenset()
        kinds = {JobKind.WELCOME, JobKind.CHECK_ACCOUNT, JobKind.PROFILE, JobKind.SIGN_IN_LINK}
        if len(self._held_doors()) < len(self.link.door_rooms):
            kinds.add(JobKind.INVITE)  # some door's room is ready (the others' invites wait)
            kinds.add(JobKind.CHILD_INVITE)
        if all(self.link.room_ready(room) for room in self.moderation_rooms):
            kinds.add(JobKind.ANNOUNCE)
        return frozenset(kinds)

    async def _announce(self, knock: KnockRecord) -> None:
        """Post a knock held for review to its door's moderation room.

        Without one (it was unset since), an announcement has nowhere to go.
        """
        room = self._reviewed_in.get(knock.door)
        if room is not None:
            await room.announce(knock)

    def _held_doors(self) -> list[str]:
        """The doors whose room is not ready: their invites wait, unclaimed and uncounted."""
        return [
            door for door, room in self.link.door_rooms.items() if not self.link.room_ready(room)
        ]

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
        if job.kind is None:
            log.error("Dropping job %s: a kind this version does not know", job.job_id)
            return False
        if not job.kind.about_knock:
            await self.other_handlers[job.kind](job)
            return False
        if job.knock is None:
            log.warning("Dropping job %s (%s): its knock is gone", job.job_id, job.kind)
            return False
        return await self.handlers[job.kind](job, job.knock)

    async def _retry_or_fail(self, job: Job, exc: Exception) -> None:
        now = self.clock.now()
        if now - job.first_attempt_at >= self.settings.invite_retry_for and (
            job.kind is not None and not job.kind.settles_knock
        ):
            log.warning("Giving up on job %s for knock %s: %s", job.kind, job.knock_id, exc)
            await self.store.finish_job(job.job_id, self.name)
            return
        if job.knock_id and now - job.first_attempt_at >= self.settings.invite_retry_for:
            log.warning("Giving up on knock %s after %s: %s", job.knock_id, job.attempts, exc)
            await self.store.move(
                job.knock_id,
                State.FAILED,
                reason=Reason.HOMESERVER_ERROR.value,
                history=[HistoryLine(Event.FAILED, WORKER, str(exc))],
                now=now,
            )
            await self.store.finish_job(job.job_id, self.name)
            return
        if isinstance(exc, RateLimited):
            delay = exc.retry_after
        else:
            delay = backoff_delay(job.attempts, base=1.0, cap=self.settings.job_retry_cap)
        if isinstance(exc, HomeserverUnavailable):
            # The homeserver client said once that it is down; one line per job would drown it.
            log.debug(
                "Job %s for knock %s: %s; retrying in %.0fs", job.kind, job.knock_id, exc, delay
            )
        elif isinstance(exc, MatrixError):
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


def _then_finish(step: Callable[[KnockRecord], Awaitable[None]] | None) -> JobHandler:
    """A handler for a step that does not complete its job itself (the worker then does)."""

    async def handle(job: Job, knock: KnockRecord) -> bool:
        if step is not None:
            await step(knock)
        return False

    return handle
