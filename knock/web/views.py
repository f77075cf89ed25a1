"""How knocks look wherever they are shown (admin API, CLI): one shape everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from knock.core.evidence import read_evidence
from knock.core.history import HistoryEntry
from knock.core.knocks import KnockRecord


def iso(epoch: float) -> str:
    """Format epoch seconds as ISO-8601 UTC."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def knock_view(
    knock: KnockRecord,
    history: list[HistoryEntry] | None = None,
    answers: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Return the knock object of the admin API, with its history and answers when given."""
    view: dict[str, Any] = {
        "knock_id": knock.knock_id,
        "user_id": knock.user_id,
        "state": knock.state.value,
        "reason": knock.reason,
        "source": knock.source,
        "door": knock.door,
        "received_at": iso(knock.received_at),
        "updated_at": iso(knock.updated_at),
    }
    if history is not None:
        view["history"] = [
            {"at": iso(h.at), "event": h.event, "actor": h.actor, "detail": _detail(h.detail)}
            for h in history
        ]
    if answers is not None:
        view["answers"] = [{"question": question, "answer": answer} for question, answer in answers]
    return view


def _detail(detail: str | None) -> Any:
    # Block-list matches are stored as JSON, so they show as the same match objects as the API's.
    evidence = read_evidence(detail)
    return detail if evidence is None else [match.fields for match in evidence]
