"""Rows as typed objects, the shapes services work with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from knock.core.lifecycle import State


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

    @classmethod
    def from_row(cls, row: Any) -> KnockRecord:
        """Build from a result row."""
        m = row._mapping
        return cls(
            knock_id=m["knock_id"],
            user_id=m["user_id"],
            requested_id=m["requested_id"],
            state=State(m["state"]),
            reason=m["reason"],
            source=m["source"],
            submission_key=m["submission_key"],
            received_at=m["received_at"],
            updated_at=m["updated_at"],
            invite_attempted_at=m["invite_attempted_at"],
            invited_at=m["invited_at"],
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a knock's audit log."""

    at: float
    event: str
    actor: str
    detail: str | None


@dataclass(frozen=True)
class NewKnock:
    """A knock about to be stored by intake."""

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


@dataclass(frozen=True)
class Job:
    """A claimed unit of durable work."""

    job_id: int
    kind: str
    knock_id: str | None
    attempts: int
    first_attempt_at: float
    knock: KnockRecord | None = None  # the job's knock, read when the job was claimed
