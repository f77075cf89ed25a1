"""What becomes of a knock at the door, from the Matrix ID as it was typed."""

from __future__ import annotations

import pytest

from knock.core.blocklist import BlockIndex, Entry
from knock.core.door import judge
from knock.core.lifecycle import Event, Reason, State

SERVER = "example.org"
_EMPTY = BlockIndex()


def NOTHING_BLOCKED(user_id: str, typed: str):  # noqa: N802 - reads as a constant at call sites
    return _EMPTY.check(user_id, typed=typed)


@pytest.mark.parametrize("repair_action", ["invite", "review"])
def test_a_valid_id_is_queued_with_no_repair_in_its_history(repair_action: str) -> None:
    verdict = judge("@alice:example.org", SERVER, repair_action, NOTHING_BLOCKED)

    assert verdict.user_id == "@alice:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.reason is None
    assert verdict.history == ((Event.QUEUED, None),)
    assert verdict.problem is None


def test_a_repaired_id_is_queued_and_the_repair_is_written_down() -> None:
    verdict = judge(" Alice ", SERVER, "invite", NOTHING_BLOCKED)

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
    verdict = judge("https://matrix.to/#/@bob:example.org", SERVER, "invite", NOTHING_BLOCKED)

    assert verdict.user_id == "@bob:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.history[0] == (Event.REPAIRED, "took the id from a matrix.to link")


def test_a_repaired_id_is_held_for_review_when_repairs_need_a_moderator() -> None:
    verdict = judge("alice@example.org", SERVER, "review", NOTHING_BLOCKED)

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
    verdict = judge(typed, SERVER, "invite", NOTHING_BLOCKED)

    assert verdict.state is State.REJECTED
    assert verdict.reason is Reason.INVALID_ID
    assert verdict.problem == problem
    assert verdict.history == ((Event.REJECTED, problem),)


def test_a_rejected_id_is_kept_at_most_255_characters_long() -> None:
    verdict = judge("@" + "*" * 1000 + ":example.org", SERVER, "invite", NOTHING_BLOCKED)

    assert verdict.state is State.REJECTED
    assert len(verdict.user_id) == 255


TROLL = BlockIndex([Entry("@troll:example.org", reason="spam")])


def _troll_check(user_id: str, typed: str):
    return TROLL.check(user_id, typed=typed)


def test_a_blocked_id_is_rejected_and_the_matches_are_written_down() -> None:
    verdict = judge("@troll:example.org", SERVER, "invite", _troll_check)

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.BLOCKED)
    event, detail = verdict.history[-1]
    assert event == Event.REJECTED
    assert '"rule": "exact"' in (detail or "")
    assert verdict.problem is None  # nobody is told they are blocked


def test_a_disguised_id_is_held_for_review() -> None:
    verdict = judge("@tr0ll_99:example.org", SERVER, "invite", _troll_check)

    assert (verdict.state, verdict.reason) == (State.REVIEW, Reason.FUZZY_MATCH)
    assert verdict.history[-1][0] == Event.HELD_FOR_REVIEW


def test_an_invalid_id_that_matches_the_block_list_is_still_recorded() -> None:
    verdict = judge("@troll:example.org!!", SERVER, "invite", _troll_check)

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.INVALID_ID)
    assert verdict.problem
    assert [event for event, _ in verdict.history] == [Event.REJECTED, Event.BLOCKED]
