"""Tests for rendering answers as text."""

import pytest

from knock.core.forms.values import as_id, text_of


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("@a:example.org", "@a:example.org"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.5, "2.5"),
        (["A friend", "Search"], "A friend, Search"),
        (["A", "", None, "B"], "A, B"),
        ({"label": "Blue"}, "Blue"),
        ({"labels": ["Red", "Blue"], "ids": ["x", "y"], "other": "Teal"}, "Red, Blue, Teal"),
        ({"first": "Ada", "last": "Lovelace"}, "Ada, Lovelace"),
    ],
)
def test_text_of_renders_answers_as_a_person_reads_them(value: object, text: str) -> None:
    assert text_of(value) == text


def test_text_of_drops_values_nested_beyond_any_real_answer() -> None:
    deep: object = "@a:example.org"
    for _ in range(5000):
        deep = [deep]
    assert text_of(deep) == ""
    assert text_of([["x"]]) == "x"


@pytest.mark.parametrize(
    ("value", "expected"), [("abc", "abc"), (17, "17"), ("  ", None), (True, None), (1.5, None)]
)
def test_as_id_accepts_only_strings_and_integers(value: object, expected: str | None) -> None:
    assert as_id(value) == expected
