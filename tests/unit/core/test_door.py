"""What becomes of a knock at the door, from the Matrix ID as it was typed."""

from __future__ import annotations

import pytest

from knock.core.door import judge_id
from knock.core.lifecycle import Event, Reason, State

SERVER = "example.org"


@pytest.mark.parametrize("repair_action", ["invite", "review"])
def test_a_valid_id_is_queued_with_no_repair_in_its_history(repair_action: str) -> None:
    verdict = judge_id("@alice:example.org", SERVER, repair_action)

    assert verdict.user_id == "@alice:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.reason is None
    assert verdict.history == ((Event.QUEUED, None),)
    assert verdict.problem is None


def test_a_repaired_id_is_queued_and_the_repair_is_written_down() -> None:
    verdict = judge_id(" Alice ", SERVER, "invite")

    assert verdict.user_id == "@alice:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.reason is None
    assert verdict.history == (
        (
            Event.REPAIRED,
            'removed spaces; lower-cased; added "@"; added the default server "example.org"',
        ),
        (Event.QUEUED, None),
    )


def test_a_matrix_to_link_is_repaired_to_the_id_it_points_at() -> None:
    verdict = judge_id("https://matrix.to/#/@bob:example.org", SERVER, "invite")

    assert verdict.user_id == "@bob:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.history[0] == (Event.REPAIRED, "took the id from a matrix.to link")


def test_a_repaired_id_is_held_for_review_when_repairs_need_a_moderator() -> None:
    verdict = judge_id("alice@example.org", SERVER, "review")

    assert verdict.user_id == "@alice:example.org"
    assert verdict.state is State.REVIEW
    assert verdict.reason is Reason.REPAIRED_ID
    assert verdict.history == (
        (Event.REPAIRED, 'replaced "@" before the server with ":"; added "@"'),
        (Event.HELD_FOR_REVIEW, Reason.REPAIRED_ID),
    )


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        (
            "@ali*ce:example.org",
            'the part before ":" may only contain a-z, 0-9 and . _ = - / +, not "*"',
        ),
        ("", "the Matrix ID is empty; it looks like @alice:example.org"),
        (
            "@alice:exa_mple.org",
            'the server name "exa_mple.org" is not a valid host name; '
            'use only letters, digits, "-" and "."',
        ),
    ],
)
def test_an_invalid_id_is_rejected_with_a_sentence_saying_what_is_wrong(
    typed: str, problem: str
) -> None:
    verdict = judge_id(typed, SERVER, "invite")

    assert verdict.state is State.REJECTED
    assert verdict.reason is Reason.INVALID_ID
    assert verdict.problem == problem
    assert verdict.history == ((Event.REJECTED, problem),)


def test_a_rejected_id_is_kept_at_most_255_characters_long() -> None:
    verdict = judge_id("@" + "*" * 1000 + ":example.org", SERVER, "invite")

    assert verdict.state is State.REJECTED
    assert len(verdict.user_id) == 255
