"""Doors: the ways into rooms one Knock serves.

A door has a name, the room (or space) it opens, and its own settings: the global settings with
the door's on top. The env-only set-up is one door, `default`, built from `NEW_ROOM_ID` and the
settings as they are; `DOORS_FILE` (TOML, read at start) adds more:

    [doors.book-club]
    room = "!abc:example.org"
    welcome_message = "Welcome to the book club, {display_name}!"
    webhook_token_file = "/run/secrets/book-club-token"

A door's table takes `room` (required), `rooms` (a space's child rooms to invite into as well: a
list of room ids, or "suggested"), `welcome_room`, and the per-door settings (`PER_DOOR`) by their
lower-case names; a secret also as `<name>_file`. Anything else is a mistake that stops start-up
with one line naming the door and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from knock.config import ConfigError, Settings

DEFAULT = "default"

# The settings a door may set for itself (every other setting is global).
PER_DOOR = frozenset(
    {
        "welcome_message",
        "reminder_message",
        "invite_reason",
        "invite_ttl",
        "moderation_room_id",
        "tally_signing_secret",
        "typeform_secret",
        "formbricks_secret",
        "webhook_token",
        "honeypot_fields",
        "matrix_id_field",
        "limit_per_user",
        "limit_per_ip",
        "limit_per_server",
        "limit_per_form",
        "max_requests_per_window",
        "spam_window_seconds",
        "fuzzy_action",
        "join_wave_threshold",
        "knock_page_title",
        "knock_page_room_name",
        "knock_page_description",
        "knock_page_questions_file",
    }
)
# The door's own keys, beside its settings.
DOOR_KEYS = frozenset({"room", "rooms", "welcome_room"})

Suggested = Literal["suggested"]


@dataclass(frozen=True)
class Door:
    """A way into a room (or a space and some of its rooms), with its own settings."""

    name: str
    settings: Settings  # the global settings with the door's on top; new_room_id is its room
    rooms: tuple[str, ...] | Suggested = ()  # a space's child rooms invited into as well
    welcome_room: str | None = None  # where the welcome goes (None: the room itself)
    own: frozenset[str] = field(default_factory=frozenset)  # the settings the door sets itself

    @property
    def room(self) -> str:
        """The door's room, or its space."""
        return self.settings.new_room_id

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT


def default_door(settings: Settings) -> Door:
    """The door every set-up has: `NEW_ROOM_ID` with the settings as they are."""
    return Door(DEFAULT, settings)


def door_of(doors: Mapping[str, Door], name: str) -> Door:
    """A door by name; a door since removed from DOORS_FILE reads as the default door."""
    return doors.get(name) or doors[DEFAULT]


def rooms_of(doors: Mapping[str, Door]) -> dict[str, str]:
    """Each door's room (or space), with the door it belongs to."""
    return {door.room: name for name, door in doors.items()}


def load_doors(settings: Settings) -> Mapping[str, Door]:
    """Every door, `default` first, then those of `DOORS_FILE` in the file's order.

    Raise ConfigError (one line naming the door and the key) for a mistake in the file.
    """
    doors = {DEFAULT: default_door(settings)}
    path = getattr(settings, "doors_file", None)
    if path is not None:
        doors.update(read_doors_file(Path(path), settings))
    return doors


def read_doors_file(path: Path, settings: Settings) -> dict[str, Door]:
    """Read the doors a file adds to the settings' `default` door."""
    raise ConfigError("DOORS_FILE is not read by this version yet")
