"""Tests for the submission model."""

from knock.core.forms import Field, PayloadError, Submission


def test_field_values_lists_fields_by_key_and_by_distinct_label() -> None:
    submission = Submission(
        "tally",
        "s1",
        (
            Field("Matrix ID", "question_1", None, "@a:example.org"),
            Field("honeypot", "question_2", None, "filled by a bot", hidden=True),
            Field(None, "website", None, ""),
        ),
    )
    assert submission.field_values() == {
        "question_1": "@a:example.org",
        "Matrix ID": "@a:example.org",
        "question_2": "filled by a bot",
        "honeypot": "filled by a bot",
        "website": "",
    }


def test_field_values_keeps_the_first_field_when_a_name_repeats() -> None:
    submission = Submission(
        "html", None, (Field(None, "a", None, "first"), Field("a", None, None, "second"))
    )
    assert submission.field_values() == {"a": "first"}


def test_field_names_skip_missing_ones() -> None:
    assert Field(None, "q1", "matrix_id", "x").names() == ("q1", "matrix_id")


def test_payload_error_carries_status_and_message() -> None:
    error = PayloadError(422, "Send a matrix_id.")
    assert (error.status, error.message, str(error)) == (
        422,
        "Send a matrix_id.",
        "Send a matrix_id.",
    )
