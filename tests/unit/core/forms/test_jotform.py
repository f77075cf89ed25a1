"""Tests for Jotform deliveries (multipart/form-data)."""

import pytest

from knock.core.forms import PayloadError, Submission, find_matrix_id, parse_delivery

from .samples import BOUNDARY, MULTIPART, is_valid, jotform_parts, multipart_body


def _parse(parts: list[tuple[str, str]]) -> Submission:
    return parse_delivery(multipart_body(parts), MULTIPART, {})


def test_sample_parts_give_jotform_submission_id_and_matrix_id() -> None:
    submission = _parse(jotform_parts())
    assert (submission.platform, submission.submission_id) == ("jotform", "5912345678901234567")
    assert submission.final
    assert find_matrix_id(submission, None, is_valid) == "@heidi:example.org"


def test_answers_are_labelled_by_the_name_after_the_question_number() -> None:
    first = _parse(jotform_parts()).fields[0]
    assert (first.label, first.key, first.value) == (
        "matrixId",
        "q3_matrixId",
        "@heidi:example.org",
    )


def test_pretty_stays_whole_and_bookkeeping_keys_are_not_answers() -> None:
    values = _parse(jotform_parts()).field_values()
    assert values["pretty"] == "Matrix ID:@heidi:example.org"
    assert values["q4_website"] == ""
    assert "slug" not in values and "event_id" not in values


def test_name_answers_render_as_text() -> None:
    parts = [
        (name, '{"q5_name": {"first": "Heidi", "last": "Klum"}}' if name == "rawRequest" else value)
        for name, value in jotform_parts()
    ]
    assert _parse(parts).field_values()["name"] == "Heidi, Klum"


def test_uploaded_files_are_skipped() -> None:
    upload = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n\x89PNG\r\n"
    ).encode("latin-1")
    body = upload + multipart_body(jotform_parts())
    submission = parse_delivery(body, MULTIPART, {})
    assert "photo" not in submission.field_values()
    assert submission.platform == "jotform"


def test_raw_request_that_is_not_json_is_malformed() -> None:
    parts = [("submissionID", "1"), ("rawRequest", "{not json")]
    with pytest.raises(PayloadError) as caught:
        _parse(parts)
    assert caught.value.status == 400


def test_truncated_body_is_malformed() -> None:
    body = multipart_body(jotform_parts())
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body[:-30], MULTIPART, {})
    assert caught.value.status == 400


def test_missing_boundary_is_malformed() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(multipart_body(jotform_parts()), "multipart/form-data", {})
    assert caught.value.status == 400
    assert "boundary" in caught.value.message


def test_raw_request_nested_too_deep_for_json_is_malformed() -> None:
    parts = [("submissionID", "1"), ("rawRequest", "[" * 100_000)]
    with pytest.raises(PayloadError) as caught:
        _parse(parts)
    assert caught.value.status == 400
