"""Tests for plain HTML form posts."""

import pytest

from knock.core.forms import PayloadError, find_matrix_id, parse_delivery

from .samples import MULTIPART, URLENCODED, is_valid, multipart_body, sample


def test_sample_gives_html_submission_without_dedupe_key() -> None:
    submission = parse_delivery(sample("html-form.urlencoded"), URLENCODED, {})
    assert (submission.platform, submission.submission_id) == ("html", None)
    assert find_matrix_id(submission, None, is_valid) == "@grace:example.org"
    assert submission.field_values()["website"] == ""


def test_repeated_names_are_joined() -> None:
    submission = parse_delivery(b"topic=bots&topic=&topic=bridges", URLENCODED, {})
    assert submission.field_values() == {"topic": "bots, bridges"}


def test_multipart_form_without_raw_request_is_an_html_form() -> None:
    body = multipart_body([("matrix_id", "@grace:example.org"), ("website", "")])
    submission = parse_delivery(body, MULTIPART, {})
    assert submission.platform == "html"
    assert find_matrix_id(submission, None, is_valid) == "@grace:example.org"


def test_empty_form_is_unusable() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(b"", URLENCODED, {})
    assert caught.value.status == 422


@pytest.mark.parametrize("body", [b"matrix_id=%ff%fe", b"matrix_id=\xff"])
def test_text_that_is_not_utf8_is_malformed(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, URLENCODED, {})
    assert caught.value.status == 400
