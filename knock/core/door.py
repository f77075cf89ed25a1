"""Decide what becomes of a knock at the door, from what was typed: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from knock.core import mxid
from knock.core.lifecycle import Event, Reason, State


@dataclass(frozen=True)
class Verdict:
    """Where a new knock starts, and why."""

    user_id: str
    state: State
    reason: Reason | None
    history: tuple[tuple[str, str | None], ...]  # (event, detail) after `received`
    problem: str | None = None  # what is wrong with the id, for callers who may be told


def judge_id(requested: str, default_server: str, repair_action: str) -> Verdict:
    """Repair and validate the id as typed; queue it, hold it for review, or reject it."""
    try:
        user_id, repairs = mxid.parse(requested, default_server)
    except mxid.InvalidMatrixId as exc:
        shown = mxid.repair(requested, default_server).candidate[:255] or requested[:255]
        return Verdict(
            shown, State.REJECTED, Reason.INVALID_ID, ((Event.REJECTED, exc.reason),), exc.reason
        )
    history: list[tuple[str, str | None]] = (
        [(Event.REPAIRED, "; ".join(repairs))] if repairs else []
    )
    if repairs and repair_action == "review":
        history.append((Event.HELD_FOR_REVIEW, Reason.REPAIRED_ID))
        return Verdict(user_id, State.REVIEW, Reason.REPAIRED_ID, tuple(history))
    history.append((Event.QUEUED, None))
    return Verdict(user_id, State.QUEUED, None, tuple(history))
