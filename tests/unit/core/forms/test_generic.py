"""Tests for generic JSON deliveries from scripts."""

import pytest

from knock.core.forms import PayloadError, find_matrix_id, parse_delivery

from .samples import JSON, is_valid, sample


def test_sample_gives_generic_submission_id_and_matrix_id() -> None:
    submission = parse_delivery(sample("generic.json"), JSON, {})
    assert (submission.platform, submission.submission_id) == ("generic", "gen-0001")
    assert find_matrix_id(submission, None, is_valid) == "@frank:example.org"


def test_user_id_is_read_as_the_matrix_id() -> None:
    submission = parse_delivery(b'{"name": "Frank", "user_id": "@frank:example.org"}', JSON, {})
    assert find_matrix_id(submission, None, is_valid) == "@frank:example.org"
    assert submission.submission_id is None


def test_unknown_object_keeps_its_scalar_values_only() -> None:
    body = b'{"Matrix handle": "@x:example.org", "age": 30, "ok": true, "tags": ["a"], "n": {}}'
    submission = parse_delivery(body, JSON, {})
    assert submission.platform == "generic"
    assert submission.field_values() == {
        "Matrix handle": "@x:example.org",
        "age": "30",
        "ok": "true",
    }


def test_object_without_scalar_values_tells_the_caller_what_to_send() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(b'{"data": {"matrix_id": "@x:example.org"}}', JSON, {})
    assert caught.value.status == 422
    assert "matrix_id" in caught.value.message
