"""One logging set-up for Knock and uvicorn, and secrets in query strings never reach the logs."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest
import uvicorn.config

from knock import log_context
from knock.config import load_settings
from knock.web.logs import (
    FORMAT,
    JsonLines,
    LogFormat,
    RedactQuerySecrets,
    TextLines,
    configure_logging,
    logging_config,
    redact,
)

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access log line
TOUCHED = (
    "knock",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "uvicorn.asgi",
    "httpx",
    "httpcore",
)


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        ("/invite_from_form?token=s3cret", "/invite_from_form?token=REDACTED"),
        ("/invite_from_form?x=1&token=s3cret&y=2", "/invite_from_form?x=1&token=REDACTED&y=2"),
        ("/invite_from_form?token=s3cret&x=1", "/invite_from_form?token=REDACTED&x=1"),
        ("/sync?access_token=syt_abc&since=s1", "/sync?access_token=REDACTED&since=s1"),
        ("/sync?since=s1&access_token=syt_abc", "/sync?since=s1&access_token=REDACTED"),
        ("/x?TOKEN=s3cret", "/x?TOKEN=REDACTED"),
        # The server decodes the name before it reads the token, so the logs do too.
        ("/invite_from_form?%74oken=s3cret", "/invite_from_form?%74oken=REDACTED"),
        ("/invite_from_form?x=1&t%6Fk%65n=s3cret", "/invite_from_form?x=1&t%6Fk%65n=REDACTED"),
        ("/sync?access%5Ftoken=syt_abc", "/sync?access%5Ftoken=REDACTED"),
        ("/x?a=b=c&token=s3cret", "/x?a=b=c&token=REDACTED"),
        ("/x?flag&token=s3cret", "/x?flag&token=REDACTED"),
        (
            'POST /a?token=one HTTP/1.1" 202; GET /b?api_key=two',
            'POST /a?token=REDACTED HTTP/1.1" 202; GET /b?api_key=REDACTED',
        ),
        # A knock page's status link: the token is in the path.
        ("GET /knock/Zm9vYmFyYmF6cXV4cXV1eHh4eHh4 HTTP/1.1", "GET /knock/REDACTED HTTP/1.1"),
        ("/knock/Zm9vYmFyYmF6cXV4?x=1", "/knock/REDACTED?x=1"),
        ("/doors/club/knock/Zm9vYmFyYmF6", "/doors/club/knock/REDACTED"),
        ("/knock/challengeZm9vYmFy", "/knock/REDACTED"),
        (
            "POST /console/link/aB3-_xYz0123456789abcdef HTTP/1.1",
            "POST /console/link/REDACTED HTTP/1.1",
        ),
        ("/prefix/console/link/aB3-_xYz01234?x=1", "/prefix/console/link/REDACTED?x=1"),
    ],
)
def test_redact_scrubs_secret_query_values(line: str, scrubbed: str) -> None:
    assert redact(line) == scrubbed


@pytest.mark.parametrize(
    "line",
    [
        "/invite_from_form?x=1&page=2",
        "/invite_from_form?page_token=abc",
        "/invite_from_form?%70age_token=abc",
        "/readyz",
        "the token was refused",
        "GET /knock HTTP/1.1",
        "/knock/assets/knock.css",
        "/knock/challenge",
        "GET /knock/challenge HTTP/1.1",
    ],
)
def test_redact_keeps_everything_else(line: str) -> None:
    assert redact(line) == line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the levels, handlers and filters that configure_logging changes."""
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers), {h: list(h.filters) for h in root.handlers})
    saved = {
        name: (logger.level, list(logger.filters), list(logger.handlers), logger.propagate)
        for name in TOUCHED
        for logger in [logging.getLogger(name)]
    }
    yield
    level, handlers, filters = root_state
    root.setLevel(level)
    for handler in list(root.handlers):
        # pytest's capture handlers come and go with each test phase; pytest removes them.
        if handler not in handlers and not _pytests(handler):
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers and not _pytests(handler):
            root.addHandler(handler)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    for name, (level, kept, own_handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.filters[:] = kept
        logger.handlers[:] = own_handlers
        logger.propagate = propagate


def _pytests(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("_pytest")


STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def access_line(path: str) -> None:
    logging.getLogger("uvicorn.access").info(
        ACCESS_FORMAT, "203.0.113.7:50312", "POST", path, "1.1", 202
    )


def test_the_set_up_is_plain_data_with_one_handler_and_every_logger_propagating() -> None:
    config = logging_config("INFO")

    assert json.loads(json.dumps(config)) == config  # uvicorn pickles it for --workers
    assert config["disable_existing_loggers"] is False
    assert list(config["handlers"]) == ["stderr"]
    assert config["root"]["handlers"] == ["stderr"]
    assert "redact" in config["handlers"]["stderr"]["filters"]
    for name in ("knock", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx"):
        assert config["loggers"][name]["propagate"] is True
        assert not config["loggers"][name].get("handlers")
    assert config["loggers"]["httpx"]["level"] == "WARNING"
    assert logging_config("ERROR")["loggers"]["httpx"]["level"] == "ERROR"


@pytest.mark.usefixtures("restore_logging")
def test_after_uvicorns_own_set_up_its_lines_come_out_once_in_knocks_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what `uvicorn mknock:app` does
    configure_logging("INFO")  # then mknock's app factory

    logging.getLogger("uvicorn.error").info("Application startup complete.")
    access_line("/invite_from_form?token=s3cret&x=1")
    logging.getLogger("knock.web.app").info("Knock is running")

    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert all(STAMPED.match(line) for line in lines), err
    startup, access, knock = lines
    assert startup.endswith(" INFO uvicorn.error: Application startup complete.")
    assert access.endswith(
        ' INFO uvicorn.access: 203.0.113.7:50312 - "POST /invite_from_form?token=REDACTED&x=1'
        ' HTTP/1.1" 202'
    )
    assert knock.endswith(" INFO knock.web.app: Knock is running")


@pytest.mark.usefixtures("restore_logging")
def test_applying_the_set_up_twice_still_prints_each_line_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")  # `knock serve` hands it to uvicorn ...
    configure_logging("INFO")  # ... and the app factory applies it again

    access_line("/invite_from_form?token=s3cret")

    assert len(capsys.readouterr().err.splitlines()) == 1
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactQuerySecrets) for f in access.filters) == 1


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_line_never_shows_the_webhook_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")

    access_line("/invite_from_form?token=s3cret&x=1")

    shown = capsys.readouterr().err
    assert "s3cret" not in shown
    assert '"POST /invite_from_form?token=REDACTED&x=1 HTTP/1.1" 202' in shown


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_line_is_scrubbed_for_a_handler_added_later_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("INFO")
    # pytest's capture, like a log shipper attached after Knock's set-up (which replaced the
    # root logger's handlers).
    logging.getLogger().addHandler(caplog.handler)

    access_line("/invite_from_form?token=s3cret&x=1")

    assert "s3cret" not in caplog.text
    assert "token=REDACTED&x=1" in caplog.text


@pytest.mark.usefixtures("restore_logging")
def test_any_logger_reaching_the_root_handler_is_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")

    logging.getLogger("some.library").warning(
        "Fetching %s failed", "https://hs.example.org/_matrix/client/v3/sync?access_token=syt_abc"
    )
    logging.getLogger("some.library").warning("GET /hook?key=k3y failed")

    shown = capsys.readouterr().err
    assert "syt_abc" not in shown
    assert "k3y" not in shown
    assert "Fetching https://hs.example.org/_matrix/client/v3/sync?access_token=REDACTED" in shown


@pytest.mark.usefixtures("restore_logging")
def test_the_log_level_is_knocks_and_uvicorns_and_other_libraries_keep_to_warnings() -> None:
    configure_logging("DEBUG")

    for name in ("knock.services.runtime", "uvicorn.error", "uvicorn.access"):
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    # httpx's request lines; aiosqlite's lines carry each query's parameters (secrets).
    for name in ("httpx", "httpcore", "aiosqlite", "sqlalchemy.engine", "asyncpg"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name


# --- LOG_FORMAT=json --------------------------------------------------------------------------

# `2026-12-06T05:01:02.123Z`: RFC 3339, in UTC, to the millisecond.
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def json_lines(err: str) -> list[dict[str, object]]:
    lines = err.splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_hold_uvicorns_and_knocks_lines_once_each_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what `uvicorn mknock:app` does
    configure_logging("INFO", "json")  # then mknock's app factory

    logging.getLogger("uvicorn.error").info("Application startup complete.")
    access_line("/invite_from_form?token=s3cret&x=1")
    logging.getLogger("knock.web.app").info("Knock is running")

    startup, access, knock = json_lines(capsys.readouterr().err)
    for line in (startup, access, knock):
        assert set(line) == {"time", "level", "logger", "message"}
        assert RFC3339_UTC.match(str(line["time"])), line
        assert line["level"] == "INFO"
    assert (startup["logger"], startup["message"]) == (
        "uvicorn.error",
        "Application startup complete.",
    )
    assert access["logger"] == "uvicorn.access"
    assert access["message"] == (
        '203.0.113.7:50312 - "POST /invite_from_form?token=REDACTED&x=1 HTTP/1.1" 202'
    )
    assert (knock["logger"], knock["message"]) == ("knock.web.app", "Knock is running")


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_say_which_knock_job_and_door_only_while_they_are_handled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    worker = logging.getLogger("knock.services.invites.worker")

    with log_context.about(knock_id="k-123", job="invite:7", door="club"):
        worker.warning("Job %s: the homeserver said no", "invite")
    with log_context.about(door="default"):
        worker.warning("A delivery came")
        log_context.mark_knock("k-456")
        worker.warning("Committed")
    worker.warning("Idle")

    handled, delivered, committed, idle = json_lines(capsys.readouterr().err)
    assert {k: handled[k] for k in ("knock_id", "job", "door")} == {
        "knock_id": "k-123",
        "job": "invite:7",
        "door": "club",
    }
    assert handled["message"] == "Job invite: the homeserver said no"
    assert delivered["door"] == "default" and "knock_id" not in delivered
    assert (committed["door"], committed["knock_id"]) == ("default", "k-456")
    assert not {"knock_id", "job", "door"} & set(idle)


def _raise_with_a_secret() -> None:
    raise RuntimeError(
        "GET https://hs.example.org/_matrix/client/v3/sync?access_token=syt_s3cret failed"
    )


@pytest.mark.usefixtures("restore_logging")
def test_a_json_line_carries_the_traceback_on_its_one_line_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")

    try:
        _raise_with_a_secret()
    except RuntimeError:
        logging.getLogger("knock.services.runtime").exception("The sync loop stopped")

    err = capsys.readouterr().err
    assert "syt_s3cret" not in err
    (line,) = json_lines(err)
    assert line["level"] == "ERROR"
    assert line["message"] == "The sync loop stopped"
    exception = str(line["exception"])
    assert exception.startswith("Traceback (most recent call last):")
    assert "_raise_with_a_secret" in exception
    assert exception.rstrip().endswith(
        "RuntimeError: GET https://hs.example.org/_matrix/client/v3/sync?access_token=REDACTED"
        " failed"
    )


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_exception_given_as_an_argument_or_a_traceback_is_scrubbed_in_both_formats(
    log_format: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", log_format)
    log = logging.getLogger("knock.matrix.client")

    try:
        _raise_with_a_secret()
    except RuntimeError as exc:
        log.warning("The homeserver cannot be reached: %s", exc)  # not a str: the filter keeps it
        log.error("Sync failed", exc_info=exc)
    log.info("Opened %s", "/console/link/aB3-_xYz0123456789abcdef")

    err = capsys.readouterr().err
    assert "syt_s3cret" not in err
    assert "aB3-_xYz0123456789abcdef" not in err
    assert err.count("access_token=REDACTED") == 2  # the argument and the traceback
    assert "/console/link/REDACTED" in err
    if log_format == "json":
        assert len(json_lines(err)) == 3


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_stay_as_they_were_whatever_is_being_handled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")  # LOG_FORMAT's default

    with log_context.about(knock_id="k-123", job="invite:7", door="club"):
        logging.getLogger("knock.services.invites.worker").info("Invited")

    (line,) = capsys.readouterr().err.splitlines()
    assert STAMPED.match(line)
    assert line.endswith(" INFO knock.services.invites.worker: Invited")


def test_the_format_follows_the_settings_and_the_set_up_stays_plain_data() -> None:
    settings = load_settings(env_file=None, new_room_id="!abc:example.org", log_format="json")

    config = logging_config(settings)

    assert json.loads(json.dumps(config)) == config
    assert config["handlers"]["stderr"]["formatter"] == "json"
    assert config["formatters"]["json"]["()"] == "knock.web.logs.JsonLines"
    assert logging_config("INFO")["handlers"]["stderr"]["formatter"] == "text"


# --- LOG_LEVEL for uvicorn too ----------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("uvicorns_level", [None, "debug", "trace"])
def test_log_level_governs_uvicorns_loggers_after_uvicorns_own_set_up(
    uvicorns_level: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    # `uvicorn mknock:app [--log-level ...]`: uvicorn sets its loggers up, then the app factory.
    uvicorn.config.Config("mknock:app", log_level=uvicorns_level)
    configure_logging("WARNING")

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "knock"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
    access_line("/readyz")
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING uvicorn.error: Invalid HTTP request received.")


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["DEBUG", "ERROR"])
def test_knock_serve_hands_uvicorn_the_level_for_its_loggers(level: str) -> None:
    # `knock serve`: uvicorn applies the set-up it is given before it loads the app.
    uvicorn.config.Config("mknock:app", log_config=logging_config(level, "json"))

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "knock"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.getLevelName(level), name
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler.formatter, JsonLines)


def test_text_lines_read_the_time_as_logging_writes_it_also_within_and_across_a_second() -> None:
    ours, plain = TextLines(FORMAT), logging.Formatter(FORMAT)
    lines: list[str] = []
    for created in (1_700_000_000.0005, 1_700_000_000.9999, 1_700_000_001.25, 1_700_000_001.0):
        record = logging.LogRecord("knock", logging.INFO, __file__, 1, "hello", None, None)
        record.created, record.msecs = created, int((created % 1) * 1000) + 0.0
        lines.append(ours.format(record))
        assert lines[-1] == plain.format(record)

    # Within one second only the milliseconds change; across one, the second does.
    assert lines[0][:19] == lines[1][:19] and lines[0][20:23] != lines[1][20:23]
    assert lines[1][:19] != lines[2][:19]
