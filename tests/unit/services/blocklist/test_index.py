"""What a moderator may type as a block-list entry."""

from __future__ import annotations

import pytest

from knock.services.blocklist.index import BadPattern, normalise_pattern


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("@troll:example.org", "@troll:example.org"),
        (" @Troll:Example.org ", "@troll:example.org"),
        ("troll:example.org", "@troll:example.org"),
        ("@spam*:*", "@spam*:*"),
        ("@*:evil.example", "@*:evil.example"),
        ("@*:*.evil.example", "@*:*.evil.example"),
        ("@b?b:example.org", "@b?b:example.org"),
        ("Evil.Example", "evil.example"),
        ("*.evil.example", "*.evil.example"),
    ],
)
def test_ids_globs_and_servers_are_accepted(typed: str, stored: str) -> None:
    assert normalise_pattern(typed) == stored


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "an entry is"),
        ("@troll", "not a valid Matrix ID"),
        ("@spam*", "needs a server part"),
        ("@spam*:", "needs a server part"),
        ("@*:", "needs a server part"),
        ("two words", "an entry is"),
        ("bad_server!", "not a valid server name"),
    ],
)
def test_anything_else_is_refused_with_a_reason(typed: str, why: str) -> None:
    with pytest.raises(BadPattern, match=why):
        normalise_pattern(typed)


@pytest.mark.parametrize("typed", ["*", "@*:*", "@*:*.org", "@?:*", "*.org", "**", "@?*:*"])
def test_a_catch_all_is_refused_with_a_hint_to_name_a_server(typed: str) -> None:
    with pytest.raises(BadPattern) as refused:
        normalise_pattern(typed)

    assert "would match anyone on any server" in str(refused.value)
    assert "name a server instead, like @*:evil.example or @spam*:evil.example" in str(
        refused.value
    )
