"""The knock state machine: which moves are allowed, and the words used for states and reasons."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a knock stands."""

    RECEIVED = "received"
    DROPPED = "dropped"
    REJECTED = "rejected"
    REVIEW = "review"
    DEFERRED = "deferred"
    QUEUED = "queued"
    INVITED = "invited"
    JOINED = "joined"
    EXPIRED = "expired"
    DECLINED = "declined"
    RESCINDED = "rescinded"
    FAILED = "failed"
    BLOCKED = "blocked"


class Reason(StrEnum):
    """Why a knock was dropped, rejected, held for review or failed."""

    HONEYPOT = "honeypot"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"
    BACKED_OFF = "backed_off"
    INVALID_ID = "invalid_id"
    UNKNOWN_USER = "unknown_user"
    BLOCKED = "blocked"
    BANNED = "banned"
    SERVER_DENIED = "server_denied"
    DENIED = "denied"
    FUZZY_MATCH = "fuzzy_match"
    JOIN_WAVE = "join_wave"
    REVIEW_MODE = "review_mode"
    REPAIRED_ID = "repaired_id"
    DEFERRED_OVERFLOW = "deferred_overflow"
    DOOR_REMOVED = "door_removed"
    HOMESERVER_ERROR = "homeserver_error"


class Event(StrEnum):
    """What happened to a knock, as written in its history."""

    RECEIVED = "received"
    REPAIRED = "repaired"
    DEFERRED = "deferred"
    HELD_FOR_REVIEW = "held_for_review"
    APPROVED = "approved"
    DENIED = "denied"
    QUEUED = "queued"
    INVITED = "invited"
    INVITED_TO_ROOM = "invited_to_room"  # a space door's child room (the room is the detail)
    # A space door's invite to one of its other rooms, not accepted within INVITE_TTL of being
    # sent after the person joined, withdrawn (the room is the detail).
    ROOM_INVITE_EXPIRED = "room_invite_expired"
    REMINDED = "reminded"
    JOINED = "joined"
    WELCOMED = "welcomed"
    DECLINED = "declined"
    EXPIRED = "expired"
    RESCINDED = "rescinded"
    BLOCKED = "blocked"
    LEFT = "left"
    FAILED = "failed"
    DROPPED = "dropped"
    REJECTED = "rejected"


# States a knock never leaves except by a block-list match (which may follow anyone).
CLOSED = frozenset(
    {
        State.DROPPED,
        State.REJECTED,
        State.EXPIRED,
        State.DECLINED,
        State.RESCINDED,
        State.FAILED,
        State.BLOCKED,
    }
)

# Knocks nobody has acted on yet: a second knock from the same person is a duplicate.
WAITING = frozenset({State.QUEUED, State.REVIEW, State.DEFERRED})

# Knocks Knock still follows (waiting, invited or in the room): a new block-list entry closes
# them, and an import leaves their people alone.
FOLLOWED = WAITING | {State.INVITED, State.JOINED}

_MOVES: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset(
        {State.DROPPED, State.REJECTED, State.REVIEW, State.DEFERRED, State.QUEUED}
    ),
    State.REVIEW: frozenset({State.QUEUED, State.REJECTED}),
    State.DEFERRED: frozenset({State.QUEUED, State.REVIEW, State.REJECTED}),
    # The worker finds out at invite time that the person is unknown, banned or already in.
    # ... or that a display name now needs a moderator's look (REVIEW).
    State.QUEUED: frozenset(
        {State.INVITED, State.REJECTED, State.DROPPED, State.FAILED, State.RESCINDED, State.REVIEW}
    ),
    State.INVITED: frozenset({State.JOINED, State.EXPIRED, State.DECLINED, State.RESCINDED}),
    State.JOINED: frozenset({State.RESCINDED}),
}


def can_move(current: State, target: State) -> bool:
    """Tell whether a knock in `current` may move to `target`."""
    if target is State.BLOCKED:
        return current is not State.BLOCKED
    return target in _MOVES.get(current, frozenset())


def sources_of(target: State) -> frozenset[State]:
    """Return every state from which a knock may move to `target`."""
    return frozenset(state for state in State if can_move(state, target))
