"""What a status page may say: every refusal reads `received`, and the words only move forward."""

from __future__ import annotations

from dataclasses import replace

import pytest

from knock.core.lifecycle import Reason, State
from knock.core.page_status import PageState, StatusFacts, page_state

WAITING = StatusFacts("@a:example.org", State.QUEUED, None, invited=False, known=None)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (State.QUEUED, None),
        (State.DEFERRED, None),
        (State.REVIEW, Reason.FUZZY_MATCH),
        (State.REVIEW, Reason.JOIN_WAVE),
        (State.REJECTED, Reason.BLOCKED),
        (State.REJECTED, Reason.BANNED),
        (State.REJECTED, Reason.SERVER_DENIED),
        (State.REJECTED, Reason.DENIED),
        (State.DROPPED, Reason.HONEYPOT),
        (State.DROPPED, Reason.BACKED_OFF),
        (State.FAILED, Reason.HOMESERVER_ERROR),
        (State.BLOCKED, None),
    ],
)
def test_everything_before_an_invite_and_every_refusal_reads_received(
    state: State, reason: Reason | None
) -> None:
    facts = replace(WAITING, state=state, reason=reason and reason.value, known=True)

    assert page_state(facts) is PageState.RECEIVED


@pytest.mark.parametrize("state", [State.REJECTED, State.REVIEW, State.DROPPED, State.QUEUED])
def test_not_found_is_exactly_what_the_homeserver_said(state: State) -> None:
    assert page_state(replace(WAITING, state=state, known=False)) is PageState.NOT_FOUND
    assert page_state(replace(WAITING, state=state, known=None)) is PageState.RECEIVED


def test_an_invite_step_that_found_no_account_reads_not_found() -> None:
    facts = replace(WAITING, state=State.REJECTED, reason=Reason.UNKNOWN_USER.value)

    assert page_state(facts) is PageState.NOT_FOUND


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        (State.INVITED, PageState.INVITED),
        (State.JOINED, PageState.JOINED),
        (State.EXPIRED, PageState.EXPIRED),
        (State.DECLINED, PageState.EXPIRED),
        (State.RESCINDED, PageState.EXPIRED),
        (State.BLOCKED, PageState.EXPIRED),
        (State.FAILED, PageState.EXPIRED),
    ],
)
def test_once_invited_a_knock_never_reads_received_again(state: State, shown: PageState) -> None:
    # Even when the account was said to be missing later: it was invited, so it existed.
    facts = replace(WAITING, state=state, invited=True, known=False)

    assert page_state(facts) is shown
