"""Admission: decide what becomes of a knock at the gate, pure, from facts the store gathered.

The order of checks is fixed: honeypot -> duplicate -> id repair and validation -> per-user,
per-IP, per-server and per-form windows and back-off -> server allow/deny -> block-list ->
join-wave -> global window (defer) -> queue. The first refusal stops the chain.
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
    over_windows: tuple[str, ...] = ()  # "user", "ip", "server", "form"
    window_retry_after: float = 0.0
    locked_for: float = 0.0  # back-off left for the person (or the caller's address)
    server_allowed: bool = True
    wave_tripped: bool = False
    repair_action: str = "invite"
    window_full: bool = False  # the global window has no room now
    backlog: int = 0  # knocks deferred and not yet released
    max_deferred: int = 500


@dataclass(frozen=True)
class Verdict:
    """Where a new knock starts, why, and what the caller may be told."""

    user_id: str
    state: State
    reason: Reason | None
    history: tuple[tuple[Event, str | None], ...]  # (event, detail) after `received`
    problem: str | None = None  # what is wrong with the id, for callers who may be told
    retry_after: float | None = None  # set when a direct caller must slow down (429)
    strike: bool = False  # starts or extends the person's back-off


def decide(facts: Facts) -> Verdict:
    """Run the checks in order and place the knock."""
    identity = facts.identity
    user_id = identity.user_id
    history: list[tuple[Event, str | None]] = []
    if facts.honeypot:
        return _drop(user_id, Reason.HONEYPOT, history, f"field {facts.honeypot!r}", strike=True)
    if facts.waiting_already:
        return _drop(user_id, Reason.DUPLICATE, history, "already waiting", strike=False)
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
            strike=True,
        )
    if identity.repairs:
        history.append((Event.REPAIRED, "; ".join(identity.repairs)))
    return _after_id(facts, history)


def _after_id(facts: Facts, history: list[tuple[Event, str | None]]) -> Verdict:
    user_id = facts.identity.user_id
    if facts.locked_for > 0:
        verdict = _drop(user_id, Reason.BACKED_OFF, history, None, strike=True)
        return replace(verdict, retry_after=facts.locked_for)
    if facts.over_windows:
        detail = "over the " + ", ".join(facts.over_windows) + " window"
        verdict = _drop(user_id, Reason.RATE_LIMITED, history, detail, strike=True)
        return replace(verdict, retry_after=max(1.0, facts.window_retry_after))
    if not facts.server_allowed:
        history.append((Event.REJECTED, "homeserver not allowed"))
        return _placed(user_id, State.REJECTED, Reason.SERVER_DENIED, history, strike=True)
    if facts.block.verdict == "block":
        history.append((Event.REJECTED, evidence_text(facts.block)))
        return _placed(user_id, State.REJECTED, Reason.BLOCKED, history, strike=True)
    if facts.block.verdict == "review":
        return _review(user_id, Reason.FUZZY_MATCH, history, evidence_text(facts.block))
    if facts.identity.repairs and facts.repair_action == "review":
        return _review(user_id, Reason.REPAIRED_ID, history, None)
    if facts.wave_tripped:
        return _review(user_id, Reason.JOIN_WAVE, history, None)
    return _paced(facts, history)


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
    user_id: str,
    reason: Reason,
    history: list[tuple[Event, str | None]],
    detail: str | None,
    *,
    strike: bool,
) -> Verdict:
    history.append((Event.DROPPED, detail or reason.value))
    return Verdict(user_id, State.DROPPED, reason, tuple(history), strike=strike)


def _review(
    user_id: str, reason: Reason, history: list[tuple[Event, str | None]], detail: str | None
) -> Verdict:
    history.append((Event.HELD_FOR_REVIEW, detail or reason.value))
    return _placed(user_id, State.REVIEW, reason, history)


def _placed(
    user_id: str,
    state: State,
    reason: Reason | None,
    history: list[tuple[Event, str | None]],
    *,
    strike: bool = False,
) -> Verdict:
    return Verdict(user_id, state, reason, tuple(history), strike=strike)
