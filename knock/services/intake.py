"""Turn a parsed form delivery into a committed knock: the door's checks, then the knock, at once.

Everything the door counts (windows, back-off, the join wave, the global window) is read and
written in the same transaction as the knock, so processes sharing a database share the counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from knock.clock import Clock
from knock.config import Settings
from knock.core import guard, mxid
from knock.core.door import Facts, IdResult, Verdict, decide, read_id
from knock.core.forms import Submission
from knock.core.lifecycle import Event, State
from knock.services.blocklist import Blocklist
from knock.store import UNAVAILABLE, HistoryLine, NewKnock, Store
from knock.store.door import DoorState, Window

INVITE_JOB = "invite"
ANNOUNCE_JOB = "announce"  # post a knock held for review to the moderation room
IP_KEY = "intake.ip_hash_key"
WAVE_TRIPPED = "join_wave.tripped_at"
WAVE_RESET = "join_wave.reset_at"
EVERYONE = "all"
# Knocks decided in one transaction at most; more wait for the next.
BATCH_LIMIT = 128


@dataclass(frozen=True)
class Outcome:
    """What intake did with a delivery."""

    knock_id: str
    state: State
    reason: str | None
    created: bool
    problem: str | None = None
    retry_after: float | None = None


@dataclass
class _Request:
    """A delivery waiting for the door, and where its outcome goes."""

    submission: Submission
    requested: str
    key: str | None  # the platform's submission id, for spotting a retried delivery
    caller: Caller
    identity: IdResult
    honeypot: str | None
    outcome: asyncio.Future[Outcome]


def _fail(batch: list[_Request], exc: BaseException) -> None:
    for request in batch:
        if not request.outcome.done():
            request.outcome.set_exception(exc)


@dataclass(frozen=True)
class Caller:
    """Who delivered a knock: a platform, or a direct caller (whose address may be limited)."""

    platform: str
    direct: bool
    ip_hash: str | None


class Intake:
    """Record knocks; a knock is committed before anyone is told it was accepted."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        blocklist: Blocklist,
        default_server: str,
        ip_key: bytes,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.blocklist = blocklist
        self.default_server = default_server
        self.ip_key = ip_key
        self.on_queued = on_queued
        self._arrived: list[_Request] = []  # deliveries waiting for the door, in arrival order
        self._committer: asyncio.Task[None] | None = None

    @staticmethod
    async def load_ip_key(store: Store, now: float) -> bytes:
        """Return the key that hashes client addresses, made once per database."""
        key = await store.add_value_once(IP_KEY, secrets.token_hex(32), now)
        return bytes.fromhex(key)

    async def knock(self, submission: Submission, requested: str, client_ip: str | None) -> Outcome:
        """Run the door's checks and commit the knock, with its invite job when it may go ahead.

        Knocks arriving together are decided and committed together, in arrival order (group
        commit): each caller still returns only after its knock is committed.
        """
        key = (
            f"{submission.platform}:{submission.submission_id}"
            if submission.submission_id
            else None
        )
        request = _Request(
            submission=submission,
            requested=requested,
            key=key,
            caller=Caller(submission.platform, submission.direct, self._hash_ip(client_ip)),
            identity=read_id(requested, self.default_server),
            honeypot=guard.honeypot_filled(
                submission.field_values(), self.settings.honeypot_fields
            ),
            outcome=asyncio.get_running_loop().create_future(),
        )
        self._arrived.append(request)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_arrivals(), name="knock-door")
        # Shielded: a caller that goes away does not take its knock's decision with it.
        return await asyncio.shield(request.outcome)

    async def _commit_arrivals(self) -> None:
        try:
            while self._arrived:
                batch, self._arrived = self._arrived[:BATCH_LIMIT], self._arrived[BATCH_LIMIT:]
                await self._commit(batch)
        finally:
            self._committer = None

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            outcomes = await self._decide(batch)
        except UNAVAILABLE as exc:
            _fail(batch, exc)  # nothing was committed; every caller hears "retry later"
            return
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for request in batch:  # one bad knock must not take the others down with it
                await self._commit([request])
            return
        except BaseException as exc:
            _fail(batch, exc)
            raise
        for request, outcome in zip(batch, outcomes, strict=True):
            if not request.outcome.done():
                request.outcome.set_result(outcome)
        if any(outcome.created and outcome.state is State.QUEUED for outcome in outcomes):
            self.on_queued()

    async def _decide(self, batch: list[_Request]) -> list[Outcome]:
        """Decide a batch at one instant, in arrival order, in one transaction."""
        async with self.store.door() as door:
            state = DoorState(self.clock.now())
            await door.load_values(state, (WAVE_RESET, WAVE_TRIPPED))
            reset = state.values[WAVE_RESET]
            wave_since = max(
                state.now - self.settings.join_wave_window, float(reset) if reset else 0.0
            )
            await door.load(
                state,
                windows=[w for r in batch for w in self._windows(r, state.now, wave_since)],
                subjects=[s for r in batch for s in self._strike_subjects(r)],
                users=[r.identity.user_id for r in batch if r.identity.problem is None],
                submission_keys=[r.key for r in batch if r.key is not None],
            )
            outcomes = [self._decide_one(state, request) for request in batch]
            await door.save(state)
        return outcomes

    def _decide_one(self, state: DoorState, request: _Request) -> Outcome:
        if request.key is not None and request.key in state.submissions:
            # The platform retried a delivery we already hold.
            knock_id, known_state, reason = state.submissions[request.key]
            return Outcome(knock_id, known_state, reason, created=False)
        facts = self._facts(state, request)
        verdict = decide(facts)
        new = self._new_knock(verdict, request)
        caller = request.caller
        actor = "native" if caller.platform == "native" else f"form:{caller.platform}"
        history: list[HistoryLine] = [(str(Event.RECEIVED), actor, None)]
        history += [(str(e), actor, d) for e, d in verdict.history]
        state.add_knock(new, history, self._job_for(verdict.state))
        self._count(state, request, facts, verdict)
        reason = verdict.reason.value if verdict.reason else None
        return Outcome(
            new.knock_id, verdict.state, reason, True, verdict.problem, verdict.retry_after
        )

    def _job_for(self, state: State) -> str | None:
        if state is State.QUEUED:
            return INVITE_JOB
        if state is State.REVIEW and self.settings.moderation_room_id:
            return ANNOUNCE_JOB
        return None

    def _windows(self, request: _Request, now: float, wave_since: float) -> list[Window]:
        """The windows a knock is counted in: its limits, the join wave, the global window."""
        limited = [
            (scope, subject, now - limit.seconds)
            for scope, subject, limit in self._subjects(request.caller, request.identity)
            if limit is not None
        ]
        return limited + [
            ("wave", EVERYONE, wave_since),
            ("admitted", EVERYONE, now - self.settings.spam_window_seconds),
        ]

    def _strike_subjects(self, request: _Request) -> list[str]:
        subjects = [f"user:{request.identity.user_id}"]
        if request.caller.direct and request.caller.ip_hash:
            subjects.append(f"ip:{request.caller.ip_hash}")
        return subjects

    def _facts(self, state: DoorState, request: _Request) -> Facts:
        settings = self.settings
        caller, identity, now = request.caller, request.identity, state.now
        user_id = identity.user_id
        over, retry_after = [], 0.0
        for scope, subject, limit in self._subjects(caller, identity):
            if limit is None:
                continue
            count, oldest = state.count(scope, subject)
            if guard.over_limit(count, limit):
                over.append(scope)
                retry_after = max(retry_after, guard.window_retry_after(oldest, limit, now))
        locked = max(
            guard.locked_for(state.strikes[s], now) for s in self._strike_subjects(request)
        )
        return Facts(
            identity=identity,
            block=self.blocklist.check(user_id, typed=request.requested),
            honeypot=request.honeypot,
            waiting_already=identity.problem is None and user_id in state.waiting,
            over_windows=tuple(over),
            window_retry_after=retry_after,
            locked_for=locked,
            server_allowed=identity.problem is not None
            or guard.server_allowed(
                mxid.server_name(user_id),
                settings.server_allowlist,
                settings.server_denylist,
                settings.reject_ip_literal_servers,
            ),
            wave_tripped=self._wave(state, state.count("wave", EVERYONE)[0]),
            repair_action=settings.repair_action,
            window_full=state.count("admitted", EVERYONE)[0] >= settings.max_requests_per_window,
            backlog=state.deferred,
            max_deferred=settings.max_deferred,
        )

    def _subjects(
        self, caller: Caller, identity: IdResult
    ) -> list[tuple[str, str, guard.Rate | None]]:
        """List the windows a knock counts against: (scope, subject, limit)."""
        settings = self.settings
        if identity.problem is not None:
            return []
        subjects = [
            ("user", identity.user_id, settings.limit_per_user),
            ("server", mxid.server_name(identity.user_id), settings.limit_per_server),
            ("form", caller.platform, settings.limit_per_form),
        ]
        # Platforms deliver everyone's knocks from their own few addresses: never limit those.
        if caller.direct and caller.ip_hash:
            subjects.append(("ip", caller.ip_hash, settings.limit_per_ip))
        return subjects

    def _wave(self, state: DoorState, knocks_in_window: int) -> bool:
        settings = self.settings
        stored = state.values[WAVE_TRIPPED]
        tripped_at = float(stored) if stored else None
        tripped = guard.wave_tripped(
            tripped_at,
            knocks_in_window + 1,  # this knock arrives too
            settings.join_wave_threshold,
            settings.join_wave_cooldown,
            state.now,
        )
        if tripped != tripped_at:
            state.set_value(WAVE_TRIPPED, None if tripped is None else str(tripped))
        return tripped is not None

    def _count(self, state: DoorState, request: _Request, facts: Facts, verdict: Verdict) -> None:
        settings = self.settings
        if facts.honeypot is None and not facts.waiting_already:
            hits = [
                (scope, subject)
                for scope, subject, _ in self._subjects(request.caller, facts.identity)
            ]
            hits.append(("wave", EVERYONE))
            if verdict.state is State.QUEUED:
                hits.append(("admitted", EVERYONE))
            state.add_hits(hits)
        if verdict.strike:
            for subject in self._strike_subjects(request):
                state.strike(
                    subject, settings.backoff_base, settings.backoff_cap, settings.backoff_reset
                )

    async def join_wave_state(self) -> dict[str, object]:
        """Describe the join-wave breaker for moderators."""
        settings = self.settings
        async with self.store.door() as door:
            now = self.clock.now()
            reset = await door.value(WAVE_RESET)
            since = max(now - settings.join_wave_window, float(reset) if reset else 0.0)
            count, _ = await door.hits("wave", EVERYONE, since)
            stored = await door.value(WAVE_TRIPPED)
        tripped_at = float(stored) if stored else None
        tripped = tripped_at is not None and now - tripped_at < settings.join_wave_cooldown
        return {
            "tripped": tripped,
            "tripped_at": tripped_at if tripped else None,
            "knocks_in_window": count,
            "threshold": settings.join_wave_threshold,
            "window_seconds": settings.join_wave_window,
            "cooldown_seconds": settings.join_wave_cooldown,
        }

    async def reset_join_wave(self) -> None:
        """Close the breaker; knocks before now no longer count toward a wave."""
        async with self.store.door() as door:
            now = self.clock.now()
            await door.set_value(WAVE_TRIPPED, None, now)
            await door.set_value(WAVE_RESET, str(now), now)

    async def release_deferred(self) -> int:
        """Queue deferred knocks, oldest first, as the global window makes room; return how many."""
        settings = self.settings
        async with self.store.door() as door:
            now = self.clock.now()
            admitted, _ = await door.hits("admitted", EVERYONE, now - settings.spam_window_seconds)
            room = settings.max_requests_per_window - admitted
            if room <= 0:
                return 0
            released = [
                knock_id
                for knock_id in await door.oldest_in(State.DEFERRED, room)
                if await door.release(knock_id, now, INVITE_JOB)
            ]
            await door.add_hits([("admitted", EVERYONE)] * len(released), now)
        if released:
            self.on_queued()
        return len(released)

    def _new_knock(self, verdict: Verdict, request: _Request) -> NewKnock:
        return NewKnock(
            knock_id=uuid.uuid4().hex[:20],
            user_id=verdict.user_id,
            requested_id=request.requested[:512],
            state=verdict.state,
            reason=verdict.reason.value if verdict.reason else None,
            source=request.caller.platform,
            submission_key=request.key,
            ip_hash=request.caller.ip_hash,
            answers=self._answers(request.submission),
        )

    def _hash_ip(self, client_ip: str | None) -> str | None:
        if not client_ip:
            return None
        return hmac.new(self.ip_key, client_ip.encode(), hashlib.sha256).hexdigest()[:32]

    def _answers(self, submission: Submission) -> str | None:
        if not self.settings.store_form_answers:
            return None
        return json.dumps(submission.field_values(), ensure_ascii=False)[:20000]
