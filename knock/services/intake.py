"""Turn a parsed form delivery into a committed knock (and its invite job)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from knock.clock import Clock
from knock.config import Settings
from knock.core.blocklist import Decision
from knock.core.door import judge
from knock.core.forms import Submission
from knock.core.lifecycle import Event, Reason, State
from knock.services.blocklist import Blocklist
from knock.store import HistoryLine, NewKnock, Store

INVITE_JOB = "invite"
IP_KEY = "intake.ip_hash_key"


@dataclass(frozen=True)
class Outcome:
    """What intake did with a delivery."""

    knock_id: str
    state: State
    reason: str | None
    created: bool
    problem: str | None = None


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
        """Commit one knock for the id as typed, and queue its invite when it may go ahead."""
        if submission.submission_id is not None:
            key = f"{submission.platform}:{submission.submission_id}"
            earlier = await self.store.knock_by_submission(key)
            if earlier is not None:  # the platform retried a delivery we already hold
                return Outcome(earlier.knock_id, earlier.state, earlier.reason, created=False)
        else:
            key = None
        verdict = judge(
            requested, self.default_server, self.settings.repair_action, self._check_blocklist
        )
        actor = f"form:{submission.platform}"
        new = NewKnock(
            knock_id=uuid.uuid4().hex[:20],
            user_id=verdict.user_id,
            requested_id=requested[:512],
            state=verdict.state,
            reason=verdict.reason.value if verdict.reason else None,
            source=submission.platform,
            submission_key=key,
            ip_hash=self._hash_ip(client_ip),
            answers=self._answers(submission),
        )
        history: list[HistoryLine] = [(str(Event.RECEIVED), actor, None)]
        history += [(str(event), actor, detail) for event, detail in verdict.history]
        job = INVITE_JOB if verdict.state is State.QUEUED else None
        knock_id, created = await self.store.add_knock(new, history, job, self.clock.now())
        if created and job:
            self.on_queued()
        reason = verdict.reason.value if isinstance(verdict.reason, Reason) else None
        return Outcome(knock_id, verdict.state, reason, created, verdict.problem)

    def _check_blocklist(self, user_id: str, typed: str) -> Decision:
        return self.blocklist.check(user_id, typed=typed)

    def _hash_ip(self, client_ip: str | None) -> str | None:
        if not client_ip:
            return None
        return hmac.new(self.ip_key, client_ip.encode(), hashlib.sha256).hexdigest()[:32]

    def _answers(self, submission: Submission) -> str | None:
        if not self.settings.store_form_answers:
            return None
        return json.dumps(submission.field_values(), ensure_ascii=False)[:20000]
