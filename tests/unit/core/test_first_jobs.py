"""The jobs a knock starts with: its first, and the lookup of its person for the console."""

from __future__ import annotations

import pytest

from knock.core.admission_state import NewKnockRows, StatusLink
from knock.core.jobs import JobKind
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Reason, State

PAGE = StatusLink("hash", "default")


def rows(
    state: State, reason: Reason | None, job: JobKind | None, page: StatusLink | None = None
) -> NewKnockRows:
    knock = NewKnock(
        knock_id="k1",
        user_id="@alice:example.org",
        requested_id="@alice:example.org",
        state=state,
        reason=reason.value if reason else None,
        source="page" if page else "tally",
        submission_key=None,
        ip_hash=None,
        answers=None,
    )
    return NewKnockRows(knock, (), job, page)


@pytest.mark.parametrize("reason", [Reason.FUZZY_MATCH, Reason.REPAIRED_ID])
def test_a_knock_held_for_review_is_looked_up_after_its_announcement(reason: Reason) -> None:
    assert rows(State.REVIEW, reason, JobKind.ANNOUNCE).jobs() == [
        JobKind.ANNOUNCE,
        JobKind.PROFILE,
    ]
    assert rows(State.REVIEW, reason, None).jobs() == [JobKind.PROFILE]


def test_a_join_waves_knocks_are_not_looked_up() -> None:
    assert rows(State.REVIEW, Reason.JOIN_WAVE, None).jobs() == []


def test_a_knock_pages_account_check_is_its_lookup() -> None:
    held = rows(State.REVIEW, Reason.FUZZY_MATCH, None, PAGE)
    assert held.jobs() == [JobKind.CHECK_ACCOUNT]
    assert rows(State.QUEUED, None, JobKind.INVITE, PAGE).jobs() == [
        JobKind.INVITE,
        JobKind.CHECK_ACCOUNT,
    ]


def test_a_queued_knock_is_looked_up_by_its_invite() -> None:
    assert rows(State.QUEUED, None, JobKind.INVITE).jobs() == [JobKind.INVITE]
    assert rows(State.REJECTED, Reason.BLOCKED, None).jobs() == []


def test_a_lookup_never_fails_its_knock() -> None:
    assert not JobKind.PROFILE.settles_knock and not JobKind.CHECK_ACCOUNT.settles_knock
    assert JobKind.INVITE.settles_knock
