"""Knock's settings: one class, read once from the environment (or `.env`) and passed down."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from knock.core.limits import Rate

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ASCII units only: with re.IGNORECASE, look-alike letters such as "ſ" would match "s".
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwSMHDW]?)\s*$", re.ASCII)


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


def parse_duration(value: object) -> float:
    """Read `90s`, `15m`, `48h`, `7d`, `2w` or a bare number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("must be a duration like 90s, 15m, 48h or 7d")
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def parse_rate(value: object) -> Rate | None:
    """Read `COUNT/DURATION` (`3/1h`) or `off`."""
    if value is None or isinstance(value, Rate):
        return value
    text = str(value).strip().lower()
    if text in ("off", ""):
        return None
    count, _, window = text.partition("/")
    if not count.strip().isdigit() or not window:
        raise ValueError("must be a rate like 3/1h, or off")
    return Rate(int(count), parse_duration(window))


def parse_list(value: object) -> list[str]:
    """Read a comma-separated list."""
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def parse_distances(value: object) -> tuple[tuple[tuple[int, int], ...], int]:
    """Read `5:0,8:1,*:2`: up to 5 characters no edit, up to 8 one, longer two."""
    if isinstance(value, tuple):
        return value
    steps: list[tuple[int, int]] = []
    beyond: int | None = None
    for item in parse_list(value):
        length, _, edits = item.partition(":")
        if not edits.strip().isdigit() or not (length.strip().isdigit() or length.strip() == "*"):
            raise ValueError("must be LENGTH:EDITS pairs ending in *:EDITS, like 5:0,8:1,*:2")
        if length.strip() == "*":
            beyond = int(edits)
        else:
            steps.append((int(length), int(edits)))
    # The near-miss index finds at most two edits.
    if beyond is None or beyond > 2 or any(edits > 2 for _, edits in steps):
        raise ValueError("must end in *:EDITS and allow at most 2 edits, like 5:0,8:1,*:2")
    return tuple(sorted(steps)), beyond


def _room_id(value: str) -> str:
    # Imported here so that the settings module stays importable on its own.
    from knock.core.mxid import is_room_id

    if not is_room_id(value):
        raise ValueError("must be a room id like !abc:example.org")
    return value


def _networks(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            shown = value[:60]
            raise ValueError(f"{shown!r} is not an address or network like 10.0.0.0/8") from None
    return values


def _optional_room_id(value: str | None) -> str | None:
    return None if value is None else _room_id(value)


def _room_ids(values: list[str]) -> list[str]:
    return [_room_id(value) for value in values]


def _user_id(value: str | None) -> str | None:
    from knock.core.mxid import is_valid

    if value is not None and not is_valid(value):
        raise ValueError("must be a Matrix user id like @knock:example.org")
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http(s) URL like https://matrix.example.org")
    return value.rstrip("/")


_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$")


def _public_url(value: str | None) -> str | None:
    """Knock's public address: https, or http on this machine only (a demo, a test)."""
    if value is None:
        return None
    match = re.match(r"^(https?)://([^\s/?#]+)(/[^\s?#]*)?$", value.strip())
    if not match:
        raise ValueError("must be Knock's public address like https://knock.example.org")
    scheme, host, _ = match.groups()
    if scheme == "http" and not _LOOPBACK.match(host.lower()):
        raise ValueError("must be an https address (http only for localhost)")
    return value.strip().rstrip("/")


_ORIGIN = re.compile(r"^https?://(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$")


def _origins(values: list[str]) -> list[str]:
    origins = []
    for value in values:
        origin = value.strip().lower().rstrip("/")
        if not _ORIGIN.match(origin):
            shown = value[:60]
            raise ValueError(f"{shown!r} is not an origin like https://forms.example.org")
        origins.append(origin)
    return origins


MAX_QUESTIONS = 20


def read_questions(path: Path) -> tuple[str, ...]:
    """Read the knock page's questions: one a line, blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)[:80]} is not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)[:80]}: {exc.strerror or exc}") from None
    questions = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(questions) > MAX_QUESTIONS:
        raise ValueError(f"holds {len(questions)} questions; the page asks {MAX_QUESTIONS} at most")
    if any(len(question) > 300 for question in questions):
        raise ValueError("has a question longer than 300 characters")
    return questions


def _questions_file(value: Path | None) -> Path | None:
    if value is not None:
        read_questions(value)
    return value


def _not_blank(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("must not be blank")
    return value


def _database_url(value: SecretStr) -> SecretStr:
    # A secret: a PostgreSQL URL may hold a password, so the message never repeats the value.
    if not value.get_secret_value().startswith(("sqlite", "postgresql", "postgres")):
        raise ValueError("must be sqlite:///path/to/knock.db or postgresql://user@host/db")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
CommaList = Annotated[list[str], NoDecode, BeforeValidator(parse_list)]
OptionalRate = Annotated[Rate | None, NoDecode, BeforeValidator(parse_rate)]
Distances = Annotated[
    tuple[tuple[tuple[int, int], ...], int], NoDecode, BeforeValidator(parse_distances)
]
Action = Literal["review", "block", "allow"]
Secret = Annotated[SecretStr | None, AfterValidator(_not_blank)]

# Settings whose value may instead be read from the file named by `<NAME>_FILE`.
SECRET_SETTINGS = (
    "api_key",
    "metrics_token",
    "matrix_access_token",
    "matrix_password",
    "beeper_login_code",
    "beeper_login_token",
    "tally_signing_secret",
    "typeform_secret",
    "formbricks_secret",
    "webhook_token",
    "database_url",
)

# Shown after "NAME is required" so that the line says what a good value looks like.
_HINTS = {"new_room_id": "a room id like !abc:example.org"}


class Settings(BaseSettings):
    """Every setting Knock reads; documented one by one in docs/env_vars.md."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `MATRIX_ACCESS_TOKEN=` with nothing after it means "not set", as people expect.
        env_ignore_empty=True,
    )

    # The room and the homeserver.
    new_room_id: Annotated[str, AfterValidator(_room_id)]
    # More doors (knock/doors.py reads the file, at start; a missing file is named there).
    doors_file: Path | None = None
    matrix_base_url: Annotated[str, AfterValidator(_url)] = "https://matrix.beeper.com"
    default_server_name: str | None = None

    # How the bot signs in (first match wins: token, password, Beeper JWT, Beeper email code).
    matrix_access_token: Secret = None
    matrix_user_id: Annotated[str | None, AfterValidator(_user_id)] = None
    matrix_password: Secret = None
    beeper_api_base: Annotated[str, AfterValidator(_url)] = "https://api.beeper.com"
    beeper_login_email: str | None = None
    beeper_login_code: Secret = None
    beeper_login_token: Secret = None
    tokens_file: Path = Path("tokens.json")
    device_name: str = "Knock"

    # Talking to the homeserver.
    request_delay: Duration = 0.5
    rate_limit_wait_cap: Duration = 20.0
    invite_reason: str = "You asked to join this room."
    kick_reason: str = "Removed by the room's moderators."

    # Admin API and the console.
    api_key: Secret = None
    metrics_token: Secret = None  # GET /metrics; API_KEY when unset
    console_session_ttl: Duration = 12 * 3600.0
    public_url: Annotated[str | None, AfterValidator(_public_url)] = None
    sign_in_link_limit_per_user: OptionalRate = Rate(3, 3600.0)
    sign_in_link_limit_per_ip: OptionalRate = Rate(10, 3600.0)

    # Intake.
    max_body_bytes: int = Field(default=262144, gt=0)
    matrix_id_field: str | None = None
    tally_signing_secret: Secret = None
    typeform_secret: Secret = None
    formbricks_secret: Secret = None
    webhook_token: Secret = None
    allow_unsigned_webhooks: bool | None = None
    allowed_origins: Annotated[CommaList, AfterValidator(_origins)] = []
    form_redirect_url: str | None = None
    repair_action: Literal["invite", "review"] = "invite"
    store_form_answers: bool = True

    # The knock page (GET /knock): what it says, what it asks, and its optional proof-of-work.
    knock_page_title: str = "Ask to join"
    knock_page_room_name: str | None = None
    knock_page_description: str | None = None
    knock_page_questions_file: Annotated[Path | None, AfterValidator(_questions_file)] = None
    knock_page_pow_bits: int = Field(default=0, ge=0, le=26)

    # Block-list.
    blocklist_file: Path = Path("blocked_users.txt")
    allowlist_file: Path = Path("allowed_users.txt")
    fuzzy_action: Action = "review"
    other_server_action: Action = "review"
    fuzzy_max_distance: Distances = (((5, 0), (8, 1)), 2)
    ban_on_block: bool = False
    block_confirm_threshold: int = Field(default=10, ge=0)
    policy_room_ids: Annotated[CommaList, AfterValidator(_room_ids)] = []

    # Admission: honeypots, windows, back-off, the requester's server, the join-wave breaker.
    honeypot_fields: CommaList = ["honeypot"]
    max_requests_per_window: int = Field(default=10, gt=0)
    spam_window_seconds: Duration = 60.0
    max_deferred: int = Field(default=500, ge=0)
    limit_per_user: OptionalRate = Rate(3, 3600.0)
    limit_per_ip: OptionalRate = Rate(10, 3600.0)
    limit_per_server: OptionalRate = None
    limit_per_form: OptionalRate = None
    trusted_proxies: Annotated[CommaList, AfterValidator(_networks)] = []
    backoff_base: Duration = 60.0
    backoff_cap: Duration = 86400.0
    backoff_reset: Duration = 7 * 86400.0
    server_allowlist: CommaList = []
    server_denylist: CommaList = []
    reject_ip_literal_servers: bool = True
    join_wave_threshold: int = Field(default=50, gt=0)
    join_wave_window: Duration = 600.0
    join_wave_cooldown: Duration = 1800.0

    # Following invites: welcome, reminders, expiry, watchdogs.
    welcome_message: str = "Welcome, {display_name}! Glad you found the door."
    welcome_mode: Literal["room", "dm", "off"] = "room"
    reminder_after: Duration = 48 * 3600.0
    reminder_message: str = (
        "Hi {display_name}, you asked to join a room and your invite is still waiting. "
        "Accept it whenever you are ready; it expires in a few days."
    )
    invite_ttl: Duration = 7 * 86400.0
    invite_check_interval: Duration = 300.0
    moderation_room_id: Annotated[str | None, AfterValidator(_optional_room_id)] = None
    moderator_power_level: int = 50
    blocklist_scan_interval: Duration = 600.0

    # Jobs and storage.
    # A SecretStr (a PostgreSQL password stays out of repr and errors); the store unwraps it.
    database_url: Annotated[SecretStr, AfterValidator(_database_url)] = SecretStr(
        "sqlite:///./knock.db"
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    database_timeout: Duration = 5.0
    worker_concurrency: int = Field(default=4, gt=0, le=64)
    lease_ttl: Duration = 30.0
    job_retry_cap: Duration = 600.0
    invite_retry_for: Duration = 86400.0
    retention: Duration = 90 * 86400.0

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read init arguments, then the environment, then `.env`, then `<NAME>_FILE` files."""
        env_file = getattr(dotenv_settings, "env_file", None)
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            SecretFiles(settings_cls, env_file if isinstance(env_file, str | Path) else None),
        )

    @property
    def signing_configured(self) -> bool:
        """Whether any delivery secret or token is set, so that every delivery must prove itself."""
        return any(
            secret is not None
            for secret in (
                self.tally_signing_secret,
                self.typeform_secret,
                self.formbricks_secret,
                self.webhook_token,
            )
        )


class SecretFiles(PydanticBaseSettingsSource):
    """Read `<NAME>_FILE` (a container secret) for each secret setting not given directly."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: str | Path | None) -> None:
        super().__init__(settings_cls)
        self.env_file = env_file

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Satisfy the abstract interface; values come from `__call__`."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return each secret read from the file its `_FILE` variable names."""
        dotenv = _read_dotenv(self.env_file) if self.env_file is not None else {}
        found: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            variable = f"{name.upper()}_FILE"
            path = os.environ.get(variable) or dotenv.get(variable)
            if path:
                found[name] = _read_secret_file(variable, path)
        return found


def _read_dotenv(env_file: str | Path) -> dict[str, str]:
    if not Path(env_file).is_file():
        return {}
    return {key: value for key, value in dotenv_values(env_file).items() if value is not None}


def _read_secret_file(variable: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{variable} names a file that cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{variable} names a file that is not UTF-8 text") from None
    if not value:
        name = variable.removesuffix("_FILE")
        raise ConfigError(f"{variable} names an empty file: put {name} in it, or unset {variable}")
    return value


# Stands in for an unset NEW_ROOM_ID in the commands that only read the database (`knock check`,
# `knock blocklist`): they never use the room.
NO_ROOM = "!unset:knock.invalid"


def load_settings(
    env_file: str | None = ".env", *, room_required: bool = True, **overrides: Any
) -> Settings:
    """Build the settings or raise ConfigError with one line naming the bad setting.

    With `room_required=False` an unset NEW_ROOM_ID is no mistake (a malformed one still is).
    """
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        if room_required or not _room_missing(exc):
            raise ConfigError(describe_error(exc)) from None
    try:
        return Settings(_env_file=env_file, **{**overrides, "new_room_id": NO_ROOM})
    except ValidationError as exc:
        raise ConfigError(describe_error(exc)) from None


def _room_missing(exc: ValidationError) -> bool:
    return any(
        error["type"] == "missing" and tuple(error["loc"]) == ("new_room_id",)
        for error in exc.errors(include_url=False)
    )


def describe_error(exc: ValidationError, *, name: str | None = None) -> str:
    """Turn pydantic's report into one line that names the first bad setting.

    `name` is what to call the setting instead of its variable (a key of the doors file).
    """
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "settings"
    name = name or field.upper()
    if error["type"] == "missing":
        hint = _HINTS.get(field)
        return f"{name} is required" + (f" ({hint})" if hint else "")
    message = str(error["msg"]).removeprefix("Value error, ")
    if field in SECRET_SETTINGS:
        return f"{name} is not valid: {message}"
    shown = str(error.get("input", ""))[:60]
    return f"{name}={shown!r} is not valid: {message}"


def settings_names() -> list[str]:
    """List every environment variable Knock reads, for the documentation test."""
    names = [name.upper() for name in Settings.model_fields]
    return names + [f"{name.upper()}_FILE" for name in SECRET_SETTINGS]
