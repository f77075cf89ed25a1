"""Decide what becomes of a knock at the door, from what was typed: pure, no I/O."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from knock.core import mxid
from knock.core.blocklist import Decision
from knock.core.lifecycle import Event, Reason, State

# (user id as repaired or as typed, the raw text typed) -> the block-list's decision
BlockCheck = Callable[[str, str], Decision]


@dataclass(frozen=True)
class Verdict:
    """Where a new knock starts, and why."""

    user_id: str
    state: State
    reason: Reason | None
    history: tuple[tuple[str, str | None], ...]  # (event, detail) after `received`
    problem: str | None = None  # what is wrong with the id, for callers who may be told


def judge(requested: str, default_server: str, repair_action: str, check: BlockCheck) -> Verdict:
    """Repair and validate the id as typed, match it against the block-list, and place it."""
    try:
        user_id, repairs = mxid.parse(requested, default_server)
    except mxid.InvalidMatrixId as exc:
        return _invalid(requested, default_server, exc.reason, check)
    history: list[tuple[str, str | None]] = (
        [(Event.REPAIRED, "; ".join(repairs))] if repairs else []
    )
    decision = check(user_id, requested)
    if decision.verdict == "block":
        history.append((Event.REJECTED, explain(decision)))
        return Verdict(user_id, State.REJECTED, Reason.BLOCKED, tuple(history))
    if decision.verdict == "review":
        history.append((Event.HELD_FOR_REVIEW, explain(decision)))
        return Verdict(user_id, State.REVIEW, Reason.FUZZY_MATCH, tuple(history))
    if repairs and repair_action == "review":
        history.append((Event.HELD_FOR_REVIEW, Reason.REPAIRED_ID))
        return Verdict(user_id, State.REVIEW, Reason.REPAIRED_ID, tuple(history))
    history.append((Event.QUEUED, None))
    return Verdict(user_id, State.QUEUED, None, tuple(history))


def _invalid(requested: str, default_server: str, problem: str, check: BlockCheck) -> Verdict:
    shown = mxid.repair(requested, default_server).candidate[:255] or requested[:255]
    history: list[tuple[str, str | None]] = [(Event.REJECTED, problem)]
    # An id that fails validation is still matched, so moderators see who keeps trying.
    decision = check(shown, requested)
    if decision.verdict != "allow":
        history.append((Event.BLOCKED, explain(decision)))
    return Verdict(shown, State.REJECTED, Reason.INVALID_ID, tuple(history), problem)


def explain(decision: Decision) -> str:
    """Write a decision's matches for the audit log: the same match objects the API shows."""
    return json.dumps([match.as_dict() for match in decision.matches], ensure_ascii=False)
