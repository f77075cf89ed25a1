"""One logging set-up for Knock and uvicorn, and secrets in query strings never reach the logs."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest
import uvicorn.config

from knock.web.logs import RedactQuerySecrets, configure_logging, logging_config, redact

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
def test_the_log_level_is_applied_and_httpx_request_lines_are_kept_quiet() -> None:
    configure_logging("DEBUG")

    assert logging.getLogger().level == logging.DEBUG
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
