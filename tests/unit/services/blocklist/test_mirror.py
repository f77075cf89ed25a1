"""The block-list file's original format, read and written."""

from __future__ import annotations

from knock.services.blocklist.mirror import HEADER, Line, parse_lines, render
from knock.store import StoredEntry


def test_lines_in_the_original_format_are_read_with_or_without_a_reason() -> None:
    text = "\n".join(
        [
            "# a comment",
            "@troll:example.org Reason: spammed the lobby",
            "@*:evil.example",
            "",
            "@bob:example.org   reason:   rude  ",
        ]
    )

    assert parse_lines(text) == {
        "@troll:example.org": Line("@troll:example.org", "spammed the lobby"),
        "@*:evil.example": Line("@*:evil.example", None),
        "@bob:example.org": Line("@bob:example.org", "rude"),
    }


def test_rendered_entries_read_back_the_same() -> None:
    entries = [
        StoredEntry("@troll:example.org", False, "moderator", "api:admin", "spam", 1.0),
        StoredEntry("@*:evil.example", False, "moderator", "file", None, 2.0),
    ]

    text = render(entries)

    assert text.splitlines()[0] == HEADER
    assert parse_lines(text) == {
        "@troll:example.org": Line("@troll:example.org", "spam"),
        "@*:evil.example": Line("@*:evil.example", None),
    }
