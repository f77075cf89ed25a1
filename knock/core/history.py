"""A knock's audit trail: who did what, written as one line per event."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
