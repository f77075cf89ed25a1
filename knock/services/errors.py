"""What can go wrong in a service that a caller should hear about, in the services' own words.

The web layer and the CLI know these, never the store's or the Matrix client's exceptions:
`problem_of` says what any exception means to a caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from knock.matrix.client import HomeserverUnavailable, MatrixError
from knock.store import DATABASE_BUSY, UNAVAILABLE


class Unavailable(Exception):
    """The database or the homeserver cannot be reached right now; retry later, nothing is lost."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"the {what} is unavailable" + (f": {detail}" if detail else ""))
        self.what = what  # "database" or "homeserver"


@dataclass(frozen=True)
class Problem:
    """What to tell a caller about a failure: an HTTP status, a sentence, a wait."""

    status: int
    message: str
    retry_after: int | None = None
    what: str | None = None  # "database" or "homeserver" when something is down


_DATABASE_DOWN = Problem(503, "The database is not answering; try again shortly", 30, "database")
_HOMESERVER_DOWN = Problem(
    503, "The homeserver cannot be reached; try again shortly", 30, "homeserver"
)


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """The store's exceptions that mean "busy or unreachable now" rather than a bug."""
    return UNAVAILABLE


def caller_facing_errors() -> tuple[type[Exception], ...]:
    """The exceptions `problem_of` turns into an answer for a caller (for an app's handlers)."""
    return (Unavailable, MatrixError, *DATABASE_BUSY)


def problem_of(exc: BaseException) -> Problem | None:
    """Say what a failure means to a caller; None for a defect (a bug, not a condition)."""
    if isinstance(exc, Unavailable):
        return _DATABASE_DOWN if exc.what == "database" else _HOMESERVER_DOWN
    if isinstance(exc, HomeserverUnavailable):
        return _HOMESERVER_DOWN
    if isinstance(exc, MatrixError):
        return Problem(502, f"The homeserver refused: {exc.errcode} {exc.error}")
    if isinstance(exc, DATABASE_BUSY):
        return _DATABASE_DOWN
    return None
