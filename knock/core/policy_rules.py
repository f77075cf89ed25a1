"""Read ban rules out of a Matrix moderation policy room's state: pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

USER_RULES = frozenset({"m.policy.rule.user", "org.matrix.mjolnir.rule.user", "m.room.rule.user"})
SERVER_RULES = frozenset(
    {"m.policy.rule.server", "org.matrix.mjolnir.rule.server", "m.room.rule.server"}
)
BAN = frozenset({"m.ban", "org.matrix.mjolnir.ban"})
# MSC4205: the entity is replaced by hashes of it, so a list can ban without naming anyone.
_HASHES = ("org.matrix.msc4205.hashes", "hashes")


@dataclass(frozen=True)
class PolicyRule:
    """One ban rule: a user glob, a server glob, or the sha256 of a user id."""

    pattern: str
    reason: str | None
    hashed: bool = False


def ban_rules(events: Iterable[Mapping[str, Any]]) -> list[PolicyRule]:
    """Return the ban rules among a room's state events (a removed rule has empty content)."""
    rules: dict[tuple[str, bool], PolicyRule] = {}
    for event in events:
        rule = _rule(event)
        if rule is not None:
            rules[(rule.pattern, rule.hashed)] = rule
    return list(rules.values())


def _rule(event: Mapping[str, Any]) -> PolicyRule | None:
    kind = event.get("type")
    content = event.get("content")
    if kind not in USER_RULES | SERVER_RULES or not isinstance(content, Mapping):
        return None
    if content.get("recommendation") not in BAN:
        return None
    reason = content.get("reason") if isinstance(content.get("reason"), str) else None
    entity = content.get("entity")
    if isinstance(entity, str) and entity.strip():
        pattern = entity.strip()
        if kind in USER_RULES and not pattern.startswith("@"):
            return None
        return PolicyRule(pattern, reason)
    if kind in USER_RULES:
        digest = _sha256(content)
        if digest:
            return PolicyRule(digest, reason, hashed=True)
    return None


def _sha256(content: Mapping[str, Any]) -> str | None:
    for key in _HASHES:
        hashes = content.get(key)
        if isinstance(hashes, Mapping) and isinstance(hashes.get("sha256"), str):
            return str(hashes["sha256"]).strip() or None
    return None
