"""Why a knock waits for review, in a moderator's words; where it came from; what it answered."""

from __future__ import annotations

import json

import pytest

from knock.core.blocklist import BlockIndex, Entry
from knock.core.evidence import evidence_text
from knock.core.explain import ago, held_because, platform_name
from knock.core.history import HistoryEntry
from knock.core.lifecycle import Event, Reason

TROLL = "@troll:example.org"


def line(event: Event, detail: str | None = None) -> HistoryEntry:
    return HistoryEntry(0.0, event.value, "form:tally", detail)


def held_by_block_list(user_id: str, *entries: str, display_name: str | None = None) -> str:
    index = BlockIndex([Entry(entry) for entry in entries])
    decision = index.check(user_id, display_name=display_name)
    assert decision.verdict == "review", decision
    return evidence_text(decision)


def fuzzy(user_id: str, evidence: str, *before: HistoryEntry) -> tuple[str, ...]:
    history = [line(Event.RECEIVED), *before, line(Event.HELD_FOR_REVIEW, evidence)]
    return held_because(Reason.FUZZY_MATCH.value, history, user_id=user_id, requested_id=user_id)


def test_a_look_alike_says_which_entry_and_how_it_was_read() -> None:
    evidence = held_by_block_list("@tr0ll_99:example.org", TROLL)

    assert fuzzy("@tr0ll_99:example.org", evidence) == (
        'looks like @troll:example.org: 0→o, removed suffix "_99"',
    )


def test_a_lossy_look_alike_names_the_fold() -> None:
    evidence = held_by_block_list("@rnallory:example.org", "@mallory:example.org")

    assert fuzzy("@rnallory:example.org", evidence) == (
        'looks like @mallory:example.org: look-alike "rn" → "m"',
    )


def test_a_display_name_match_quotes_the_name() -> None:
    evidence = held_by_block_list(
        "@quiet:example.org", "@grumpytroll:example.org", display_name="grumpytrоll"
    )

    [said] = fuzzy("@quiet:example.org", evidence)

    assert said.startswith('looks like @grumpytroll:example.org: display name "grumpytrоll"')
    assert "(Cyrillic)" in said


def test_every_match_shown_gets_its_own_sentence_and_allow_matches_none() -> None:
    matches = [
        {"entry": TROLL, "rule": "normalised", "transforms": ["0->o"], "verdict": "review"},
        {"entry": "@tr0ll:*", "rule": "allow", "transforms": [], "verdict": "allow"},
        {
            "entry": "@trolls:example.org",
            "rule": "edit_distance",
            "transforms": ['missing "s"'],
            "verdict": "review",
        },
    ]

    said = fuzzy("@tr0ll:example.org", json.dumps(matches))

    assert said == (
        "looks like @troll:example.org: 0→o",
        'looks like @trolls:example.org: missing "s"',
    )


def test_the_last_hold_is_the_one_explained() -> None:
    first = held_by_block_list("@tr0ll:example.org", TROLL)
    second = held_by_block_list("@tr0ll:example.org", "@tr0ll:other.example")
    history = [
        line(Event.HELD_FOR_REVIEW, first),
        line(Event.APPROVED),
        line(Event.HELD_FOR_REVIEW, second),
    ]

    [said] = held_because(
        "fuzzy_match", history, user_id="@tr0ll:example.org", requested_id="@tr0ll:example.org"
    )

    assert said.startswith("looks like @tr0ll:other.example:")


@pytest.mark.parametrize("detail", [None, "fuzzy_match", "[{not json", "[]"])
def test_evidence_that_cannot_be_read_still_says_why_in_words(detail: str | None) -> None:
    assert fuzzy("@tr0ll:example.org", detail) == (  # type: ignore[arg-type]
        "its Matrix ID or display name looks like one on the block-list",
    )


def test_an_exact_entry_is_said_to_be_on_the_block_list() -> None:
    matches = [{"entry": "*.evil.example", "rule": "server", "transforms": [], "verdict": "block"}]

    assert fuzzy("@x:a.evil.example", json.dumps(matches)) == (
        "is on the block-list as *.evil.example",
    )


def test_a_repaired_id_says_how_it_was_typed_and_what_was_done() -> None:
    history = [
        line(Event.RECEIVED),
        line(Event.REPAIRED, 'added "@"; added the default server "example.org"'),
        line(Event.HELD_FOR_REVIEW, "repaired_id"),
    ]

    said = held_because("repaired_id", history, user_id="@alice:example.org", requested_id="alice")

    assert said == (
        'the Matrix ID was repaired (typed as "alice"): added "@", '
        'added the default server "example.org"',
    )


def test_a_look_alike_that_was_also_repaired_says_both() -> None:
    evidence = held_by_block_list("@tr0ll:example.org", TROLL)
    repaired = line(Event.REPAIRED, "removed spaces")

    said = held_because(
        "fuzzy_match",
        [repaired, line(Event.HELD_FOR_REVIEW, evidence)],
        user_id="@tr0ll:example.org",
        requested_id="@tr0ll :example.org",
    )

    assert said == (
        "looks like @troll:example.org: 0→o",
        'the Matrix ID was repaired (typed as "@tr0ll :example.org"): removed spaces',
    )


def test_the_typed_id_is_quoted_with_invisible_characters_spelled_out() -> None:
    said = held_because(
        "repaired_id",
        [line(Event.REPAIRED, "removed invisible characters")],
        user_id="@alice:example.org",
        requested_id="@al\u200bice:example.org",
    )

    assert said == (
        'the Matrix ID was repaired (typed as "@al\\u200bice:example.org"): '
        "removed invisible characters",
    )


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("join_wave", "arrived during a join wave (many knocks at once)"),
        ("review_mode", "every knock waits for a moderator (review mode)"),
        ("deferred_overflow", "arrived when too many knocks were already waiting their turn"),
        ("something_new", "held for review (something_new)"),
        (None, "held for review"),
    ],
)
def test_other_reasons_in_words(reason: str | None, words: str) -> None:
    history = [line(Event.HELD_FOR_REVIEW, reason)]

    assert held_because(reason, history, user_id="@a:x.org", requested_id="@a:x.org") == (words,)


def test_platforms_by_name_and_an_unknown_one_shown_safely() -> None:
    assert platform_name("tally") == "Tally"
    assert platform_name("page") == "Knock's own page"
    assert platform_name("native") == "a knock in Matrix"
    assert platform_name("new\x00thing") == "new\\x00thing"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-5, "just now"),
        (59, "just now"),
        (60, "1 minute ago"),
        (3599, "59 minutes ago"),
        (3600, "1 hour ago"),
        (86399, "23 hours ago"),
        (86400 * 3 + 5, "3 days ago"),
    ],
)
def test_ago(seconds: float, words: str) -> None:
    assert ago(seconds) == words
