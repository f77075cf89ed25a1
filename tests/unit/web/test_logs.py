"""Secrets in query strings never reach the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from knock.web.logs import configure_logging, redact

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access log line
TOUCHED = ("uvicorn.access", "uvicorn.error", "httpx")


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        ("/invite_from_form?token=s3cret", "/invite_from_form?token=REDACTED"),
        ("/invite_from_form?x=1&token=s3cret&y=2", "/invite_from_form?x=1&token=REDACTED&y=2"),
        ("/invite_from_form?token=s3cret&x=1", "/invite_from_form?token=REDACTED&x=1"),
        ("/sync?access_token=syt_abc&since=s1", "/sync?access_token=REDACTED&since=s1"),
        ("/sync?since=s1&access_token=syt_abc", "/sync?since=s1&access_token=REDACTED"),
        ("/x?TOKEN=s3cret", "/x?TOKEN=REDACTED"),
        (
            'POST /a?token=one HTTP/1.1" 202; GET /b?api_key=two',
            'POST /a?token=REDACTED HTTP/1.1" 202; GET /b?api_key=REDACTED',
        ),
    ],
)
def test_redact_scrubs_secret_query_values(line: str, scrubbed: str) -> None:
    assert redact(line) == scrubbed


@pytest.mark.parametrize(
    "line",
    [
        "/invite_from_form?x=1&page=2",
        "/invite_from_form?page_token=abc",
        "/readyz",
        "the token was refused",
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
        if handler not in handlers and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    for name, (level, kept, own_handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.filters[:] = kept
        logger.handlers[:] = own_handlers
        logger.propagate = propagate


def capture(logger: logging.Logger) -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return stream


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_line_never_shows_the_webhook_token() -> None:
    access = logging.getLogger("uvicorn.access")
    access.propagate = False  # as uvicorn's own logging config has it
    access.setLevel(logging.INFO)  # an earlier test's uvicorn may have set it higher
    output = capture(access)
    configure_logging("INFO")

    access.info(
        ACCESS_FORMAT,
        "203.0.113.7:50312",
        "POST",
        "/invite_from_form?token=s3cret&x=1",
        "1.1",
        202,
    )

    shown = output.getvalue()
    assert "s3cret" not in shown
    assert '"POST /invite_from_form?token=REDACTED&x=1 HTTP/1.1" 202' in shown


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_line_is_scrubbed_in_captured_logs_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    access = logging.getLogger("uvicorn.access")
    access.propagate = True  # an earlier test's uvicorn may have turned these off
    access.setLevel(logging.INFO)
    configure_logging("INFO")

    access.info(
        ACCESS_FORMAT, "203.0.113.7:50312", "POST", "/invite_from_form?token=s3cret&x=1", "1.1", 202
    )

    assert "s3cret" not in caplog.text
    assert "token=REDACTED&x=1" in caplog.text


@pytest.mark.usefixtures("restore_logging")
def test_any_logger_reaching_the_root_handlers_is_scrubbed() -> None:
    root = logging.getLogger()
    output = capture(root)
    configure_logging("INFO")

    logging.getLogger("some.library").warning(
        "Fetching %s failed", "https://hs.example.org/_matrix/client/v3/sync?access_token=syt_abc"
    )
    logging.getLogger("some.library").warning("GET /hook?key=k3y failed")

    shown = output.getvalue()
    assert "syt_abc" not in shown
    assert "k3y" not in shown
    assert "Fetching https://hs.example.org/_matrix/client/v3/sync?access_token=REDACTED" in shown


@pytest.mark.usefixtures("restore_logging")
def test_the_log_level_is_applied_and_httpx_request_lines_are_kept_quiet() -> None:
    configure_logging("DEBUG")

    assert logging.getLogger().level == logging.DEBUG
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
