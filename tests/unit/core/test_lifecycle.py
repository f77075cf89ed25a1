"""The knock state machine: the moves ARCHITECTURE allows, and no others out of closed states."""

from __future__ import annotations

import pytest

from knock.core.lifecycle import CLOSED, State, can_move, sources_of

S = State

ALLOWED = [
    (S.RECEIVED, S.QUEUED),
    (S.RECEIVED, S.REJECTED),
    (S.RECEIVED, S.DROPPED),
    (S.RECEIVED, S.REVIEW),
    (S.RECEIVED, S.DEFERRED),
    (S.QUEUED, S.INVITED),
    (S.QUEUED, S.REJECTED),
    (S.QUEUED, S.DROPPED),
    (S.QUEUED, S.FAILED),
    (S.QUEUED, S.RESCINDED),
    (S.INVITED, S.JOINED),
    (S.INVITED, S.EXPIRED),
    (S.INVITED, S.DECLINED),
    (S.INVITED, S.RESCINDED),
    (S.REVIEW, S.QUEUED),
    (S.REVIEW, S.REJECTED),
    (S.JOINED, S.RESCINDED),
]

# Skipping a step or going back would invite people nobody queued, or invite them twice.
FORBIDDEN = [
    (S.RECEIVED, S.INVITED),
    (S.RECEIVED, S.JOINED),
    (S.REVIEW, S.INVITED),
    (S.DEFERRED, S.INVITED),
    (S.QUEUED, S.JOINED),
    (S.QUEUED, S.RECEIVED),
    (S.INVITED, S.QUEUED),
    (S.INVITED, S.FAILED),
    (S.JOINED, S.INVITED),
    (S.JOINED, S.EXPIRED),
]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_moves(current: State, target: State) -> None:
    assert can_move(current, target)
    assert current in sources_of(target)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_no_step_is_skipped_and_no_knock_goes_back(current: State, target: State) -> None:
    assert not can_move(current, target)
    assert current not in sources_of(target)


def test_the_closed_states_are_the_final_ones() -> None:
    assert {
        S.DROPPED,
        S.REJECTED,
        S.EXPIRED,
        S.DECLINED,
        S.RESCINDED,
        S.FAILED,
        S.BLOCKED,
    } == CLOSED


@pytest.mark.parametrize("current", list(State))
def test_any_knock_may_be_blocked_except_a_blocked_one(current: State) -> None:
    assert can_move(current, S.BLOCKED) is (current is not S.BLOCKED)


@pytest.mark.parametrize("current", sorted(CLOSED))
def test_a_closed_knock_goes_nowhere_but_blocked(current: State) -> None:
    reachable = {target for target in State if can_move(current, target)}
    assert reachable == (set() if current is S.BLOCKED else {S.BLOCKED})


def test_an_invited_knock_cannot_be_invited_again() -> None:
    assert not can_move(S.INVITED, S.INVITED)
    assert sources_of(S.INVITED) == {S.QUEUED}
