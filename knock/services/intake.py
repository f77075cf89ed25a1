"""Turn a parsed form delivery into a committed knock: the door's checks, then the knock, at once.

Everything the door counts (windows, back-off, the join wave, the global window) is read and
written in the same transaction as the knock, so processes sharing a database share the counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from knock.clock import Clock
from knock.config import Settings
from knock.core import guard, mxid
from knock.core.door import Facts, IdResult, Verdict, decide, read_id
from knock.core.forms import Submission
from knock.core.lifecycle import Event, State
from knock.services.blocklist import Blocklist
from knock.store import HistoryLine, NewKnock, Store
from knock.store.door import DoorTransaction
from knock.store.writes import insert_knock

INVITE_JOB = "invite"
ANNOUNCE_JOB = "announce"  # post a knock held for review to the moderation room
IP_KEY = "intake.ip_hash_key"
WAVE_TRIPPED = "join_wave.tripped_at"
WAVE_RESET = "join_wave.reset_at"
EVERYONE = "all"


@dataclass(frozen=True)
class Outcome:
    """What intake did with a delivery."""

    knock_id: str
    state: State
    reason: str | None
    created: bool
    problem: str | None = None
    retry_after: float | None = None


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

    @staticmethod
    async def load_ip_key(store: Store, now: float) -> bytes:
        """Return the key that hashes client addresses, made once per database."""
        key = await store.add_value_once(IP_KEY, secrets.token_hex(32), now)
        return bytes.fromhex(key)

    async def knock(self, submission: Submission, requested: str, client_ip: str | None) -> Outcome:
        """Run the door's checks and commit the knock, with its invite job when it may go ahead."""
        key = (
            f"{submission.platform}:{submission.submission_id}"
            if submission.submission_id
            else None
        )
        if key is not None:
            earlier = await self.store.knock_by_submission(key)
            if earlier is not None:  # the platform retried a delivery we already hold
                return Outcome(earlier.knock_id, earlier.state, earlier.reason, created=False)
        caller = Caller(submission.platform, submission.direct, self._hash_ip(client_ip))
        identity = read_id(requested, self.default_server)
        honeypot = guard.honeypot_filled(submission.field_values(), self.settings.honeypot_fields)
        try:
            async with self.store.door() as door:
                now = self.clock.now()
                facts = await self._facts(door, caller, identity, requested, honeypot, now)
                verdict = decide(facts)
                new = self._new_knock(verdict, requested, caller, key, submission)
                actor = "native" if caller.platform == "native" else f"form:{caller.platform}"
                history: list[HistoryLine] = [(str(Event.RECEIVED), actor, None)]
                history += [(str(e), actor, d) for e, d in verdict.history]
                job = self._job_for(verdict.state)
                await insert_knock(door.conn, new, history, job, now)
                await self._count(door, caller, facts, verdict, now)
        except IntegrityError:
            earlier = await self.store.knock_by_submission(key) if key else None
            if earlier is None:
                raise
            return Outcome(earlier.knock_id, earlier.state, earlier.reason, created=False)
        if job == INVITE_JOB:
            self.on_queued()
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

    async def _facts(
        self,
        door: DoorTransaction,
        caller: Caller,
        identity: IdResult,
        requested: str,
        honeypot: str | None,
        now: float,
    ) -> Facts:
        settings = self.settings
        user_id = identity.user_id
        limited = [
            (scope, subject, limit)
            for scope, subject, limit in self._subjects(caller, identity)
            if limit is not None
        ]
        reset = await door.value(WAVE_RESET)
        wave_since = max(now - settings.join_wave_window, float(reset) if reset else 0.0)
        counts = await door.hits_many(
            [(scope, subject, now - limit.seconds) for scope, subject, limit in limited]
            + [
                ("wave", EVERYONE, wave_since),
                ("admitted", EVERYONE, now - settings.spam_window_seconds),
            ]
        )
        over, retry_after = [], 0.0
        for scope, subject, limit in limited:
            count, oldest = counts[(scope, subject)]
            if guard.over_limit(count, limit):
                over.append(scope)
                retry_after = max(retry_after, guard.window_retry_after(oldest, limit, now))
        locked = guard.locked_for(await door.strikes(f"user:{user_id}"), now)
        if caller.direct and caller.ip_hash:
            locked = max(locked, guard.locked_for(await door.strikes(f"ip:{caller.ip_hash}"), now))
        return Facts(
            identity=identity,
            block=self.blocklist.check(user_id, typed=requested),
            honeypot=honeypot,
            waiting_already=identity.problem is None and await door.waiting_knock(user_id),
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
            wave_tripped=await self._wave(door, counts[("wave", EVERYONE)][0], now),
            repair_action=settings.repair_action,
            window_full=counts[("admitted", EVERYONE)][0] >= settings.max_requests_per_window,
            backlog=await door.count_state(State.DEFERRED),
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

    async def _wave(self, door: DoorTransaction, knocks_in_window: int, now: float) -> bool:
        settings = self.settings
        stored = await door.value(WAVE_TRIPPED)
        tripped_at = float(stored) if stored else None
        tripped = guard.wave_tripped(
            tripped_at,
            knocks_in_window + 1,  # this knock arrives too
            settings.join_wave_threshold,
            settings.join_wave_cooldown,
            now,
        )
        if tripped != tripped_at:
            await door.set_value(WAVE_TRIPPED, None if tripped is None else str(tripped), now)
        return tripped is not None

    async def _count(
        self, door: DoorTransaction, caller: Caller, facts: Facts, verdict: Verdict, now: float
    ) -> None:
        if facts.honeypot is None and not facts.waiting_already:
            hits = [
                (scope, subject) for scope, subject, _ in self._subjects(caller, facts.identity)
            ]
            hits.append(("wave", EVERYONE))
            if verdict.state is State.QUEUED:
                hits.append(("admitted", EVERYONE))
            await door.add_hits(hits, now)
        if verdict.strike:
            await self._strike(door, f"user:{verdict.user_id}", now)
            if caller.direct and caller.ip_hash:
                await self._strike(door, f"ip:{caller.ip_hash}", now)

    async def _strike(self, door: DoorTransaction, subject: str, now: float) -> None:
        settings = self.settings
        await door.strike(
            subject, now, settings.backoff_base, settings.backoff_cap, settings.backoff_reset
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

    def _new_knock(
        self,
        verdict: Verdict,
        requested: str,
        caller: Caller,
        key: str | None,
        submission: Submission,
    ) -> NewKnock:
        return NewKnock(
            knock_id=uuid.uuid4().hex[:20],
            user_id=verdict.user_id,
            requested_id=requested[:512],
            state=verdict.state,
            reason=verdict.reason.value if verdict.reason else None,
            source=caller.platform,
            submission_key=key,
            ip_hash=caller.ip_hash,
            answers=self._answers(submission),
        )

    def _hash_ip(self, client_ip: str | None) -> str | None:
        if not client_ip:
            return None
        return hmac.new(self.ip_key, client_ip.encode(), hashlib.sha256).hexdigest()[:32]

    def _answers(self, submission: Submission) -> str | None:
        if not self.settings.store_form_answers:
            return None
        return json.dumps(submission.field_values(), ensure_ascii=False)[:20000]
