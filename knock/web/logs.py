"""Logging for Knock and uvicorn alike, in one `dictConfig`, with secrets kept out.

`logging_config` builds the one set-up: one formatter, one stderr handler that scrubs secret
query parameters (`?token=...`), status-link tokens (`/knock/<token>`) and sign-in links
(`/console/link/<token>`), and the loggers of Knock, uvicorn and httpx sending their lines there,
each line once. `knock serve` hands it to
uvicorn (`log_config=`); the app factory applies it again, so `uvicorn mknock:app` (where uvicorn
has already set up its own) ends up the same.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any
from urllib.parse import unquote_plus

from knock.config import Settings

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


def logging_config(settings_or_level: Settings | str) -> dict[str, Any]:
    """The `logging.config.dictConfig` set-up for `LOG_LEVEL` (plain data: it pickles and dumps).

    Every line goes through the root logger's one handler: uvicorn's loggers keep no handler of
    their own and propagate, so nothing is printed twice. httpx logs every request URL at INFO,
    which drowns Knock's own lines; it and httpcore are kept to warnings.
    """
    level = settings_or_level if isinstance(settings_or_level, str) else settings_or_level.log_level
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
        "filters": {"redact": {"()": f"{__name__}.RedactQuerySecrets"}},
        "formatters": {"text": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "text",
                "filters": ["redact"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"handlers": [], "propagate": True, **own} for name, own in loggers.items()
        },
    }


def configure_logging(settings_or_level: Settings | str) -> None:
    """Apply `logging_config`: log to stderr at the level, secret query parameters scrubbed."""
    # dictConfig adds a logger's filters to those it has: drop ours first, so that applying the
    # set-up twice (uvicorn, then the app factory) leaves one of each.
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactQuerySecrets)]:
            logger.removeFilter(old)
    logging.config.dictConfig(logging_config(settings_or_level))
