"""Ban rules read out of a policy room's state."""

from __future__ import annotations

from knock.core.policy_rules import PolicyRule, ban_rules


def _event(kind: str, key: str, **content: object) -> dict[str, object]:
    return {"type": kind, "state_key": key, "content": content}


def test_user_and_server_ban_rules_in_every_spelling_become_rules() -> None:
    events = [
        _event("m.policy.rule.user", "a", entity="@spam*:*", recommendation="m.ban", reason="spam"),
        _event(
            "org.matrix.mjolnir.rule.user",
            "b",
            entity="@troll:example.org",
            recommendation="org.matrix.mjolnir.ban",
        ),
        _event("m.policy.rule.server", "c", entity="*.evil.example", recommendation="m.ban"),
        _event("m.room.rule.server", "d", entity="bad.example", recommendation="m.ban"),
    ]

    assert ban_rules(events) == [
        PolicyRule("@spam*:*", "spam"),
        PolicyRule("@troll:example.org", None),
        PolicyRule("*.evil.example", None),
        PolicyRule("bad.example", None),
    ]


def test_removed_rules_other_recommendations_and_other_events_are_ignored() -> None:
    events = [
        _event("m.policy.rule.user", "gone"),  # a removed rule has empty content
        _event("m.policy.rule.user", "x", entity="@a:b", recommendation="org.example.mute"),
        _event("m.room.name", "", name="Ban list"),
        _event("m.policy.rule.user", "y", entity="not-a-user", recommendation="m.ban"),
        {"type": "m.policy.rule.user", "content": "garbage"},
    ]

    assert ban_rules(events) == []


def test_a_hashed_entity_becomes_a_hashed_rule() -> None:
    digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
    events = [
        _event(
            "m.policy.rule.user",
            "h",
            recommendation="m.ban",
            **{"org.matrix.msc4205.hashes": {"sha256": digest}},
        )
    ]

    assert ban_rules(events) == [PolicyRule(digest, None, hashed=True)]
