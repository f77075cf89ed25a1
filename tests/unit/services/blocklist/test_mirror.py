"""The block-list file's original format, read strictly and written back."""

from __future__ import annotations

from knock.services.blocklist.mirror import HEADER, Line, Skipped, parse_list, render


def test_lines_in_the_original_format_are_read_with_or_without_a_reason() -> None:
    text = "\n".join(
        [
            "# a comment",
            "@troll:example.org Reason: spammed the lobby",
            "@*:evil.example",
            "",
            "@bob:example.org   reason:   rude  ",
            "@Carol:Example.org\tshouted",
        ]
    )

    parsed = parse_list(text)

    assert parsed.lines == {
        "@troll:example.org": Line("@troll:example.org", "spammed the lobby"),
        "@*:evil.example": Line("@*:evil.example", None),
        "@bob:example.org": Line("@bob:example.org", "rude"),
        "@carol:example.org": Line("@carol:example.org", "shouted"),
    }
    assert parsed.skipped == []


def test_a_line_is_an_entry_only_when_it_starts_with_a_matrix_id_or_an_id_pattern() -> None:
    text = "\n".join(
        [
            "not a valid line",  # 1: was the server entry "not"
            "Alice Troll",  # 2: was the server entry "alice"
            "*",  # 3
            "@*:*",  # 4
            "@spam*:* Reason: spam wave",  # 5: kept
            "evil.example",  # 6: a bare server: the file wants @*:evil.example
            "@nobody typo",  # 7: no server
            "   # an indented comment",
            "@*:*.org",  # 9
            "@?:* everyone with a one-letter name",  # 10
            "https://matrix.to/#/@troll:example.org",  # 11
        ]
    )

    parsed = parse_list(text)

    assert list(parsed.lines) == ["@spam*:*"]
    assert [(s.number, s.text) for s in parsed.skipped] == [
        (1, "not a valid line"),
        (2, "Alice Troll"),
        (3, "*"),
        (4, "@*:*"),
        (6, "evil.example"),
        (7, "@nobody typo"),
        (9, "@*:*.org"),
        (10, "@?:* everyone with a one-letter name"),
        (11, "https://matrix.to/#/@troll:example.org"),
    ]
    why = {s.number: s.why for s in parsed.skipped}
    assert why[1].startswith("not an entry: a line starts with a Matrix ID")
    assert "@*:evil.example" in why[6]
    assert "needs a server name" in why[7]
    assert all("name a server" in why[n] for n in (3, 4, 9, 10))


def test_rendered_entries_read_back_the_same() -> None:
    entries = [("@troll:example.org", "spam"), ("@*:evil.example", None)]

    text = render(entries)

    assert text.splitlines()[0] == HEADER
    assert parse_list(text).lines == {
        "@troll:example.org": Line("@troll:example.org", "spam"),
        "@*:evil.example": Line("@*:evil.example", None),
    }


def test_skipped_lines_are_kept_as_comments_and_read_as_nothing() -> None:
    skipped = parse_list("Alice Troll\n@*:*\n").skipped

    text = render([], skipped)
    again = parse_list(text)

    assert (again.lines, again.skipped) == ({}, [])
    assert [line for line in text.splitlines() if "Alice Troll" in line or "@*:*" in line] == [
        f"# Skipped by Knock ({skipped[0].why}): Alice Troll",
        f"# Skipped by Knock ({skipped[1].why}): @*:*",
    ]
    assert again.kept == [
        f"# Skipped by Knock ({skipped[0].why}): Alice Troll",
        f"# Skipped by Knock ({skipped[1].why}): @*:*",
    ]
    assert Skipped(1, "Alice Troll", skipped[0].why) == skipped[0]
