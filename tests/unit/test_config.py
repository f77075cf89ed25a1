"""Knock's settings: the value formats, the defaults, and the one-line errors a moderator sees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.config import (
    SECRET_SETTINGS,
    ConfigError,
    Rate,
    Settings,
    load_settings,
    parse_duration,
    parse_list,
    parse_rate,
    settings_names,
)

ROOM = "!abc:example.org"

# A good value for a secret whose value has a shape; any other secret takes "s3cret-value".
SECRET_EXAMPLES = {"database_url": "postgresql://knock:s3cret@db.example.org/knock"}

# "ſ" (U+017F, long s) is the one letter that case-insensitive matching takes for a unit ("s").
LONG_S = "\u017f"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove every variable Knock reads, in any case, and leave no `.env` in reach."""
    names = set(settings_names())
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    # Nor may the developer's own ./.env be in reach.
    monkeypatch.chdir(tmp_path)


def load(**environment: str) -> Settings:
    """Load the settings from exactly these environment variables (no `.env`)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        return load_settings(env_file=None)


def config_error(**environment: str) -> str:
    """Return the message of the ConfigError these variables cause."""
    with pytest.raises(ConfigError) as caught:
        load(**environment)
    return str(caught.value)


# --- Formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("48h", 172800.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("45", 45.0),
        ("0.5", 0.5),
        ("1.5h", 5400.0),
        ("0", 0.0),
        ("15M", 900.0),
        (" 10 m ", 600.0),
        (30, 30.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration_reads_units_and_bare_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "soon", "-5", "5x", "1e3", "inf", "nan", "m", "1h30m", "5 m 3", -1, True]
)
def test_parse_duration_refuses_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(text)


duration_like = st.from_regex(rf"\A\s?-?\d{{1,6}}(\.\d{{1,3}})?\s?[smhdwSMHDWxk{LONG_S}]?\s?\Z")


@given(st.one_of(st.text(), duration_like))
def test_parse_duration_returns_non_negative_seconds_or_raises_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert isinstance(seconds, float)
    assert seconds >= 0


def test_a_look_alike_unit_is_refused_as_malformed() -> None:
    with pytest.raises(ValueError):
        parse_duration(f"5{LONG_S}")


def test_a_look_alike_unit_in_a_duration_setting_gives_a_one_line_error() -> None:
    assert config_error(NEW_ROOM_ID=ROOM, REQUEST_DELAY=f"5{LONG_S}").startswith("REQUEST_DELAY=")


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("3/1h", Rate(3, 3600.0)),
        ("10/60", Rate(10, 60.0)),
        (" 5 / 90s ", Rate(5, 90.0)),
        ("off", None),
        ("OFF", None),
        ("", None),
        (None, None),
        (Rate(2, 5.0), Rate(2, 5.0)),
    ],
)
def test_parse_rate_reads_count_per_duration_or_off(text: object, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["3", "x/1h", "3/", "/1h", "-3/1h", "3.5/1h", "3/soon", "on"])
def test_parse_rate_refuses_what_is_not_a_rate(text: str) -> None:
    with pytest.raises(ValueError, match="rate|duration"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("a,b,c", ["a", "b", "c"]),
        (" a, b,,c ,", ["a", "b", "c"]),
        ("single", ["single"]),
        ("", []),
        (None, []),
        (["x", " ", "y "], ["x", "y"]),
    ],
)
def test_parse_list_splits_on_commas_and_drops_empty_items(value: object, items: list[str]) -> None:
    assert parse_list(value) == items


# --- Defaults -------------------------------------------------------------------------------


def test_only_the_room_is_needed_and_everything_else_has_the_documented_default() -> None:
    settings = load(NEW_ROOM_ID=ROOM)

    assert settings.new_room_id == ROOM
    assert settings.matrix_base_url == "https://matrix.beeper.com"
    assert settings.beeper_api_base == "https://api.beeper.com"
    assert settings.request_delay == 0.5
    assert settings.rate_limit_wait_cap == 20.0
    assert settings.blocklist_file == Path("blocked_users.txt")
    assert settings.max_requests_per_window == 10
    assert settings.spam_window_seconds == 60.0
    assert settings.tokens_file == Path("tokens.json")
    assert settings.database_url.get_secret_value() == "sqlite:///./knock.db"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.max_body_bytes == 262144
    assert settings.invite_retry_for == 24 * 3600.0
    assert settings.retention == 90 * 86400.0
    assert settings.repair_action == "invite"
    assert settings.store_form_answers is True
    assert settings.knock_page_pow_bits == 0
    assert settings.knock_page_title == "Ask to join"
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    # Every secret but the database is unset, so admin routes are off and deliveries need no proof.
    for name in SECRET_SETTINGS:
        assert name == "database_url" or getattr(settings, name) is None, name
    assert settings.signing_configured is False


def test_values_are_read_in_the_documented_formats() -> None:
    settings = load(
        NEW_ROOM_ID=ROOM,
        MATRIX_BASE_URL="https://matrix.example.org/",
        REQUEST_DELAY="2s",
        INVITE_RETRY_FOR="48h",
        RETENTION="7d",
        STORE_FORM_ANSWERS="true",
        DATABASE_URL="postgresql://knock@db.example.org/knock",
        WEBHOOK_TOKEN="t0ken",
    )

    assert settings.matrix_base_url == "https://matrix.example.org"
    assert settings.request_delay == 2.0
    assert settings.invite_retry_for == 48 * 3600.0
    assert settings.retention == 7 * 86400.0
    assert settings.store_form_answers is True
    assert settings.database_url.get_secret_value() == "postgresql://knock@db.example.org/knock"
    assert settings.webhook_token is not None
    assert settings.webhook_token.get_secret_value() == "t0ken"
    assert settings.signing_configured is True


# --- Errors ---------------------------------------------------------------------------------


def test_a_missing_room_is_one_line_saying_what_a_room_id_looks_like() -> None:
    message = config_error()

    assert "\n" not in message
    assert message.startswith("NEW_ROOM_ID is required (a room id like !abc:example.org)")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEW_ROOM_ID", "abc"),
        ("NEW_ROOM_ID", "#room:example.org"),
        ("NEW_ROOM_ID", "!abc:bad host"),
        ("REQUEST_DELAY", "soon"),
        ("DATABASE_URL", "mysql://x"),
        ("MATRIX_BASE_URL", "matrix.org"),
        ("BEEPER_API_BASE", "api.beeper.com"),
        ("MATRIX_USER_ID", "knock"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "JSON"),
        ("LOG_FORMAT", "yaml"),
        ("REPAIR_ACTION", "ask"),
        ("SQLITE_SYNCHRONOUS", "OFF"),
        ("MAX_BODY_BYTES", "0"),
        ("WORKER_CONCURRENCY", "65"),
        ("STORE_FORM_ANSWERS", "perhaps"),
        ("RETENTION", "forever"),
    ],
)
def test_a_malformed_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    environment = {"NEW_ROOM_ID": ROOM, variable: value}

    message = config_error(**environment)

    assert "\n" not in message
    assert message.startswith((f"{variable}=", f"{variable} "))


def test_log_format_json_is_read_and_a_bad_one_names_the_choices() -> None:
    assert load(NEW_ROOM_ID=ROOM, LOG_FORMAT="json").log_format == "json"
    assert config_error(NEW_ROOM_ID=ROOM, LOG_FORMAT="xml") == (
        "LOG_FORMAT='xml' is not valid: Input should be 'text' or 'json'"
    )


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secrets_bad_value_is_never_shown(name: str) -> None:
    secret = "hunter2-do-not-print"
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, new_room_id=ROOM, **{name: {"value": secret}})

    message = str(caught.value)
    assert message.startswith(f"{name.upper()} ")
    assert secret not in message


def test_a_postgresql_password_shows_neither_in_the_settings_nor_in_a_config_error() -> None:
    good = load(NEW_ROOM_ID=ROOM, DATABASE_URL="postgresql://knock:hunter2@db.example.org/knock")
    bad = config_error(NEW_ROOM_ID=ROOM, DATABASE_URL="mysql://knock:hunter2@db.example.org/knock")

    assert "hunter2" not in repr(good) and "hunter2" not in str(good)
    assert "hunter2" not in bad
    assert bad == (
        "DATABASE_URL is not valid: must be sqlite:///path/to/knock.db or postgresql://user@host/db"
    )


def test_a_bad_value_that_is_no_secret_is_shown_so_it_can_be_fixed() -> None:
    assert "'soon'" in config_error(NEW_ROOM_ID=ROOM, REQUEST_DELAY="soon")


# --- Secrets from files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_is_read_from_the_file_its_file_variable_names(name: str, tmp_path: Path) -> None:
    secret = SECRET_EXAMPLES.get(name, "s3cret-value")
    secret_file = tmp_path / f"{name}.secret"
    secret_file.write_text(f"{secret}\n", encoding="utf-8")

    settings = load(NEW_ROOM_ID=ROOM, **{f"{name.upper()}_FILE": str(secret_file)})

    value = getattr(settings, name)
    assert value is not None
    assert value.get_secret_value() == secret


def test_api_key_file_turns_the_admin_routes_on(tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("admin-key\n", encoding="utf-8")

    settings = load(NEW_ROOM_ID=ROOM, API_KEY_FILE=str(key_file))

    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "admin-key"


def test_a_value_given_directly_wins_over_its_file(tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("from-file\n", encoding="utf-8")

    settings = load(NEW_ROOM_ID=ROOM, API_KEY="direct", API_KEY_FILE=str(key_file))

    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "direct"


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_file_variable_naming_a_missing_file_is_one_line_naming_it(
    name: str, tmp_path: Path
) -> None:
    variable = f"{name.upper()}_FILE"

    message = config_error(NEW_ROOM_ID=ROOM, **{variable: str(tmp_path / "missing")})

    assert "\n" not in message
    assert message.startswith(f"{variable} ")


# --- .env -----------------------------------------------------------------------------------


def write_dotenv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_dotenv_file_is_read_when_passed(tmp_path: Path) -> None:
    dotenv = write_dotenv(tmp_path / "knock.env", f"NEW_ROOM_ID={ROOM}", "REQUEST_DELAY=2s")

    settings = load_settings(env_file=str(dotenv))

    assert settings.new_room_id == ROOM
    assert settings.request_delay == 2.0


def test_the_real_environment_wins_over_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = write_dotenv(
        tmp_path / "knock.env", "NEW_ROOM_ID=!fromfile:example.org", "REQUEST_DELAY=2s"
    )
    monkeypatch.setenv("NEW_ROOM_ID", ROOM)
    monkeypatch.setenv("REQUEST_DELAY", "3s")

    settings = load_settings(env_file=str(dotenv))

    assert settings.new_room_id == ROOM
    assert settings.request_delay == 3.0


def test_without_env_file_no_dotenv_is_read(tmp_path: Path) -> None:
    write_dotenv(tmp_path / ".env", f"NEW_ROOM_ID={ROOM}")

    assert config_error().startswith("NEW_ROOM_ID is required")


def test_a_file_variable_in_the_passed_dotenv_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("admin-key\n", encoding="utf-8")
    conf = tmp_path / "conf"
    conf.mkdir()
    dotenv = write_dotenv(conf / ".env", f"NEW_ROOM_ID={ROOM}", f"API_KEY_FILE={key_file}")

    settings = load_settings(env_file=str(dotenv))

    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "admin-key"


def test_without_env_file_no_file_variable_is_taken_from_dotenv(tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("admin-key\n", encoding="utf-8")
    write_dotenv(tmp_path / ".env", f"API_KEY_FILE={key_file}")

    settings = load(NEW_ROOM_ID=ROOM)

    assert settings.api_key is None


def test_an_empty_line_in_dotenv_counts_as_unset(tmp_path: Path) -> None:
    dotenv = write_dotenv(
        tmp_path / "knock.env",
        f"NEW_ROOM_ID={ROOM}",
        "MATRIX_ACCESS_TOKEN=",
        "WEBHOOK_TOKEN=",
        "REQUEST_DELAY=",
        "MATRIX_USER_ID=",
    )

    settings = load_settings(env_file=str(dotenv))

    # Sign-in goes on to the next method, and deliveries need no token.
    assert settings.matrix_access_token is None
    assert settings.matrix_user_id is None
    assert settings.signing_configured is False
    assert settings.request_delay == 0.5


def test_an_empty_environment_variable_counts_as_unset() -> None:
    settings = load(NEW_ROOM_ID=ROOM, API_KEY="", TALLY_SIGNING_SECRET="", LOG_LEVEL="")

    assert settings.api_key is None  # so the admin routes answer 403
    assert settings.signing_configured is False
    assert settings.log_level == "INFO"


def test_an_empty_room_is_still_required() -> None:
    assert config_error(NEW_ROOM_ID="").startswith("NEW_ROOM_ID is required")


# --- Commands that only read the database ---------------------------------------------------


def test_commands_that_only_read_the_database_need_no_room() -> None:
    settings = load_settings(env_file=None, room_required=False, database_url="sqlite:///x.db")

    assert settings.database_url.get_secret_value() == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="NEW_ROOM_ID is required"):
        load_settings(env_file=None, database_url="sqlite:///x.db")


def test_without_the_room_requirement_other_mistakes_are_still_one_line() -> None:
    with pytest.raises(ConfigError) as bad_room:
        load_settings(env_file=None, room_required=False, new_room_id="#room:example.org")
    with pytest.raises(ConfigError) as bad_database:
        load_settings(env_file=None, room_required=False, database_url="mysql://x")

    assert str(bad_room.value).startswith("NEW_ROOM_ID='#room:example.org' is not valid")
    assert str(bad_database.value).startswith("DATABASE_URL is not valid")  # a secret: no value


# --- Intake security ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SECRET_SETTINGS)
@pytest.mark.parametrize("content", ["", "\n", "   \n"])
def test_an_empty_secret_file_stops_start_up_naming_the_file_variable(
    tmp_path: Path, name: str, content: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(content)
    variable = f"{name.upper()}_FILE"

    message = config_error(NEW_ROOM_ID=ROOM, **{variable: str(secret_file)})

    assert (
        message == f"{variable} names an empty file: put {name.upper()} in it, or unset {variable}"
    )


# DATABASE_URL has a default and its own check, which a blank value fails with its own words.
@pytest.mark.parametrize("name", [name for name in SECRET_SETTINGS if name != "database_url"])
def test_a_blank_secret_stops_start_up(name: str) -> None:
    message = config_error(NEW_ROOM_ID=ROOM, **{name.upper(): "   "})
    assert message == f"{name.upper()} is not valid: must not be blank"


def test_allow_unsigned_webhooks_is_unset_true_or_false() -> None:
    assert load(NEW_ROOM_ID=ROOM).allow_unsigned_webhooks is None
    assert load(NEW_ROOM_ID=ROOM, ALLOW_UNSIGNED_WEBHOOKS="true").allow_unsigned_webhooks is True
    assert load(NEW_ROOM_ID=ROOM, ALLOW_UNSIGNED_WEBHOOKS="false").allow_unsigned_webhooks is False
    assert "ALLOW_UNSIGNED_WEBHOOKS" in config_error(
        NEW_ROOM_ID=ROOM, ALLOW_UNSIGNED_WEBHOOKS="perhaps"
    )


def test_allowed_origins_are_read_as_lower_case_origins() -> None:
    settings = load(
        NEW_ROOM_ID=ROOM, ALLOWED_ORIGINS="https://Forms.Example.org/, http://localhost:8080"
    )
    assert settings.allowed_origins == ["https://forms.example.org", "http://localhost:8080"]


@pytest.mark.parametrize("bad", ["forms.example.org", "https://example.org/form", "null"])
def test_an_allowed_origin_that_is_no_origin_stops_start_up(bad: str) -> None:
    message = config_error(NEW_ROOM_ID=ROOM, ALLOWED_ORIGINS=bad)
    assert message.startswith("ALLOWED_ORIGINS=") and "is not an origin like" in message


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://knock.example.org/", "https://knock.example.org"),
        ("https://example.org/knock", "https://example.org/knock"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    ],
)
def test_public_url_is_an_https_address_or_this_machine(given: str, kept: str) -> None:
    assert load(NEW_ROOM_ID=ROOM, PUBLIC_URL=given).public_url == kept


@pytest.mark.parametrize(
    "bad", ["knock.example.org", "http://knock.example.org", "https://example.org/?next=x"]
)
def test_a_public_url_that_is_not_https_stops_start_up(bad: str) -> None:
    message = config_error(NEW_ROOM_ID=ROOM, PUBLIC_URL=bad)
    assert message.startswith("PUBLIC_URL=")
    assert "\n" not in message
