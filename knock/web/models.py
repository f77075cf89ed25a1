"""What the API takes and answers, as the OpenAPI description shows it.

A request field is refused unless its JSON has the type the description gives: `"confirm": 0`
is not `false` and `"limit": "5"` is not a number (`5.0` is, as JSON Schema counts integers).
Answers keep the shapes Knock has always given; the models
only describe them. Every error body is `{"detail": "..."}`, a sentence a person can act on;
FastAPI's own validation errors list what is wrong, field by field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictBool

from knock.core.blocklist.model import Rule, Verdict
from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import State

# Requests.


def _a_number(value: object) -> object:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not a string or a boolean")
    return value


# An integer as JSON Schema has it: 5 or 5.0, never "5" or true.
Integer = Annotated[int, BeforeValidator(_a_number)]


class UserAction(BaseModel):
    """A moderator's action on one person."""

    user_id: str = Field(min_length=1, max_length=512, examples=["@troll:example.org"])
    reason: str | None = Field(default=None, max_length=2000)


class BlockRequest(BaseModel):
    """Block a Matrix ID, a pattern like `@spam*:*`, or a server."""

    user_id: str = Field(min_length=1, max_length=512, examples=["@troll:example.org"])
    reason: str | None = Field(default=None, max_length=2000)
    dry_run: StrictBool = False
    confirm: StrictBool = False
    door: str | None = Field(
        default=None,
        max_length=64,
        description="A door's own entry: it refuses knocks at that door and removes people "
        "from that door's rooms only. Not given: an entry of every door.",
    )


class EntryRequest(BaseModel):
    """Name one block-list or allow-list entry."""

    user_id: str = Field(min_length=1, max_length=512, examples=["@troll:example.org"])
    reason: str | None = Field(default=None, max_length=2000)


class UnblockRequest(EntryRequest):
    """Name one moderator's block-list entry: every door's, or one door's own."""

    door: str | None = Field(
        default=None,
        max_length=64,
        description="A door's own entry: it refuses knocks at that door and removes people "
        "from that door's rooms only. Not given: an entry of every door.",
    )


class Note(BaseModel):
    """A moderator's note on a decision, kept in the audit log."""

    reason: str | None = Field(default=None, max_length=2000)


class DenyFilter(BaseModel):
    """Which knocks held for review to deny at once."""

    reason: str | None = Field(default=None, examples=["deferred_overflow", "join_wave"])
    user_id: str | None = Field(default=None, max_length=512)
    limit: Integer = Field(default=1000, ge=1, le=100_000)
    note: str | None = Field(default=None, max_length=2000)


# Errors.


class Problem(BaseModel):
    """What went wrong, and what to do about it."""

    detail: str


class FieldProblem(BaseModel):
    """One field of a request that does not have the type or value the description gives."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """The request is well formed but says something Knock cannot take: a sentence, or (for a
    field of the wrong type or size) the list of fields at fault."""

    detail: str | list[FieldProblem]


class FormProblem(BaseModel):
    """Why a form delivery was refused; an invalid Matrix ID's knock is recorded with its id."""

    detail: str
    knock_id: str | None = None


# Answers of the public routes.


class Liveness(BaseModel):
    """Knock is running."""

    status: Literal["running"]
    service: Literal["knock"]


class ReadinessChecks(BaseModel):
    """Each part Knock depends on, true when it answers as it should."""

    database: bool
    homeserver: bool
    rooms: bool


class SettingWarning(BaseModel):
    """A setting that works but deserves a look."""

    code: str
    message: str


class DoorReadiness(BaseModel):
    """Whether the bot can do its job at one door: what is missing, one line each."""

    ready: bool
    problems: list[str]


class ReadinessDetails(BaseModel):
    """What only the holder of the API key sees."""

    signed_in: bool
    waiting_for: str | None
    rooms: dict[str, str]
    doors: dict[str, DoorReadiness]
    warnings: list[SettingWarning]


class Readiness(BaseModel):
    """Whether knocks can be committed now; `details` only for the holder of the API key."""

    status: Literal["ready", "not ready"]
    checks: ReadinessChecks
    details: ReadinessDetails | None = None


class Accepted(BaseModel):
    """The knock is committed, whatever is later decided about it."""

    status: Literal["accepted"]
    knock_id: str


class Ignored(BaseModel):
    """An event that is not a final submission (nothing was recorded)."""

    status: Literal["ignored"]


# Answers of the admin routes.


class PendingInvite(BaseModel):
    """An invite Knock sent that the person has not answered yet (times in epoch seconds)."""

    user_id: str
    knock_id: str
    invite_time: int
    age_seconds: int
    reminder_at: int
    expires_at: int
    door: str = Field(DEFAULT_DOOR, description="The door the knock came through.")


class PendingInvites(BaseModel):
    pending_invites: list[PendingInvite]
    count: int


class RoomMembers(BaseModel):
    joined_members: list[str]
    count: int


class RoomState(BaseModel):
    """The room's current state events, as the homeserver gives them."""

    room_id: str
    state: list[dict[str, Any]]


class Rescinded(BaseModel):
    """The invite was revoked (or the member removed); `was` says which."""

    status: Literal["rescinded"]
    user_id: str
    knock_id: str | None
    was: Literal["member", "invited", "queued"]


class BlockEntry(BaseModel):
    user_id: str
    reason: str | None
    source: str
    door: str | None = Field(description="The door whose own entry it is; null: every door's.")


class HeldEntry(BlockEntry):
    status: Literal["held"]


class BlockActions(BaseModel):
    """Who the entry removed: invites revoked, members removed, knocks declined."""

    rescinded: list[str]
    removed: list[str]
    declined: list[str]


class Blocked(BaseModel):
    """What blocking did (or, with `dry_run`, would do); `failed`: people it could not remove."""

    status: Literal["blocked"]
    entry: BlockEntry
    actions: BlockActions
    dry_run: bool | None = None
    failed: list[str] | None = None


class ConfirmationNeeded(BaseModel):
    """The entry would remove more people than BLOCK_CONFIRM_THRESHOLD: it is held until
    confirmed (it refuses new knocks and removes nobody)."""

    detail: str
    status: Literal["confirmation_needed"]
    entry: HeldEntry
    actions: BlockActions


class Unblocked(BaseModel):
    status: Literal["unblocked"]
    entry: str
    unbanned: list[str]
    door: str | None = Field(description="The door whose own entry it was; null: every door's.")


class AllowEntry(BaseModel):
    user_id: str
    reason: str | None


class Allowed(BaseModel):
    status: Literal["allowed"]
    entry: AllowEntry


class Unallowed(BaseModel):
    status: Literal["removed"]
    entry: str


class ListEntry(BaseModel):
    """A block-list or allow-list entry; `status` is `held` for one that refuses knocks and
    removes nobody until confirmed."""

    user_id: str
    reason: str | None
    added_at: str
    source: str
    hashed: bool
    status: Literal["active", "held"]
    door: str | None = Field(
        description="The door whose own entry it is (it counts at that door only); null: an "
        "entry of every door. The allow-list is every door's."
    )


class Lists(BaseModel):
    blocked_users: list[ListEntry]
    allowed_users: list[ListEntry]


class BlockMatch(BaseModel):
    """One entry that matched, and what was done to the id to meet it."""

    entry: str
    source: str
    rule: Rule
    transforms: list[str]
    distance: int | None
    cutoff: int | None
    verdict: Verdict


class BlockCheck(BaseModel):
    """The verdict for an id (and display name), and every match behind it."""

    user_id: str
    verdict: Verdict
    matches: list[BlockMatch]


class HistoryLine(BaseModel):
    """One line of a knock's audit log; a block-list match's detail is its match objects."""

    at: str
    event: str
    actor: str
    detail: str | list[dict[str, Any]] | None


class Knock(BaseModel):
    """A knock as the audit log shows it (times in ISO-8601 UTC)."""

    knock_id: str
    user_id: str
    state: State
    reason: str | None
    source: str
    door: str = Field(description="The door the knock came through (`default`: NEW_ROOM_ID).")
    received_at: str
    updated_at: str


class Answer(BaseModel):
    """One question of the form and the person's answer, as the knock keeps them."""

    question: str
    answer: str


class KnockWithHistory(Knock):
    history: list[HistoryLine]
    answers: list[Answer] = Field(
        description="The form's answers (empty when none were kept: STORE_FORM_ANSWERS=false)."
    )


class Knocks(BaseModel):
    knocks: list[Knock]
    count: int


class Denied(BaseModel):
    """The ids of the knocks denied."""

    denied: list[str]
    count: int


class JoinWave(BaseModel):
    """The join-wave breaker: tripped, it holds new knocks for review."""

    tripped: bool
    tripped_at: float | None
    knocks_in_window: int
    threshold: int
    window_seconds: float
    cooldown_seconds: float
