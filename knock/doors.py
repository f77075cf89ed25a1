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
with one line naming the door and the key; `knock doors check` reads a file the same way.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from knock.config import NO_ROOM, SECRET_SETTINGS, ConfigError, Settings, describe_error
from knock.core.mxid import is_room_id

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
    # Removed from DOORS_FILE since: its knocks are followed, new ones wait in review.
    removed: bool = False

    @property
    def room(self) -> str:
        """The door's room, or its space."""
        return self.settings.new_room_id

    @property
    def join_room(self) -> str:
        """Where joining makes a knock `joined`, and the welcome goes: the welcome room, else
        the door's room (a space has no timeline people read, so a space door names one)."""
        return self.welcome_room or self.room

    @property
    def listed_rooms(self) -> tuple[str, ...]:
        """The child rooms a space door lists (none for "suggested": the space says, at invite
        time)."""
        return () if self.rooms == "suggested" else self.rooms

    def all_rooms(self) -> list[str]:
        """The door's room and every room it names: followed, and acted on by blocks and
        rescinds."""
        rooms = [self.room, *self.listed_rooms]
        if self.welcome_room and self.welcome_room not in rooms:
            rooms.append(self.welcome_room)
        return rooms

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
    """Each door's rooms (its room or space, and a space door's named rooms), with the door they
    belong to."""
    return {room: name for name, door in doors.items() for room in door.all_rooms()}


def load_doors(settings: Settings) -> Mapping[str, Door]:
    """Every door, `default` first, then those of `DOORS_FILE` in the file's order.

    Raise ConfigError (one line naming the door and the key) for a mistake in the file.
    """
    doors = {DEFAULT: default_door(settings)}
    if settings.doors_file is not None:
        doors.update(read_doors_file(settings.doors_file, settings))
    return doors


# A door's name: short, lower case, fit for an address; each knock records its door by it.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# The per-door secrets, each also read from the file `<name>_file` names.
_SECRET_FILES = {f"{name}_file": name for name in sorted(PER_DOOR & set(SECRET_SETTINGS))}
# Every key a door's table takes.
_KEYS = sorted(DOOR_KEYS | PER_DOOR | set(_SECRET_FILES))
_ROOM_ID = "must be a room id like !abc:example.org"


def read_doors_file(path: Path, settings: Settings) -> dict[str, Door]:
    """Read the doors a file adds to the settings' `default` door, in the file's order.

    Raise ConfigError with one line, `DOORS_FILE: door NAME: ...`, for the first mistake.
    """
    tables = _door_tables(path)
    doors: dict[str, Door] = {}
    # Whose room each room is: two doors into one room is a mistake.
    owners = {} if settings.new_room_id == NO_ROOM else {settings.new_room_id: DEFAULT}
    for name, table in tables.items():
        door = _door(name, table, settings)
        owner = owners.get(door.room)
        if owner is not None:
            whose = "the default door's (NEW_ROOM_ID)" if owner == DEFAULT else f"door {owner}'s"
            raise _mistake(name, f"room {door.room} is also {whose}: two doors into one room")
        owners[door.room] = name
        doors[name] = door
    return doors


def _door_tables(path: Path) -> dict[str, Any]:
    """The file's `[doors.NAME]` tables, by name; ConfigError when it holds anything else."""
    shown = str(path)[:80]
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"DOORS_FILE: {shown} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"DOORS_FILE: {shown} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"DOORS_FILE: {shown} is not valid TOML: {_toml_reason(exc)}") from None
    for key in data:
        if key != "doors":
            raise ConfigError(
                f"DOORS_FILE: {shown}: unknown key {key[:40]!r}: the file holds [doors.NAME] "
                "tables only"
            )
    tables = data.get("doors", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"DOORS_FILE: {shown}: doors must be [doors.NAME] tables")
    return tables


def _toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    """tomllib's reason, `(at line 3, column 7)` said as `(line 3)`."""
    reason = str(exc)
    found = re.fullmatch(r"(.*) \(at line (\d+), column \d+\)", reason, re.DOTALL)
    if found:
        return f"{found.group(1)} (line {found.group(2)})"
    return reason.replace("(at end of document)", "(at the end of the file)")


def _door(name: str, table: object, settings: Settings) -> Door:
    """One door from its table: the global settings with the table's values on top."""
    if not _NAME.match(name):
        raise ConfigError(
            f"DOORS_FILE: door {name[:40]!r}: a door's name is 1 to 32 lower-case letters, "
            "digits and hyphens, not starting with a hyphen"
        )
    if name == DEFAULT:
        raise _mistake(
            name,
            "the default door is NEW_ROOM_ID and the settings themselves; give this door "
            "another name",
        )
    if not isinstance(table, dict):
        raise _mistake(name, f'must be a table, [doors.{name}], with room = "!abc:example.org"')
    given: dict[str, str] = {}  # each setting the door sets, and the key that sets it
    for key in table:
        if key in DOOR_KEYS:
            continue
        setting = key if key in PER_DOOR else _SECRET_FILES.get(key)
        if setting is None:
            raise _mistake(name, _unknown_key(key))
        if setting in given:
            raise _mistake(name, f"{given[setting]} and {key} are both set; keep one")
        given[setting] = key
    if "room" not in table:
        raise _mistake(name, "room is required (a room id like !abc:example.org)")
    # A copy of the global settings; each of the door's values goes through its field's
    # validators, as pydantic checks an assignment: the environment is not read again.
    own = settings.model_copy()
    _set(own, "new_room_id", table["room"], name, "room")
    rooms = _rooms(name, table.get("rooms"), own.new_room_id)
    welcome_room = _welcome_room(name, table.get("welcome_room"), own.new_room_id, rooms)
    for setting, key in given.items():
        value = table[key] if key == setting else _read_secret_file(name, key, table[key])
        _set(own, setting, value, name, key)
    return Door(name, own, rooms, welcome_room, frozenset(given))


def _mistake(door: str, message: str) -> ConfigError:
    return ConfigError(f"DOORS_FILE: door {door}: {message}")


def _shown(value: object) -> str:
    """A value as a mistake's line shows it: quoted, cut short, on one line."""
    return repr(str(value)[:60])


def _unknown_key(key: str) -> str:
    """Why a door cannot take `key`, with the per-door key it may have meant."""
    shown = repr(key[:40])
    lower = key.lower()
    if lower == "new_room_id":
        return f"unknown key {shown}: a door's room is set with room"
    setting = None if lower in _KEYS else _global_setting(lower)
    if setting is not None:
        return f"unknown key {shown}: {setting.upper()} is global, it cannot be set per door"
    close = difflib.get_close_matches(lower, _KEYS, n=1)  # a per-door key in upper case too
    return f"unknown key {shown}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _global_setting(key: str) -> str | None:
    """The global setting `key` names (`api_key`, `api_key_file`, `tokens_file`), if any."""
    if key in Settings.model_fields:
        return key
    secret = key.removesuffix("_file")
    return secret if secret != key and secret in SECRET_SETTINGS else None


def _set(settings: Settings, field: str, value: object, door: str, key: str) -> None:
    """Validate `value` as `field`'s own validators do, and set it; ConfigError naming `key`."""
    try:
        Settings.__pydantic_validator__.validate_assignment(settings, field, value)
    except ValidationError as exc:
        raise _mistake(door, describe_error(exc, name=key)) from None


def _rooms(door: str, value: object, room: str) -> tuple[str, ...] | Suggested:
    """A space's child rooms: a list of room ids, or "suggested"; () when not given."""
    if value is None:
        return ()
    if value == "suggested":
        return "suggested"
    if not isinstance(value, list) or not value:
        raise _mistake(
            door,
            f'rooms={_shown(value)} is not valid: must be a list of room ids, or "suggested"',
        )
    for index, item in enumerate(value):
        if not isinstance(item, str) or not is_room_id(item):
            raise _mistake(door, f"rooms[{index}]={_shown(item)} is not valid: {_ROOM_ID}")
        if item == room:
            raise _mistake(door, f"rooms lists the door's own room {room}: list its child rooms")
        if item in value[:index]:
            raise _mistake(door, f"rooms lists {item} twice")
    return tuple(value)


def _welcome_room(
    door: str, value: object, room: str, rooms: tuple[str, ...] | Suggested
) -> str | None:
    """Where a door with rooms welcomes: its space or one of its rooms (any with "suggested")."""
    if value is None:
        return None
    if not rooms:
        raise _mistake(
            door, "welcome_room is only for a door with rooms (a plain room welcomes in itself)"
        )
    if not isinstance(value, str) or not is_room_id(value):
        raise _mistake(door, f"welcome_room={_shown(value)} is not valid: {_ROOM_ID}")
    if rooms != "suggested" and value != room and value not in rooms:
        raise _mistake(door, f"welcome_room {value} is neither the door's space nor in its rooms")
    return value


def _read_secret_file(door: str, key: str, path: object) -> str:
    """A secret from the file `<name>_file` names, as `<NAME>_FILE` is read: never shown."""
    setting = _SECRET_FILES[key]
    if not isinstance(path, str) or not path.strip():
        raise _mistake(door, f"{key} is not valid: must be the path of a file holding {setting}")
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _mistake(door, f"{key} names a file that cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _mistake(door, f"{key} names a file that is not UTF-8 text") from None
    if not value:
        raise _mistake(door, f"{key} names an empty file: put {setting} in it")
    return value
