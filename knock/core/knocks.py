"""A knock as services and every view see it, and a new one about to be stored."""

from __future__ import annotations

from dataclasses import dataclass

from knock.core.lifecycle import State

# The door of a one-room set-up (NEW_ROOM_ID), and of every knock from before doors.
DEFAULT_DOOR = "default"
# What a moderator's change concerns when it is every door's (the block-list, the join wave).
EVERY_DOOR = "*"


@dataclass(frozen=True)
class KnockRecord:
    """One knock as stored."""

    knock_id: str
    user_id: str
    requested_id: str
    state: State
    reason: str | None
    source: str
    submission_key: str | None
    received_at: float
    updated_at: float
    invite_attempted_at: float | None
    invited_at: float | None
    door: str = DEFAULT_DOOR  # the way in it came through


@dataclass(frozen=True)
class NewKnock:
    """A knock about to be stored by admission (or an import)."""

    knock_id: str
    user_id: str
    requested_id: str
    state: State
    reason: str | None
    source: str
    submission_key: str | None
    ip_hash: str | None
    answers: str | None
    invited_at: float | None = None  # only for a knock that arrives already invited (an import)
    door: str = DEFAULT_DOOR
