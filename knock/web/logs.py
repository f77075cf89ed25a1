"""Logging set-up that keeps secrets out: query-string tokens are redacted from access logs."""

from __future__ import annotations

import logging
import re

_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:token|access_token|api_key|key|secret|code|signature)=)[^&\s]*"
)


def redact(text: str) -> str:
    """Replace the values of secret-looking query parameters with `REDACTED`."""
    return _SECRET_QUERY.sub(r"\1REDACTED", text)


class RedactQuerySecrets(logging.Filter):
    """Scrub secret query parameters from every record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, with secret query parameters scrubbed everywhere."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    scrub = RedactQuerySecrets()
    for handler in root.handlers:
        if not any(isinstance(f, RedactQuerySecrets) for f in handler.filters):
            handler.addFilter(scrub)
    for name in ("uvicorn.access", "uvicorn.error", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
            logger.addFilter(scrub)
    # httpx logs every request URL at INFO; the homeserver URLs carry nothing secret, but the
    # noise drowns Knock's own lines.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
