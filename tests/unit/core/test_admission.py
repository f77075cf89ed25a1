"""What becomes of a knock at admission: the checks, in their fixed order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from knock.core.admission import Facts, decide, read_id
from knock.core.blocklist import BlockIndex, Entry
from knock.core.lifecycle import Event, Reason, State

SERVER = "example.org"
TROLL = BlockIndex([Entry("@troll:example.org", reason="spam")])


def facts(typed: str = "@alice:example.org", **changes: object) -> Facts:
    identity = read_id(typed, SERVER)
    base = Facts(identity=identity, block=TROLL.check(identity.user_id, typed=typed))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_valid_id_is_queued_with_no_repair_in_its_history() -> None:
    verdict = decide(facts())

    assert (verdict.user_id, verdict.state, verdict.reason) == (
        "@alice:example.org",
        State.QUEUED,
        None,
    )
    assert verdict.history == ((Event.QUEUED, None),)
    assert not verdict.strike_person and not verdict.strike_address


def test_a_repaired_id_is_queued_and_the_repair_is_written_down() -> None:
    verdict = decide(facts(" alice "))

    assert verdict.user_id == "@alice:example.org"
    assert verdict.state is State.QUEUED
    assert verdict.history[0] == (
        Event.REPAIRED,
        'removed spaces; added "@"; added the default server "example.org"',
    )


def test_a_repaired_id_is_held_for_review_when_repairs_need_a_moderator() -> None:
    verdict = decide(facts("alice@example.org", repair_action="review"))

    assert (verdict.state, verdict.reason) == (State.REVIEW, Reason.REPAIRED_ID)


def test_an_invalid_id_is_rejected_with_a_problem_the_caller_may_read() -> None:
    verdict = decide(facts("@alice:bad_server!"))

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.INVALID_ID)
    assert verdict.problem and "server" in verdict.problem
    assert verdict.strike_address and not verdict.strike_person  # what the caller typed


def test_an_invalid_id_that_matches_the_block_list_is_still_recorded() -> None:
    verdict = decide(facts("@troll:example.org!!"))

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.INVALID_ID)
    assert [event for event, _ in verdict.history] == [Event.REJECTED, Event.BLOCKED]


def test_a_filled_honeypot_is_dropped_before_the_id_is_looked_at() -> None:
    verdict = decide(facts("@troll:example.org", honeypot="website", person_locked=True))

    assert (verdict.state, verdict.reason) == (State.DROPPED, Reason.HONEYPOT)
    assert verdict.retry_after is None  # nothing tells a bot it was caught
    assert verdict.strike_address and not verdict.strike_person


def test_a_second_knock_while_the_first_waits_is_a_duplicate_and_no_strike() -> None:
    verdict = decide(facts(waiting_already=True, person_locked=True))

    assert (verdict.state, verdict.reason) == (State.DROPPED, Reason.DUPLICATE)
    assert not verdict.strike_person and not verdict.strike_address


def test_a_backed_off_person_is_dropped_silently_like_a_duplicate() -> None:
    verdict = decide(facts(person_locked=True, over_windows=("user",)))

    assert (verdict.state, verdict.reason) == (State.DROPPED, Reason.BACKED_OFF)
    assert verdict.retry_after is None and verdict.problem is None  # answered 202
    assert verdict.strike_person and not verdict.strike_address


def test_over_a_persons_window_is_dropped_silently() -> None:
    verdict = decide(facts(over_windows=("user", "server")))

    assert (verdict.state, verdict.reason) == (State.DROPPED, Reason.RATE_LIMITED)
    assert verdict.retry_after is None
    assert "user, server" in (verdict.history[-1][1] or "")


def test_only_the_callers_address_answers_slow_down_and_before_anything_else() -> None:
    over = decide(facts("@troll:example.org", address_over=True, address_retry_after=30.5))
    locked = decide(facts("not an id", address_locked_for=120, honeypot="website"))

    assert (over.state, over.reason, over.retry_after) == (
        State.DROPPED,
        Reason.RATE_LIMITED,
        30.5,
    )
    assert (locked.state, locked.reason, locked.retry_after) == (
        State.DROPPED,
        Reason.BACKED_OFF,
        120,
    )
    assert not any((over.strike_address, over.strike_person, locked.strike_address))


@pytest.mark.parametrize(
    "changes",
    [
        {"server_allowed": False},
        {"person_locked": True},
        {"over_windows": ("user",)},
        {},  # the block-list itself: @troll is blocked
    ],
)
def test_no_refusal_after_the_id_is_valid_strikes_the_address_or_answers(
    changes: dict[str, object],
) -> None:
    verdict = decide(facts("@troll:example.org", **changes))

    assert verdict.state in (State.REJECTED, State.DROPPED)
    assert verdict.retry_after is None and verdict.problem is None
    assert verdict.strike_person and not verdict.strike_address


def test_a_denied_server_is_rejected_before_the_block_list_is_consulted() -> None:
    verdict = decide(facts("@troll:example.org", server_allowed=False))

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.SERVER_DENIED)


def test_a_blocked_id_is_rejected_and_the_matches_are_written_down() -> None:
    verdict = decide(facts("@troll:example.org"))

    assert (verdict.state, verdict.reason) == (State.REJECTED, Reason.BLOCKED)
    assert '"rule": "exact"' in (verdict.history[-1][1] or "")
    assert verdict.problem is None and verdict.retry_after is None  # never told


def test_a_disguised_id_is_held_for_review() -> None:
    verdict = decide(facts("@tr0ll_99:example.org"))

    assert (verdict.state, verdict.reason) == (State.REVIEW, Reason.FUZZY_MATCH)


def test_a_tripped_join_wave_holds_new_knocks_for_review() -> None:
    verdict = decide(facts(wave_tripped=True))

    assert (verdict.state, verdict.reason) == (State.REVIEW, Reason.JOIN_WAVE)


@pytest.mark.parametrize(
    ("window_full", "backlog", "state", "reason"),
    [
        (True, 0, State.DEFERRED, None),
        (False, 3, State.DEFERRED, None),  # behind earlier deferred knocks, in arrival order
        (True, 500, State.REVIEW, Reason.DEFERRED_OVERFLOW),
        (False, 0, State.QUEUED, None),
    ],
)
def test_the_global_window_paces_instead_of_dropping(
    window_full: bool, backlog: int, state: State, reason: Reason | None
) -> None:
    verdict = decide(facts(window_full=window_full, backlog=backlog, max_deferred=500))

    assert (verdict.state, verdict.reason) == (state, reason)
    assert not verdict.strike_person
