"""Admission: decide what becomes of a knock at the gate, pure, from facts the store gathered.

The order of checks is fixed: the caller's address (back-off, then its window; per-address
callers only) -> honeypot -> duplicate -> id repair and validation -> per-user, per-server and
per-form windows and the person's back-off -> server allow/deny -> block-list -> join-wave ->
global window (defer) -> queue. The first refusal stops the chain.

Nobody learns they are blocked: only the address checks answer differently (429), and an
address is struck only for what the caller itself did (a honeypot, an invalid id). Every verdict
after the id is validated is silent: the person's back-off is answered like a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from knock.core import mxid
from knock.core.blocklist import Decision
from knock.core.evidence import evidence_text
from knock.core.lifecycle import Event, Reason, State


@dataclass(frozen=True)
class IdResult:
    """The id as repaired and validated, or what is wrong with it."""

    user_id: str
    repairs: tuple[str, ...] = ()
    problem: str | None = None
    # The lower-cased id to invite instead when a historical id is unknown to its homeserver.
    fallback: str | None = None
    # Whether the text may be matched against the block-list (not when it is far too long).
    matchable: bool = True

    @property
    def strict(self) -> str:
        """The id as a repair under the current grammar makes it: what the block-list is asked."""
        return self.fallback or self.user_id


def read_id(requested: str, default_server: str) -> IdResult:
    """Repair and validate the id as typed; a valid historical id is kept as typed."""
    try:
        user_id, repairs = mxid.read(requested, default_server)
    except mxid.TooLong as exc:
        return IdResult(requested.strip()[:255], problem=exc.reason, matchable=False)
    except mxid.InvalidMatrixId as exc:
        shown = mxid.repair(requested, default_server).candidate[:255] or requested[:255]
        return IdResult(shown, problem=exc.reason)
    return IdResult(user_id, repairs, fallback=mxid.lower_cased(user_id))


@dataclass(frozen=True)
class Facts:
    """Everything admission looks at, gathered in one transaction."""

    identity: IdResult
    block: Decision
    honeypot: str | None = None
    waiting_already: bool = False  # the same person has a knock not yet acted on
    address_locked_for: float = 0.0  # back-off left for the caller's address (per-address only)
    address_over: bool = False  # the caller's address is over LIMIT_PER_IP
    address_retry_after: float = 0.0  # until a place in that window frees up
    person_locked: bool = False  # the person (the Matrix ID) is backed off
    over_windows: tuple[str, ...] = ()  # the person's windows it is over: "user", "server", "form"
    server_allowed: bool = True
    wave_tripped: bool = False
    repair_action: str = "invite"
    window_full: bool = False  # the global window has no room now
    backlog: int = 0  # knocks deferred and not yet released
    max_deferred: int = 500
    door_removed: bool = False  # it came through a door since removed from DOORS_FILE


@dataclass(frozen=True)
class Verdict:
    """Where a new knock starts, why, and what the caller may be told."""

    user_id: str
    state: State
    reason: Reason | None
    history: tuple[tuple[Event, str | None], ...]  # (event, detail) after `received`
    problem: str | None = None  # what is wrong with the id, for callers who may be told
    retry_after: float | None = None  # set when a per-address caller must slow down (429)
    strike_person: bool = False  # starts or extends the Matrix ID's (silent) back-off
    strike_address: bool = False  # counts toward the caller's address back-off

    @property
    def answered(self) -> bool:
        """Whether the caller was told to slow down: nothing of it is counted."""
        return self.retry_after is not None


def decide(facts: Facts) -> Verdict:
    """Run the checks in order and place the knock."""
    identity = facts.identity
    user_id = identity.user_id
    history: list[tuple[Event, str | None]] = []
    if facts.address_locked_for > 0:
        verdict = _drop(user_id, Reason.BACKED_OFF, history, "the address is backed off")
        return replace(verdict, retry_after=facts.address_locked_for)
    if facts.address_over:
        verdict = _drop(user_id, Reason.RATE_LIMITED, history, "over the ip window")
        return replace(verdict, retry_after=max(1.0, facts.address_retry_after))
    if facts.honeypot:
        detail = f"field {facts.honeypot!r}"
        return replace(_drop(user_id, Reason.HONEYPOT, history, detail), strike_address=True)
    if facts.waiting_already:
        return _drop(user_id, Reason.DUPLICATE, history, "already waiting")
    if identity.problem is not None:
        history.append((Event.REJECTED, identity.problem))
        if facts.block.verdict != "allow":  # still matched, so moderators see who keeps trying
            history.append((Event.BLOCKED, evidence_text(facts.block)))
        return Verdict(
            user_id,
            State.REJECTED,
            Reason.INVALID_ID,
            tuple(history),
            identity.problem,
            strike_address=True,
        )
    if identity.repairs:
        history.append((Event.REPAIRED, "; ".join(identity.repairs)))
    return _after_id(facts, history)


def _after_id(facts: Facts, history: list[tuple[Event, str | None]]) -> Verdict:
    """The checks after the id is valid: none of them tells the caller anything."""
    user_id = facts.identity.user_id
    if facts.person_locked:
        return _struck(_drop(user_id, Reason.BACKED_OFF, history, None))
    if facts.over_windows:
        detail = "over the " + ", ".join(facts.over_windows) + " window"
        return _struck(_drop(user_id, Reason.RATE_LIMITED, history, detail))
    if not facts.server_allowed:
        history.append((Event.REJECTED, "homeserver not allowed"))
        return _struck(_placed(user_id, State.REJECTED, Reason.SERVER_DENIED, history))
    if facts.block.verdict == "block":
        history.append((Event.REJECTED, evidence_text(facts.block)))
        return _struck(_placed(user_id, State.REJECTED, Reason.BLOCKED, history))
    if facts.block.verdict == "review":
        return _review(user_id, Reason.FUZZY_MATCH, history, evidence_text(facts.block))
    if facts.identity.repairs and facts.repair_action == "review":
        return _review(user_id, Reason.REPAIRED_ID, history, None)
    if facts.wave_tripped:
        return _review(user_id, Reason.JOIN_WAVE, history, None)
    if facts.door_removed:
        return _review(user_id, Reason.DOOR_REMOVED, history, None)
    return _paced(facts, history)


def _struck(verdict: Verdict) -> Verdict:
    """A refusal counted toward the person's back-off (never the address's)."""
    return replace(verdict, strike_person=True)


def _paced(facts: Facts, history: list[tuple[Event, str | None]]) -> Verdict:
    user_id = facts.identity.user_id
    # Later knocks wait behind earlier deferred ones, so invites go out in arrival order.
    if facts.window_full or facts.backlog > 0:
        if facts.backlog >= facts.max_deferred:
            return _review(user_id, Reason.DEFERRED_OVERFLOW, history, None)
        history.append((Event.DEFERRED, None))
        return _placed(user_id, State.DEFERRED, None, history)
    history.append((Event.QUEUED, None))
    return _placed(user_id, State.QUEUED, None, history)


def _drop(
    user_id: str, reason: Reason, history: list[tuple[Event, str | None]], detail: str | None
) -> Verdict:
    history.append((Event.DROPPED, detail or reason.value))
    return Verdict(user_id, State.DROPPED, reason, tuple(history))


def _review(
    user_id: str, reason: Reason, history: list[tuple[Event, str | None]], detail: str | None
) -> Verdict:
    history.append((Event.HELD_FOR_REVIEW, detail or reason.value))
    return _placed(user_id, State.REVIEW, reason, history)


def _placed(
    user_id: str, state: State, reason: Reason | None, history: list[tuple[Event, str | None]]
) -> Verdict:
    return Verdict(user_id, state, reason, tuple(history))
