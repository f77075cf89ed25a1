"""The console's knocks page reading its filter form, and durations said in words."""

from __future__ import annotations

from datetime import UTC, datetime

from knock.core.lifecycle import State
from knock.web.console.knocks import FILTERS, how_long, read_filter


def given(**values: str) -> dict[str, str]:
    return {name: values.get(name, "") for name in FILTERS}


def test_an_empty_form_filters_nothing() -> None:
    wanted, problems = read_filter(given())

    assert problems == {}
    assert (wanted.state, wanted.reason, wanted.source, wanted.text) == (None, None, None, None)
    assert (wanted.since, wanted.until) == (None, None)


def test_days_are_whole_days_in_utc() -> None:
    wanted, problems = read_filter(
        given(**{"from": "2025-03-01", "to": "2025-03-02", "state": "invited", "q": "ali"})
    )

    assert problems == {}
    assert wanted.since == datetime(2025, 3, 1, tzinfo=UTC).timestamp()
    assert wanted.until == datetime(2025, 3, 3, tzinfo=UTC).timestamp()  # the 2nd, all of it
    assert wanted.state is State.INVITED and wanted.text == "ali"


def test_what_cannot_be_read_is_named_by_field() -> None:
    _, problems = read_filter(
        given(
            **{
                "from": "2025-13-01",
                "to": "9999-12-31",
                "state": "x",
                "reason": "y",
                "q": "z" * 201,
            }
        )
    )

    assert set(problems) == {"from", "to", "state", "reason", "q"}


def test_a_last_day_before_the_first_is_a_problem() -> None:
    _, problems = read_filter(given(**{"from": "2025-03-02", "to": "2025-03-01"}))

    assert problems == {"to": "The last day is before the first."}


def test_durations_in_words() -> None:
    assert how_long(0) == "less than a minute"
    assert how_long(61) == "1 minute"
    assert how_long(2 * 86400 + 3600 + 120) == "2 days 1 hour"
    assert how_long(3 * 3600 + 5 * 60) == "3 hours 5 minutes"
