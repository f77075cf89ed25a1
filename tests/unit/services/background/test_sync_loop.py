"""Which failures while handling one /sync event are outages (the batch is retried whole) and
which are the event's alone (it is logged and skipped)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from knock.matrix.client import HomeserverUnavailable, MatrixError, RateLimited
from knock.services.background.sync_loop import is_outage
from knock.services.errors import Unavailable
from knock.services.moderation.actions import NoSuchKnock


@pytest.mark.parametrize(
    "failure",
    [
        HomeserverUnavailable(503, "M_UNAVAILABLE", "homeserver unreachable"),
        RateLimited(600),
        MatrixError(500, "M_UNKNOWN", "Internal server error"),
        MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token"),
        OperationalError("UPDATE knocks", {}, sqlite3.OperationalError("database is locked")),
        ConnectionRefusedError(111, "Connect call failed"),  # PostgreSQL cannot be reached
        Unavailable("database", "locked"),  # a native knock's intake, with the database down
    ],
    ids=repr,
)
def test_outages_stop_the_batch(failure: Exception) -> None:
    assert is_outage(failure)


@pytest.mark.parametrize(
    "failure",
    [
        MatrixError(403, "M_FORBIDDEN", "You don't have permission"),
        MatrixError(404, "M_NOT_FOUND", "Unknown room"),
        NoSuchKnock("erased"),
        AttributeError("'str' object has no attribute 'get'"),
    ],
    ids=repr,
)
def test_what_would_fail_again_on_every_retry_is_the_events_alone(failure: Exception) -> None:
    assert not is_outage(failure)
