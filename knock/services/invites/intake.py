"""Turn a parsed form delivery into a committed knock: admission's checks, then the knock, at once.

Everything admission counts (windows, back-off, the join wave, the global window) is read and
written in the same transaction as the knock, so processes sharing a database share the counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace

from knock.clock import Clock
from knock.config import Settings
from knock.core import limits
from knock.core.addresses import limited_as
from knock.core.admission import IdResult, read_id
from knock.core.admission_batch import (
    Arrival,
    Batch,
    Caller,
    Outcome,
    ReadWave,
    Release,
    ResetWave,
    Rules,
)
from knock.core.admission_state import StatusLink
from knock.core.blocklist import Decision
from knock.core.forms import CallerKind, Submission
from knock.core.history import Actor
from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import State
from knock.doors import Door, default_door
from knock.services.blocklist.index import Blocklist
from knock.services.errors import Unavailable, unavailable_errors
from knock.services.homeserver.account import BotAccount
from knock.services.wakeup import Wakeup
from knock.store import Store

IP_KEY = "intake.ip_hash_key"
# Addresses whose hashes are kept (cleared when full): a form platform posts from a few.
HASHED_ADDRESSES = 4096
# Knocks decided in one transaction at most; more wait for the next.
BATCH_LIMIT = 128
# What a knock keeps of its form's answers (STORE_FORM_ANSWERS): characters of one question, of
# one answer, and of the whole JSON object.
MAX_QUESTION = 200
MAX_STORED_ANSWER = 4000
MAX_STORED_ANSWERS = 20_000

__all__ = ["Intake", "Outcome", "rules_from"]


@dataclass
class _Waiting:
    """A delivery waiting for admission, and where its outcome goes."""

    arrival: Arrival
    outcome: asyncio.Future[Outcome]


class Intake:
    """Record knocks; a knock is committed before anyone is told it was accepted."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        blocklist: Blocklist,
        account: BotAccount,
        ip_key: bytes,
        wakeup: Wakeup,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.blocklist = blocklist
        self.account = account
        self.ip_key = ip_key
        self.wakeup = wakeup
        self.doors = doors or {DEFAULT_DOOR: default_door(settings)}
        # Each door's windows, join wave and global window, by its own settings.
        self.rules_by_door = {
            name: replace(rules_from(door.settings, door=name), removed=door.removed)
            for name, door in self.doors.items()
        }
        self.rules = self.rules_by_door[DEFAULT_DOOR]
        self._hashed: dict[str, str] = {}  # recent addresses' hashes (a platform's few)
        self._arrived: list[_Waiting] = []  # deliveries waiting for admission, in arrival order
        self._committer: asyncio.Task[None] | None = None

    @staticmethod
    async def load_ip_key(store: Store, now: float) -> bytes:
        """Return the key that hashes client addresses, made once per database."""
        key = await store.add_value_once(IP_KEY, secrets.token_hex(32), now)
        return bytes.fromhex(key)

    async def knock(
        self,
        submission: Submission,
        requested: str,
        client_ip: str | None,
        kind: CallerKind = CallerKind.SERVER_TO_SERVER,
        page: StatusLink | None = None,
        door: str = DEFAULT_DOOR,
    ) -> Outcome:
        """Run admission's checks and commit the knock, with its invite job when it may go ahead.

        `kind` says who delivered it: a per-address caller's address is limited and backed
        off; a server-to-server caller's (a platform's, Matrix itself) never is. `page` is the
        knock page's status link, stored with the knock; `door` the way in it came through (a
        knock page's is its page's).

        Knocks arriving together are decided and committed together, in arrival order (group
        commit): each caller still returns only after its knock is committed. Raise
        `Unavailable` when the database cannot take it now (nothing was committed).
        """
        waiting = _Waiting(
            self._arrival(
                submission, requested, client_ip, kind, page, page.door if page else door
            ),
            asyncio.get_running_loop().create_future(),
        )
        self._arrived.append(waiting)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_arrivals(), name="knock-admission")
        # Shielded: a caller that goes away does not take its knock's decision with it.
        return await asyncio.shield(waiting.outcome)

    def _arrival(
        self,
        submission: Submission,
        requested: str,
        client_ip: str | None,
        kind: CallerKind,
        page: StatusLink | None,
        door: str,
    ) -> Arrival:
        key = submission_key(submission, kind)
        settings = self._door_settings(door)
        identity = read_id(requested, self.account.default_server())
        return Arrival(
            knock_id=secrets.token_hex(10),  # 20 hex digits, as knock ids have always been
            requested=requested,
            key=key,
            caller=Caller(submission.platform, kind, self.hash_address(client_ip)),
            identity=identity,
            honeypot=limits.honeypot_filled(submission.field_values(), settings.honeypot_fields),
            block=self._block_check(identity, requested, door),
            answers=self._answers(submission),
            # Only an id that is valid can be looked up on its homeserver.
            page=page and replace(page, check_account=identity.problem is None),
            door=door,
        )

    def _door_settings(self, door: str) -> Settings:
        found = self.doors.get(door)
        return self.settings if found is None else found.settings

    def longest_window(self) -> float:
        """The longest time any door's admission window looks back (older counts can go)."""
        return max(rules.longest_window() for rules in self.rules_by_door.values())

    def _block_check(self, identity: IdResult, requested: str, door: str) -> Decision:
        """Match the id (as a repair makes it) and the text as typed against the block-list
        (every door's entries and the door's own).

        Text far longer than any id is not matched at all: it is refused as it is.
        """
        if not identity.matchable:
            return Decision("allow")
        return self.blocklist.check(identity.strict, typed=requested, door=door)

    async def _commit_arrivals(self) -> None:
        try:
            while self._arrived:
                batch, self._arrived = self._arrived[:BATCH_LIMIT], self._arrived[BATCH_LIMIT:]
                await self._commit(batch)
        finally:
            self._committer = None

    async def _commit(self, batch: list[_Waiting]) -> None:
        try:
            work = Batch(tuple(waiting.arrival for waiting in batch), self.rules_by_door)
            outcomes = await self.store.admit(work, self.clock.now())
        except unavailable_errors() as exc:
            # Nothing was committed; every caller hears "retry later".
            _fail(batch, Unavailable("database", str(exc)))
            return
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for waiting in batch:  # one bad knock must not take the others down with it
                await self._commit([waiting])
            return
        except BaseException as exc:
            _fail(batch, exc)
            raise
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.outcome.done():
                waiting.outcome.set_result(outcome)
        if any(outcome.created and outcome.state is State.QUEUED for outcome in outcomes):
            self.wakeup.job_added()

    async def join_wave_state(self, door: str = DEFAULT_DOOR) -> dict[str, object]:
        """Describe a door's join-wave breaker for moderators."""
        rules = self.rules_by_door.get(door, self.rules)
        report = await self.store.admit(ReadWave(rules), self.clock.now())
        settings = self._door_settings(door)
        return {
            "tripped": report.tripped,
            "tripped_at": report.tripped_at,
            "knocks_in_window": report.knocks_in_window,
            "threshold": settings.join_wave_threshold,
            "window_seconds": settings.join_wave_window,
            "cooldown_seconds": settings.join_wave_cooldown,
        }

    async def reset_join_wave(self, actor: Actor, door: str = DEFAULT_DOOR) -> None:
        """Close the breaker; knocks before now no longer count toward a wave.

        The reset is logged with `actor` for the console's audit, in the same transaction.
        """
        await self.store.admit(ResetWave(actor, door), self.clock.now())

    async def release_deferred(self) -> int:
        """Queue deferred knocks, oldest first, as each door's global window makes room; return
        how many."""
        released = 0
        for rules in self.rules_by_door.values():
            released += await self.store.admit(Release(rules), self.clock.now())
        if released:
            self.wakeup.job_added()
        return released

    def hash_address(self, client_ip: str | None) -> str | None:
        """A keyed hash of what the address counts as (an IPv6 address: its /64)."""
        if not client_ip:
            return None
        known = self._hashed.get(client_ip)
        if known is None:
            subject = limited_as(client_ip).encode()
            known = hmac.new(self.ip_key, subject, hashlib.sha256).hexdigest()[:32]
            if len(self._hashed) >= HASHED_ADDRESSES:
                self._hashed.clear()
            self._hashed[client_ip] = known
        return known

    def _answers(self, submission: Submission) -> str | None:
        if not self.settings.store_form_answers:
            return None
        return stored_answers(submission.answers())


def stored_answers(answers: dict[str, str]) -> str:
    """The answers as the knock keeps them: a JSON object of question -> answer.

    Each question and answer is cut to its own limit, and the answers that would take the
    object past `MAX_STORED_ANSWERS` characters are left out, so it always stays whole JSON.
    """
    cut: dict[str, str] = {}
    for question, answer in answers.items():
        cut.setdefault(question[:MAX_QUESTION], answer[:MAX_STORED_ANSWER])
    whole = json.dumps(cut, ensure_ascii=False)
    if len(whole) + (len(", ") if cut else 0) <= MAX_STORED_ANSWERS:
        return whole  # all of them fit (nearly always): the loop below would keep them all
    kept: dict[str, str] = {}
    size = len("{}")
    for name, value in cut.items():
        entry = len(json.dumps({name: value}, ensure_ascii=False)) - len("{}") + len(", ")
        if size + entry > MAX_STORED_ANSWERS:
            break
        kept[name] = value
        size += entry
    return json.dumps(kept, ensure_ascii=False)


def submission_key(submission: Submission, kind: CallerKind) -> str | None:
    """The key that spots a retried delivery: the platform's submission id.

    A per-address caller names its own id, so its keys live apart from those of signed or
    token-carrying deliveries: nobody can post first under a script's or a platform's id and
    have the real delivery taken for a retry.
    """
    if not submission.submission_id:
        return None
    key = f"{submission.platform}:{submission.submission_id}"
    return f"per-address:{key}" if kind is CallerKind.PER_ADDRESS else key


def rules_from(settings: Settings, door: str = DEFAULT_DOOR) -> Rules:
    """Admission's rules at a door, as its settings give them."""
    return Rules(
        limit_per_user=settings.limit_per_user,
        limit_per_ip=settings.limit_per_ip,
        limit_per_server=settings.limit_per_server,
        limit_per_form=settings.limit_per_form,
        backoff_base=settings.backoff_base,
        backoff_cap=settings.backoff_cap,
        backoff_reset=settings.backoff_reset,
        server_allowlist=tuple(settings.server_allowlist),
        server_denylist=tuple(settings.server_denylist),
        reject_ip_literal_servers=settings.reject_ip_literal_servers,
        join_wave_threshold=settings.join_wave_threshold,
        join_wave_window=settings.join_wave_window,
        join_wave_cooldown=settings.join_wave_cooldown,
        spam_window_seconds=settings.spam_window_seconds,
        max_requests_per_window=settings.max_requests_per_window,
        max_deferred=settings.max_deferred,
        repair_action=settings.repair_action,
        announce_reviews=settings.moderation_room_id is not None,
        door=door,
    )


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for waiting in batch:
        if not waiting.outcome.done():
            waiting.outcome.set_exception(exc)
