"""Doors from DOORS_FILE: what a door takes and inherits, and the one line a mistake gives."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

import pytest

from knock.cli import main
from knock.config import ConfigError, Rate, Settings, load_settings, settings_names
from knock.doors import DEFAULT, PER_DOOR, Door, load_doors, read_doors_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "doors.example.toml"
ROOM = "!abc:example.org"
FILE = Path("doors.toml")  # in the test's own working directory
SECRET = "s3cret-door-token-0123456789"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove every variable Knock reads, and work in an empty directory (no `.env`)."""
    names = set(settings_names())
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings(**environment: str) -> Settings:
    """The global settings from NEW_ROOM_ID and exactly these variables (no `.env`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEW_ROOM_ID", ROOM)
        for name, value in environment.items():
            patch.setenv(name, value)
        return load_settings(env_file=None)


def read(text: str, given: Settings | None = None) -> dict[str, Door]:
    """The doors a doors file holding `text` adds to the settings."""
    FILE.write_text(text, encoding="utf-8")
    return read_doors_file(FILE, given or settings())


def mistake(text: str, given: Settings | None = None) -> str:
    """The one line a doors file holding `text` stops start-up with."""
    with pytest.raises(ConfigError) as caught:
        read(text, given)
    message = str(caught.value)
    assert message.startswith("DOORS_FILE: ")
    assert "\n" not in message
    return message


def club(*lines: str) -> str:
    """A door `club` into its own room, with these lines of its table."""
    return "\n".join(["[doors.club]", 'room = "!club:example.org"', *lines]) + "\n"


# --- The example and the default door ----------------------------------------------------------


def test_the_example_file_gives_three_doors_with_their_secrets_read_from_files(
    tmp_path: Path,
) -> None:
    contents = {"book-club-questions.txt": "What are you reading?\nWho sent you?\n"}

    def made_here(found: re.Match[str]) -> str:
        # The example names container secret paths; the same files, made in this directory.
        name = PurePosixPath(found.group(2)).name
        (tmp_path / name).write_text(contents.get(name, f"{name}-{SECRET}\n"), encoding="utf-8")
        return f'{found.group(1)} = "{tmp_path / name}"'

    text = EXAMPLE.read_text(encoding="utf-8")
    local = re.sub(r'^(\w+_file) = "([^"]+)"$', made_here, text, flags=re.MULTILINE)
    assert local.count(str(tmp_path)) == 5

    doors = read(local)

    assert list(doors) == ["book-club", "guild", "makers"]
    book_club, guild, makers = doors.values()
    assert (book_club.room, book_club.rooms, book_club.welcome_room) == (
        "!bookclub:example.org",
        (),
        None,
    )
    assert book_club.settings.welcome_message.startswith("Welcome to the book club")
    assert book_club.settings.limit_per_ip == Rate(5, 3600.0)
    assert book_club.settings.honeypot_fields == ["honeypot", "website"]
    webhook_token = book_club.settings.webhook_token
    assert webhook_token is not None
    assert webhook_token.get_secret_value() == f"book-club-token-{SECRET}"
    assert book_club.settings.signing_configured
    assert (guild.room, guild.rooms, guild.welcome_room) == (
        "!guild:example.org",
        ("!guild-general:example.org", "!guild-events:example.org"),
        "!guild-general:example.org",
    )
    assert guild.settings.spam_window_seconds == 300.0
    assert (makers.rooms, makers.welcome_room) == ("suggested", "!makers-lobby:example.org")
    # Complete: between them, the example's doors set every per-door setting.
    assert book_club.own | guild.own | makers.own == PER_DOOR


def test_without_a_doors_file_the_one_door_is_new_room_id_with_the_very_same_settings() -> None:
    given = settings()

    doors = load_doors(given)

    assert list(doors) == [DEFAULT]
    door = doors[DEFAULT]
    assert door.settings is given
    assert (door.room, door.rooms, door.welcome_room, door.own) == (ROOM, (), None, frozenset())
    assert door.is_default


def test_doors_file_adds_its_doors_after_the_default_one_in_the_files_order() -> None:
    FILE.write_text(
        '[doors.zebra]\nroom = "!zebra:example.org"\n\n[doors.ant]\nroom = "!ant:example.org"\n',
        encoding="utf-8",
    )
    given = settings(DOORS_FILE=str(FILE))

    doors = load_doors(given)

    assert given.doors_file == FILE
    assert list(doors) == [DEFAULT, "zebra", "ant"]
    assert doors[DEFAULT].settings is given
    assert doors["ant"].room == "!ant:example.org"
    assert not doors["ant"].is_default


def test_a_doors_file_that_is_missing_is_named_when_the_doors_are_loaded() -> None:
    given = settings(DOORS_FILE="missing.toml")  # the settings alone do not read it

    with pytest.raises(ConfigError) as caught:
        load_doors(given)

    assert str(caught.value) == "DOORS_FILE: missing.toml cannot be read: No such file or directory"


# --- What a door inherits, and what it keeps -----------------------------------------------------


def test_a_door_inherits_what_it_does_not_set_and_keeps_what_it_sets() -> None:
    given = settings(WELCOME_MESSAGE="Hello, {display_name}.", LIMIT_PER_USER="2/1h")

    door = read(club('limit_per_user = "5/1d"'), given)["club"]

    assert door.settings.welcome_message == "Hello, {display_name}."
    assert door.settings.limit_per_user == Rate(5, 86400.0)
    assert door.settings.new_room_id == "!club:example.org"
    assert door.own == {"limit_per_user"}
    # The global settings, and so the default door, are as they were.
    assert given.limit_per_user == Rate(2, 3600.0)
    assert given.new_room_id == ROOM


def test_the_environment_does_not_override_what_a_door_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("token").write_text(f"{SECRET}\n", encoding="utf-8")
    Path("global-token").write_text("the-global-token-0123456789\n", encoding="utf-8")
    monkeypatch.setenv("NEW_ROOM_ID", ROOM)
    monkeypatch.setenv("WELCOME_MESSAGE", "From the environment, {display_name}.")
    monkeypatch.setenv("LIMIT_PER_USER", "1/1h")
    monkeypatch.setenv("FUZZY_ACTION", "allow")
    monkeypatch.setenv("WEBHOOK_TOKEN_FILE", "global-token")
    given = load_settings(env_file=None)

    doors = read(
        club(
            'welcome_message = "From the door, {display_name}."',
            'limit_per_user = "4/1h"',
            'fuzzy_action = "block"',
            'webhook_token_file = "token"',
        )
        + '\n[doors.quiet]\nroom = "!quiet:example.org"\n',
        given,
    )

    own = doors["club"].settings
    assert own.welcome_message == "From the door, {display_name}."
    assert own.limit_per_user == Rate(4, 3600.0)
    assert own.fuzzy_action == "block"
    assert own.webhook_token is not None
    assert own.webhook_token.get_secret_value() == SECRET
    # A door that sets nothing has the settings the environment gave.
    inherited = doors["quiet"].settings
    assert inherited.welcome_message == "From the environment, {display_name}."
    assert inherited.limit_per_user == Rate(1, 3600.0)
    assert inherited.webhook_token is not None
    assert inherited.webhook_token.get_secret_value() == "the-global-token-0123456789"


def test_own_names_the_settings_a_door_sets_secrets_by_their_setting_name() -> None:
    Path("tally").write_text("tally-secret\n", encoding="utf-8")

    door = read(
        club(
            'rooms = ["!general:example.org"]',
            'welcome_room = "!general:example.org"',
            'tally_signing_secret_file = "tally"',
            f'webhook_token = "{SECRET}"',
            'invite_ttl = "3d"',
        )
    )["club"]

    assert door.own == {"tally_signing_secret", "webhook_token", "invite_ttl"}
    assert door.settings.tally_signing_secret is not None
    assert door.settings.tally_signing_secret.get_secret_value() == "tally-secret"


# Each per-door setting: a TOML value, and what the door's settings then hold.
SAMPLES: dict[str, tuple[str, object]] = {
    "welcome_message": ('"Hi {display_name}!"', "Hi {display_name}!"),
    "reminder_message": ('"Still waiting, {display_name}."', "Still waiting, {display_name}."),
    "invite_reason": ('"You asked to join the club."', "You asked to join the club."),
    "invite_ttl": ('"3d"', 259200.0),
    "moderation_room_id": ('"!mods:example.org"', "!mods:example.org"),
    "tally_signing_secret": ('"tally-secret"', "tally-secret"),
    "typeform_secret": ('"typeform-secret"', "typeform-secret"),
    "formbricks_secret": ('"whsec_Y2x1Yi1zZWNyZXQ="', "whsec_Y2x1Yi1zZWNyZXQ="),
    "webhook_token": (f'"{SECRET}"', SECRET),
    "honeypot_fields": ('["website", "fax"]', ["website", "fax"]),
    "matrix_id_field": ('"Your Matrix ID"', "Your Matrix ID"),
    "limit_per_user": ('"5/1d"', Rate(5, 86400.0)),
    "limit_per_ip": ('"off"', None),
    "limit_per_server": ('"20/1h"', Rate(20, 3600.0)),
    "limit_per_form": ('"100/1h"', Rate(100, 3600.0)),
    "max_requests_per_window": ("3", 3),
    "spam_window_seconds": ('"5m"', 300.0),
    "fuzzy_action": ('"block"', "block"),
    "join_wave_threshold": ("20", 20),
    "knock_page_title": ('"Join the club"', "Join the club"),
    "knock_page_room_name": ('"The Club"', "The Club"),
    "knock_page_description": ('"We meet on Sundays."', "We meet on Sundays."),
    "knock_page_questions_file": ('"questions.txt"', Path("questions.txt")),
}


def test_there_is_a_sample_for_every_per_door_setting() -> None:
    assert set(SAMPLES) == PER_DOOR


@pytest.mark.parametrize("name", sorted(PER_DOOR))
def test_every_per_door_setting_can_be_set_by_a_door(name: str) -> None:
    Path("questions.txt").write_text("Who sent you?\n", encoding="utf-8")
    written, expected = SAMPLES[name]
    given = settings()

    door = read(club(f"{name} = {written}"), given)["club"]

    value = getattr(door.settings, name)
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    assert value == expected
    assert getattr(given, name) != getattr(door.settings, name)
    assert door.own == {name}


@pytest.mark.parametrize(
    ("line", "name", "expected"),
    [
        ('honeypot_fields = ["honeypot", "website"]', "honeypot_fields", ["honeypot", "website"]),
        ('honeypot_fields = "honeypot, website"', "honeypot_fields", ["honeypot", "website"]),
        ('invite_ttl = "7d"', "invite_ttl", 604800.0),
        ("invite_ttl = 3600", "invite_ttl", 3600.0),
        ("invite_ttl = 1.5", "invite_ttl", 1.5),
        ('max_requests_per_window = "7"', "max_requests_per_window", 7),
        ('limit_per_user = "OFF"', "limit_per_user", None),
    ],
)
def test_toml_strings_numbers_and_lists_read_as_the_environment_reads_them(
    line: str, name: str, expected: object
) -> None:
    assert getattr(read(club(line))["club"].settings, name) == expected


# --- Secrets from files ------------------------------------------------------------------------


def test_a_secret_file_is_read_without_its_trailing_newline() -> None:
    Path("token").write_text(f"{SECRET}\n", encoding="utf-8")

    door = read(club('webhook_token_file = "token"'))["club"]

    assert door.settings.webhook_token is not None
    assert door.settings.webhook_token.get_secret_value() == SECRET
    assert SECRET not in repr(door.settings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "webhook_token_file names a file that cannot be read: No such file or directory"),
        (b"", "webhook_token_file names an empty file: put webhook_token in it"),
        (b"  \n", "webhook_token_file names an empty file: put webhook_token in it"),
        (b"caf\xe9-" + SECRET.encode(), "webhook_token_file names a file that is not UTF-8 text"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_named_with_the_door_and_key(
    content: bytes | None, expected: str
) -> None:
    if content is not None:
        Path("token").write_bytes(content)

    message = mistake(club('webhook_token_file = "token"'))

    assert message == f"DOORS_FILE: door club: {expected}"


def test_a_secret_file_key_takes_a_path() -> None:
    assert mistake(club("webhook_token_file = 12345678901234567")) == (
        "DOORS_FILE: door club: webhook_token_file is not valid: must be the path of a file "
        "holding webhook_token"
    )


def test_a_secret_and_its_file_together_are_a_mistake() -> None:
    Path("token").write_text(SECRET, encoding="utf-8")

    message = mistake(club(f'webhook_token = "{SECRET}"', 'webhook_token_file = "token"'))

    assert message == (
        "DOORS_FILE: door club: webhook_token and webhook_token_file are both set; keep one"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('webhook_token = "   "', "webhook_token is not valid: must not be blank"),
        ("typeform_secret = 90210867530942", "typeform_secret is not valid: Input should be"),
    ],
)
def test_a_bad_secret_is_named_but_never_shown(line: str, expected: str) -> None:
    message = mistake(club(line))

    assert message.startswith(f"DOORS_FILE: door club: {expected}")
    assert "90210867530942" not in message
    assert "'   '" not in message


def test_a_mistake_after_a_secret_does_not_show_the_secret() -> None:
    Path("token").write_text(SECRET, encoding="utf-8")

    message = mistake(club('webhook_token_file = "token"', 'limit_per_user = "lots"'))

    assert message.startswith("DOORS_FILE: door club: limit_per_user='lots' is not valid")
    assert SECRET not in message


# --- Mistakes: the file ------------------------------------------------------------------------


def test_a_file_that_is_not_toml_is_named_with_the_reason_and_the_line() -> None:
    text = club("welcome_message = Welcome, friend")

    assert mistake(text) == "DOORS_FILE: doors.toml is not valid TOML: Invalid value (line 3)"


def test_a_file_that_is_not_utf8_is_named() -> None:
    FILE.write_bytes(club('welcome_message = "Caf\xe9"').encode("latin-1"))

    with pytest.raises(ConfigError) as caught:
        read_doors_file(FILE, settings())

    assert str(caught.value) == "DOORS_FILE: doors.toml is not UTF-8 text"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'room = "!club:example.org"\n',
            "doors.toml: unknown key 'room': the file holds [doors.NAME] tables only",
        ),
        (
            '[door.club]\nroom = "!club:example.org"\n',
            "doors.toml: unknown key 'door': the file holds [doors.NAME] tables only",
        ),
        ('doors = "club"\n', "doors.toml: doors must be [doors.NAME] tables"),
        (
            '[doors]\nclub = "!club:example.org"\n',
            'door club: must be a table, [doors.club], with room = "!abc:example.org"',
        ),
    ],
)
def test_a_file_holds_doors_tables_only(text: str, expected: str) -> None:
    assert mistake(text) == f"DOORS_FILE: {expected}"


def test_an_empty_file_adds_no_door() -> None:
    assert read("# no doors yet\n") == {}


# --- Mistakes: names and rooms -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Book-Club", "-club", "book_club", "a" * 33, "book club", "é"])
def test_a_door_name_is_short_lower_case_letters_digits_and_hyphens(name: str) -> None:
    message = mistake(f'[doors."{name}"]\nroom = "!club:example.org"\n')

    assert message == (
        f"DOORS_FILE: door {name!r}: a door's name is 1 to 32 lower-case letters, digits and "
        "hyphens, not starting with a hyphen"
    )


@pytest.mark.parametrize("name", ["a", "7", "book-club-2", "club-", "a" * 32])
def test_short_lower_case_names_are_door_names(name: str) -> None:
    assert list(read(f'[doors.{name}]\nroom = "!club:example.org"\n')) == [name]


def test_the_default_door_cannot_be_given_in_the_file() -> None:
    message = mistake('[doors.default]\nroom = "!club:example.org"\n')

    assert message == (
        "DOORS_FILE: door default: the default door is NEW_ROOM_ID and the settings themselves; "
        "give this door another name"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[doors.club]\nwelcome_message = "Hi"\n',
            "room is required (a room id like !abc:example.org)",
        ),
        (
            '[doors.club]\nroom = "#club:example.org"\n',
            "room='#club:example.org' is not valid: must be a room id like !abc:example.org",
        ),
        (
            "[doors.club]\nroom = 42\n",
            "room='42' is not valid: Input should be a valid string",
        ),
    ],
)
def test_a_door_needs_a_room_id(text: str, expected: str) -> None:
    assert mistake(text) == f"DOORS_FILE: door club: {expected}"


def test_two_doors_into_one_room_are_a_mistake_that_names_both() -> None:
    text = club() + '\n[doors.second]\nroom = "!club:example.org"\n'

    assert mistake(text) == (
        "DOORS_FILE: door second: room !club:example.org is also door club's: two doors into one "
        "room"
    )


def test_a_door_into_new_room_id_is_a_second_door_into_the_default_room() -> None:
    message = mistake(f'[doors.club]\nroom = "{ROOM}"\n')

    assert message == (
        f"DOORS_FILE: door club: room {ROOM} is also the default door's (NEW_ROOM_ID): two doors "
        "into one room"
    )


# --- Spaces: rooms and welcome_room ------------------------------------------------------------


def test_a_space_door_lists_its_rooms_and_welcomes_in_one_of_them() -> None:
    door = read(
        club(
            'rooms = ["!general:example.org", "!events:example.org"]',
            'welcome_room = "!events:example.org"',
        )
    )["club"]

    assert door.rooms == ("!general:example.org", "!events:example.org")
    assert door.welcome_room == "!events:example.org"
    assert door.own == frozenset()


@pytest.mark.parametrize("welcome", ["!club:example.org", "!anywhere:example.org"])
def test_a_door_with_suggested_rooms_welcomes_in_any_room(welcome: str) -> None:
    door = read(club('rooms = "suggested"', f'welcome_room = "{welcome}"'))["club"]

    assert (door.rooms, door.welcome_room) == ("suggested", welcome)


def test_a_space_door_may_welcome_in_the_space_itself() -> None:
    door = read(club('rooms = ["!general:example.org"]', 'welcome_room = "!club:example.org"'))

    assert door["club"].welcome_room == "!club:example.org"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ['rooms = "all"'],
            "rooms='all' is not valid: must be a list of room ids, or \"suggested\"",
        ),
        (["rooms = []"], "rooms='[]' is not valid: must be a list of room ids, or \"suggested\""),
        (
            ['rooms = ["!general:example.org", "#events:example.org"]'],
            "rooms[1]='#events:example.org' is not valid: must be a room id like !abc:example.org",
        ),
        (
            ['rooms = ["!general:example.org", "!general:example.org"]'],
            "rooms lists !general:example.org twice",
        ),
        (
            ['rooms = ["!club:example.org"]'],
            "rooms lists the door's own room !club:example.org: list its child rooms",
        ),
        (
            ['welcome_room = "!club:example.org"'],
            "welcome_room is only for a door with rooms (a plain room welcomes in itself)",
        ),
        (
            ['rooms = ["!general:example.org"]', 'welcome_room = "general"'],
            "welcome_room='general' is not valid: must be a room id like !abc:example.org",
        ),
        (
            ['rooms = ["!general:example.org"]', 'welcome_room = "!elsewhere:example.org"'],
            "welcome_room !elsewhere:example.org is neither the door's space nor in its rooms",
        ),
    ],
)
def test_rooms_and_welcome_room_mistakes_name_the_key(lines: list[str], expected: str) -> None:
    assert mistake(club(*lines)) == f"DOORS_FILE: door club: {expected}"


# --- Mistakes: keys and values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("welcome_mesage", "welcome_message"),
        ("WELCOME_MESSAGE", "welcome_message"),
        ("webhook_token_fle", "webhook_token_file"),
        ("welcome_message_file", "welcome_message"),
        ("rom", "room"),
        ("colour", None),
    ],
)
def test_an_unknown_key_stops_start_up_with_the_per_door_key_it_may_mean(
    key: str, meant: str | None
) -> None:
    message = mistake(club(f'{key} = "teal"'))

    hint = f" (did you mean {meant!r}?)" if meant else ""
    assert message == f"DOORS_FILE: door club: unknown key {key!r}{hint}"


@pytest.mark.parametrize(
    ("key", "setting"),
    [
        ("api_key", "API_KEY"),
        ("api_key_file", "API_KEY"),
        ("database_url", "DATABASE_URL"),
        ("kick_reason", "KICK_REASON"),
        ("welcome_mode", "WELCOME_MODE"),
        ("tokens_file", "TOKENS_FILE"),
        ("doors_file", "DOORS_FILE"),
    ],
)
def test_a_global_setting_in_a_door_is_said_to_be_global(key: str, setting: str) -> None:
    message = mistake(club(f'{key} = "something"'))

    assert message == (
        f"DOORS_FILE: door club: unknown key {key!r}: {setting} is global, "
        "it cannot be set per door"
    )


def test_a_door_sets_its_room_with_room_not_new_room_id() -> None:
    assert mistake(club('new_room_id = "!x:example.org"')) == (
        "DOORS_FILE: door club: unknown key 'new_room_id': a door's room is set with room"
    )


def test_a_table_inside_a_door_is_an_unknown_key() -> None:
    assert mistake(club('extra.colour = "teal"')) == "DOORS_FILE: door club: unknown key 'extra'"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'limit_per_user = "3 per hour"',
            "limit_per_user='3 per hour' is not valid: must be a rate like 3/1h, or off",
        ),
        (
            'invite_ttl = "a week"',
            "invite_ttl='a week' is not valid: must be a duration like 90s, 15m, 48h or 7d",
        ),
        ("invite_ttl = -5", "invite_ttl='-5' is not valid: must not be negative"),
        ("invite_ttl = true", "invite_ttl='True' is not valid: must be a duration like 90s,"),
        (
            'fuzzy_action = "ban"',
            "fuzzy_action='ban' is not valid: Input should be 'review', 'block' or 'allow'",
        ),
        (
            'moderation_room_id = "#mods:example.org"',
            "moderation_room_id='#mods:example.org' is not valid: must be a room id like "
            "!abc:example.org",
        ),
        (
            "max_requests_per_window = 0",
            "max_requests_per_window='0' is not valid: Input should be greater than 0",
        ),
        ("welcome_message = 3", "welcome_message='3' is not valid: Input should be a valid string"),
        (
            'knock_page_questions_file = "questions.txt"',
            "knock_page_questions_file='questions.txt' is not valid: cannot read questions.txt: "
            "No such file or directory",
        ),
    ],
)
def test_a_bad_value_is_named_as_the_environment_names_it(line: str, expected: str) -> None:
    assert mistake(club(line)).startswith(f"DOORS_FILE: door club: {expected}")


def test_a_value_with_a_newline_is_shown_on_one_line() -> None:
    message = mistake(club('limit_per_user = """3\nper hour"""'))

    assert message.startswith("DOORS_FILE: door club: limit_per_user='3\\nper hour' is not valid")


# --- knock doors check ---------------------------------------------------------------------------

CHECKED = (
    club(f'webhook_token = "{SECRET}"', 'limit_per_user = "5/1d"', 'welcome_message = "Hi there"')
    + """
[doors.guild]
room = "!guild:example.org"
rooms = ["!general:example.org", "!events:example.org"]
welcome_room = "!general:example.org"

[doors.makers]
room = "!makers:example.org"
rooms = "suggested"
knock_page_title = "Join the makers"
"""
)


def test_doors_check_prints_each_door_naming_its_settings_but_never_their_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    FILE.write_text(CHECKED, encoding="utf-8")

    code = main(["doors", "check", str(FILE)])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "default: no room (NEW_ROOM_ID unset); the settings themselves",
        "club: room !club:example.org; sets limit_per_user, webhook_token, welcome_message",
        "guild: space !guild:example.org with rooms !general:example.org, !events:example.org; "
        "welcome in !general:example.org; sets nothing (inherits every setting)",
        "makers: space !makers:example.org with its suggested rooms; sets knock_page_title",
    ]
    assert SECRET not in out
    assert "Hi there" not in out


def test_doors_check_reads_doors_file_from_the_dot_env_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    FILE.write_text(club(), encoding="utf-8")
    Path(".env").write_text(f"NEW_ROOM_ID={ROOM}\nDOORS_FILE={FILE}\n", encoding="utf-8")

    code = main(["doors", "check"])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"default: room {ROOM}; the settings themselves",
        "club: room !club:example.org; sets nothing (inherits every setting)",
    ]


def test_doors_check_says_a_mistake_in_one_line_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    FILE.write_text(club(f'webhook_token = "{SECRET}"', 'welcome_mesage = "Hi"'), encoding="utf-8")

    code = main(["doors", "check", str(FILE)])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "knock: DOORS_FILE: door club: unknown key 'welcome_mesage' "
        "(did you mean 'welcome_message'?)\n"
    )


def test_doors_check_without_a_file_says_where_to_give_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["doors", "check"])

    assert code == 2
    assert capsys.readouterr().err == (
        "knock: no doors file to check: give FILE, or set DOORS_FILE\n"
    )


def test_doors_check_explains_its_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["doors", "check", "--help"])

    out = capsys.readouterr().out
    assert "check a doors file without starting Knock" in out
    assert "the doors file (default: DOORS_FILE)" in out
