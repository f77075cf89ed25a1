"""Logging for Knock and uvicorn alike, in one `dictConfig`, with secrets kept out.

`logging_config` builds the one set-up: one formatter (`LOG_FORMAT`: text, or one JSON object a
line), one stderr handler that scrubs secret query parameters (`?token=...`), status-link tokens
(`/knock/<token>`) and sign-in links (`/console/link/<token>`) and marks each line with the knock,
job and door being handled (`knock.log_context`), and the loggers of Knock, uvicorn and httpx
sending their lines there, each line once. `knock serve` hands it to uvicorn (`log_config=`); the
app factory applies it again, so `uvicorn mknock:app` (where uvicorn has already set up its own)
ends up the same.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from knock import log_context
from knock.config import Settings

LogFormat = Literal["text", "json"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Query parameters whose values are secrets, by the name the server decodes (`%74oken` is
# `token` to Starlette, so it is to the logs too), in any case.
_SECRET_KEYS = frozenset(
    {"token", "access_token", "api_key", "key", "secret", "code", "signature", "password"}
)
# One `name=value` pair of a query string, as it appears raw in a logged URL.
_QUERY_PAIR = re.compile(r"([?&])([^=&?#\s]*)=([^&\s]*)")

# Loggers whose records carry request paths or URLs: scrubbed at the logger as well as at the
# handler, so that a handler someone adds to them later (a log shipper, pytest's capture) gets
# clean records too.
_SCRUBBED_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")


# A knock page's status link: its token is a secret although it is in the path.
_STATUS_LINK = re.compile(r"(/knock/)(?!assets/|challenge(?=[?#\s\"]|$))[^/?#\s\"]+")


# A console sign-in link: its token signs a moderator in.
_SIGN_IN_LINK = re.compile(r"(/console/link/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """Replace secrets in logged URLs with `REDACTED`: query parameters (names read decoded),
    the token of a knock page's status link and that of a console sign-in link."""
    if "=" not in text and "/knock/" not in text and "/console/link/" not in text:
        return text  # none of the patterns can match (most lines: every access line's pieces)
    text = _STATUS_LINK.sub(r"\1REDACTED", _QUERY_PAIR.sub(_redact_pair, text))
    return _SIGN_IN_LINK.sub(r"\1REDACTED", text)


def _redact_pair(pair: re.Match[str]) -> str:
    separator, name, _ = pair.groups()
    if unquote_plus(name).strip().lower() in _SECRET_KEYS:
        return f"{separator}{name}=REDACTED"
    return pair.group(0)


class RedactQuerySecrets(logging.Filter):
    """Scrub secret query parameters from every record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


class MarkContext(logging.Filter):
    """Copy what is being handled (knock, job, door) onto every record, as attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the fields that are set; never drop the record."""
        for name, value in log_context.current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextLines(logging.Formatter):
    """`time level logger: message`, then any traceback; the whole of it scrubbed, so that
    an exception passed as an argument or a traceback shows no secret either."""

    _second: tuple[int, str] = (-1, "")  # the last second formatted, and how it reads

    def format(self, record: logging.LogRecord) -> str:
        """The record as `FORMAT` says, secrets replaced."""
        return redact(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The time as logging's default writes it (`2026-12-06 08:01:02,345`), the part up to
        the second formatted once a second (each access line asks)."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        known = self._second
        if known[0] != second:
            known = self._second = (
                second,
                time.strftime(self.default_time_format, self.converter(record.created)),
            )
        return f"{known[1]},{int(record.msecs):03d}"  # logging's default_msec_format


class JsonLines(logging.Formatter):
    """One JSON object a line: `time` (RFC 3339, UTC), `level`, `logger`, `message`, then
    `knock_id`, `job` and `door` when set, and `exception` (its traceback) when there is one.

    The message and the traceback are scrubbed as the text lines are; newlines in them are
    escaped, so the object stays on its line.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, object] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in log_context.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        exception = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if exception:
            line["exception"] = redact(exception)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        # ASCII only: a U+2028 in a message is a line break to some readers.
        return json.dumps(line, ensure_ascii=True, default=str)


def _rfc3339(created: float) -> str:
    """`2026-12-06T05:01:02.123Z`: the time in UTC to the millisecond."""
    moment = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return moment.removesuffix("+00:00") + "Z"


_FORMATTERS: dict[str, dict[str, Any]] = {
    "text": {"()": f"{__name__}.TextLines", "fmt": FORMAT},
    "json": {"()": f"{__name__}.JsonLines"},
}


def logging_config(
    settings_or_level: Settings | str, log_format: LogFormat | None = None
) -> dict[str, Any]:
    """The `logging.config.dictConfig` set-up for `LOG_LEVEL` and `LOG_FORMAT` (plain data: it
    pickles and dumps); `log_format` overrides the settings' (text when given a level alone).

    Every line goes through the root logger's one handler: uvicorn's loggers keep no handler of
    their own and propagate, so nothing is printed twice. The level is Knock's and uvicorn's;
    every other library is kept to warnings: httpx logs every request URL at INFO, which drowns
    Knock's own lines, and at DEBUG aiosqlite logs each query with its parameters (the bot's
    access token among them).
    """
    if isinstance(settings_or_level, str):
        level, chosen = settings_or_level, log_format or "text"
    else:
        level, chosen = settings_or_level.log_level, log_format or settings_or_level.log_format
    quiet = logging.getLevelName(max(logging.WARNING, logging.getLevelName(level)))
    loggers: dict[str, dict[str, Any]] = {
        "knock": {"level": level},
        "uvicorn": {"level": level},
        "uvicorn.error": {"level": level, "filters": ["redact"]},
        "uvicorn.access": {"level": level, "filters": ["redact"]},
        "httpx": {"level": quiet, "filters": ["redact"]},
        "httpcore": {"level": quiet},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": f"{__name__}.RedactQuerySecrets"},
            "context": {"()": f"{__name__}.MarkContext"},
        },
        "formatters": {chosen: dict(_FORMATTERS[chosen])},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": chosen,
                "filters": ["redact", "context"],
            }
        },
        "root": {"level": quiet, "handlers": ["stderr"]},
        "loggers": {
            name: {"handlers": [], "propagate": True, **own} for name, own in loggers.items()
        },
    }


def configure_logging(
    settings_or_level: Settings | str, log_format: LogFormat | None = None
) -> None:
    """Apply `logging_config`: log to stderr at the level, in the format, secrets scrubbed."""
    # Neither format shows a record's thread or process: leave them unread (a record is made
    # for every request's access line).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # dictConfig adds a logger's filters to those it has: drop ours first, so that applying the
    # set-up twice (uvicorn, then the app factory) leaves one of each.
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactQuerySecrets)]:
            logger.removeFilter(old)
    logging.config.dictConfig(logging_config(settings_or_level, log_format))
