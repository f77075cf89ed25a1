"""What the knock page tells a requester about their knock: a few public words, never a decision.

Everything before an invite, and every refusal, reads `received`; `not_found` only when the
homeserver said the account does not exist (Matrix profiles are public, so this reveals no
moderation decision); once invited, a knock reads `invited`, then `joined` or `expired`, and
never goes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import Reason, State


class PageState(StrEnum):
    """Where a knock stands, as its status page says."""

    RECEIVED = "received"
    NOT_FOUND = "not_found"
    INVITED = "invited"
    JOINED = "joined"
    EXPIRED = "expired"


@dataclass(frozen=True)
class StatusFacts:
    """What the store knows about the knock a status link shows."""

    user_id: str
    state: State
    reason: str | None
    invited: bool  # an invite was sent at some point
    known: bool | None  # the homeserver's answer about the account; None: not asked, or no answer
    door: str = DEFAULT_DOOR  # the door whose page made the link


def page_state(facts: StatusFacts) -> PageState:
    """Turn a knock's stored state into the words its status page may show."""
    if facts.state is State.JOINED:
        return PageState.JOINED
    if facts.invited:
        # A decline, a rescind, a later block or an expiry all read alike.
        return PageState.INVITED if facts.state is State.INVITED else PageState.EXPIRED
    if facts.known is False or facts.reason == Reason.UNKNOWN_USER.value:
        return PageState.NOT_FOUND
    return PageState.RECEIVED
