"""What admission knows while it decides, and what it changes: read and written in one go.

The store loads a snapshot (`Wanted` says what), a pure decision reads and changes it in memory
(so the next knock of a batch sees this one's counts), and the store saves the changes, all in
one transaction: processes sharing a database share the counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from knock.core import limits
from knock.core.history import ADMISSION, HistoryLine, ModeratorAction
from knock.core.jobs import JobKind
from knock.core.knocks import NewKnock
from knock.core.lifecycle import WAITING, Event, Reason, State
from knock.core.limits import Strikes

T_co = TypeVar("T_co", covariant=True)

# (scope, subject, window start)
Window = tuple[str, str, float]


@dataclass
class Wanted:
    """What a decision will ask about, so the store can read it in a few queries."""

    windows: set[Window] = field(default_factory=set)
    strike_subjects: set[str] = field(default_factory=set)  # `user:<id>` or `ip:<hash>`
    users: set[tuple[str, str]] = field(default_factory=set)  # (user, door): waiting knocks
    submission_keys: set[str] = field(default_factory=set)
    oldest_deferred: int = 0  # how many of the oldest deferred knocks to read
    deferred_door: str | None = None  # ... of this door (None: of any)


@dataclass(frozen=True)
class NewKnockRows:
    """A knock to add, with its first history lines and its first job."""

    knock: NewKnock
    history: tuple[HistoryLine, ...]
    job: JobKind | None
    page: StatusLink | None = None  # the knock page's status link that shows it

    def jobs(self) -> list[JobKind]:
        """Every job the knock starts with: its first, and the lookup of its person.

        A knock page's account check is that lookup; otherwise a knock held for review gets
        one for the console (not a join wave's: a flood would spend the bot's budget on them).
        """
        kinds = [] if self.job is None else [self.job]
        if self.page is not None and self.page.check_account:
            kinds.append(JobKind.CHECK_ACCOUNT)
        elif self.knock.state is State.REVIEW and self.knock.reason != Reason.JOIN_WAVE.value:
            kinds.append(JobKind.PROFILE)
        return kinds


@dataclass(frozen=True)
class StatusLink:
    """A knock page's status link: the keyed hash of its token, and the door it belongs to."""

    token_hash: str
    door: str
    # Ask the homeserver whether the account exists, whatever admission decided.
    check_account: bool = True


@dataclass
class AdmissionState:
    """A snapshot of admission's counts at one instant, `now`, and the changes made to it."""

    now: float
    # (scope, subject) -> hits in its window and the oldest; a batch has one start per scope.
    hits: dict[tuple[str, str], tuple[int, float | None]] = field(default_factory=dict)
    strikes: dict[str, Strikes | None] = field(default_factory=dict)
    # (person, door): people with a knock nobody has acted on, at a door
    waiting: set[tuple[str, str]] = field(default_factory=set)
    deferred: int = 0
    oldest_deferred: list[str] = field(default_factory=list)  # knock ids, in arrival order
    values: dict[str, str | None] = field(default_factory=dict)
    # submission key -> (knock id, state, reason)
    submissions: dict[str, tuple[str, State, str | None]] = field(default_factory=dict)
    new_knocks: list[NewKnockRows] = field(default_factory=list)
    new_hits: list[tuple[str, str]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # deferred knocks to queue now
    changed_strikes: set[str] = field(default_factory=set)
    changed_values: set[str] = field(default_factory=set)
    actions: list[ModeratorAction] = field(default_factory=list)  # moderators' changes to log

    def count(self, scope: str, subject: str) -> tuple[int, float | None]:
        """Hits in a window (loaded beforehand) and the oldest of them."""
        return self.hits[(scope, subject)]

    def add_hits(self, hits: Iterable[tuple[str, str]]) -> None:
        """Count one event now for each (scope, subject)."""
        for scope, subject in hits:
            self.new_hits.append((scope, subject))
            counted = self.hits.get((scope, subject))
            if counted is not None:
                count, oldest = counted
                self.hits[(scope, subject)] = (count + 1, self.now if oldest is None else oldest)

    def strike(self, subject: str, base: float, cap: float, reset: float, free: int = 0) -> None:
        """Add a back-off strike to a subject (loaded beforehand); `free` strikes lock nothing."""
        self.strikes[subject] = limits.strike(
            self.strikes[subject], self.now, base, cap, reset, free
        )
        self.changed_strikes.add(subject)

    def set_value(self, key: str, value: str | None) -> None:
        """Change (or, with None, delete) a stored value."""
        self.values[key] = value
        self.changed_values.add(key)

    def add_knock(
        self,
        new: NewKnock,
        history: Iterable[HistoryLine],
        job: JobKind | None,
        page: StatusLink | None = None,
    ) -> None:
        """Add a knock with its first history lines, its first job and its status link."""
        self.new_knocks.append(NewKnockRows(new, tuple(history), job, page))
        if new.submission_key is not None:
            self.submissions[new.submission_key] = (new.knock_id, new.state, new.reason)
        if new.state in WAITING:
            self.waiting.add((new.user_id, new.door))
        if new.state is State.DEFERRED:
            self.deferred += 1

    def log(self, action: ModeratorAction) -> None:
        """Log a moderator's change with the rest of the transaction."""
        self.actions.append(action)

    def release(self, knock_id: str) -> None:
        """Queue a deferred knock for its invite."""
        self.released.append(knock_id)
        self.deferred -= 1


# How a released knock's history reads.
RELEASED = HistoryLine(Event.QUEUED, ADMISSION)


class AdmissionWork(Protocol[T_co]):
    """A decision admission makes in one transaction: what it reads, and the decision itself."""

    @property
    def values(self) -> tuple[str, ...]:
        """Stored values to read before `wanted` is asked."""
        ...

    def wanted(self, state: AdmissionState) -> Wanted:
        """Say what to load, knowing the stored values."""
        ...

    def decide(self, state: AdmissionState) -> T_co:
        """Decide on the loaded snapshot, changing it; the store saves the changes."""
        ...
