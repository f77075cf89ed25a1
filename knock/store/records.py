"""Rows as typed objects: a claimed job, and knocks read back from their rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knock.core.jobs import JobKind
from knock.core.knocks import KnockRecord
from knock.core.lifecycle import State


def knock_from_row(row: Any) -> KnockRecord:
    """Build a knock from a result row of the knocks table."""
    return knock_from_mapping(row._mapping)


def knock_from_mapping(m: Mapping[str, Any]) -> KnockRecord:
    """Build a knock from the knocks table's columns, by name."""
    return KnockRecord(
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
        door=m["door"],
    )


@dataclass(frozen=True)
class Job:
    """A claimed unit of durable work."""

    job_id: int
    kind: JobKind | None  # None: a kind this version does not know
    knock_id: str | None
    attempts: int
    first_attempt_at: float
    claimed_by: str  # the worker that holds the job's lease
    knock: KnockRecord | None = None  # the job's knock, read when the job was claimed
    room: str | None = None  # the room it is about, when not its knock's door's (a child room)
