"""A knock's audit trail: who did what, written as one line per event."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from knock.core.knocks import EVERY_DOOR
from knock.core.lifecycle import Event


class ActorKind(StrEnum):
    """Who can act on a knock."""

    FORM = "form"  # a form platform's delivery (name: the platform)
    NATIVE = "native"  # a knock made in Matrix itself
    API = "api"  # the admin API (name: the key's name)
    MATRIX = "matrix"  # a moderator in the moderation room (name: their Matrix ID)
    CONSOLE = "console"  # the console (name: the moderator)
    CLI = "cli"  # the `knock` command (name: the account that ran it; older lines have none)
    IMPORT = "import"  # `knock import`, from the original service's files
    WATCHDOG = "watchdog"  # removal of a block-listed member
    WORKER = "worker"  # a job's outcome
    KNOCK = "knock"  # Knock's own messages and expiry
    ADMISSION = "door"  # the admission gate releasing deferred knocks (stored as "door")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something to a knock; written to the audit log as `kind` or `kind:name`."""

    kind: ActorKind
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}" if self.name else self.kind.value

    @classmethod
    def form(cls, platform: str) -> Actor:
        """A form platform's delivery; a native Matrix knock is its own kind."""
        return NATIVE if platform == ActorKind.NATIVE.value else cls(ActorKind.FORM, platform)

    @classmethod
    def matrix(cls, user_id: str) -> Actor:
        """A moderator acting in the moderation room."""
        return cls(ActorKind.MATRIX, user_id)

    @classmethod
    def api(cls, key_name: str) -> Actor:
        """A caller of the admin API, by the name of its key."""
        return cls(ActorKind.API, key_name)

    @classmethod
    def cli(cls, user: str) -> Actor:
        """Someone running the `knock` command, by their account on the machine."""
        return cls(ActorKind.CLI, user)

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Read an actor back from the audit log (an unknown kind raises ValueError)."""
        kind, _, name = text.partition(":")
        return cls(ActorKind(kind), name or None)


NATIVE = Actor(ActorKind.NATIVE)
CLI = Actor(ActorKind.CLI)
IMPORT = Actor(ActorKind.IMPORT)
WATCHDOG = Actor(ActorKind.WATCHDOG)
WORKER = Actor(ActorKind.WORKER)
KNOCK = Actor(ActorKind.KNOCK)
ADMISSION = Actor(ActorKind.ADMISSION)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One line to add to a knock's audit log."""

    event: Event
    actor: Actor
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a knock's audit log as stored, with its time."""

    at: float
    event: str
    actor: str
    detail: str | None


class Change(StrEnum):
    """A moderator's change that is not about one knock (a knock's are its history lines)."""

    UNBLOCK = "unblock"  # a block-list entry removed
    UNALLOW = "unallow"  # an allow-list entry removed
    CONFIRM_BLOCK = "confirm_block"  # a held block-list entry put in force
    RESET_JOIN_WAVE = "reset_join_wave"  # the join-wave breaker closed


@dataclass(frozen=True, slots=True)
class ModeratorAction:
    """One line of the moderators' own log: who changed what, and a note."""

    change: Change
    actor: Actor
    target: str | None = None  # a block-list entry's pattern; None for the join wave
    note: str | None = None
    door: str = EVERY_DOOR  # the block-list, the allow-list and the join wave are every door's


def entry_note(source: str, reason: str | None, *, allow: bool) -> str:
    """Who added a block-list or allow-list entry, and why: kept when it is removed or confirmed."""
    added = f"{'allowed' if allow else 'blocked'} by {source}"
    return f"{added}: {reason}" if reason else added
