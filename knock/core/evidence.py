"""What the block-list found, kept with a knock: typed here, JSON only in the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from knock.core.blocklist import Decision


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """One block-list entry a knock met, and how it was made to meet it."""

    entry: str
    rule: str
    transforms: tuple[str, ...]
    fields: dict[str, Any]  # every key the match was written with, for the audit log's readers

    def readable(self) -> str:
        """Say in one line what the match means to a moderator."""
        return f"looks like {self.entry} ({self.rule}: {', '.join(self.transforms)})"


def evidence_text(decision: Decision) -> str:
    """Write a decision's matches for the audit log: the same match objects the API shows."""
    return json.dumps([match.as_dict() for match in decision.matches], ensure_ascii=False)


def read_evidence(detail: str | None) -> tuple[MatchEvidence, ...] | None:
    """Read matches back from an audit-log detail; None when the detail is not evidence."""
    if not detail or not detail.startswith("[{"):
        return None
    try:
        matches = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(matches, list) or not all(isinstance(m, dict) for m in matches):
        return None
    return tuple(
        MatchEvidence(
            entry=str(m.get("entry")),
            rule=str(m.get("rule")),
            transforms=tuple(str(t) for t in m.get("transforms") or ()),
            fields=m,
        )
        for m in matches
    )
