"""Tests for Formbricks deliveries."""

import pytest

from knock.core.forms import PayloadError, find_matrix_id, parse_delivery

from .samples import JSON, is_valid, json_body, sample, sample_json, signatures


def _headers() -> dict[str, str]:
    headers: dict[str, str] = signatures()["formbricks.json"]["headers"]
    return headers


def test_sample_with_headers_is_deduplicated_by_webhook_id() -> None:
    submission = parse_delivery(sample("formbricks.json"), JSON, _headers())
    assert (submission.platform, submission.submission_id) == ("formbricks", "msg_fixture_0001")
    assert submission.final
    assert find_matrix_id(submission, None, is_valid) == "@carol:beeper.com"


def test_without_webhook_id_the_response_id_is_the_dedupe_key() -> None:
    submission = parse_delivery(sample("formbricks.json"), JSON, {})
    assert (submission.platform, submission.submission_id) == (
        "formbricks",
        "clx9w3c4d0001abcd5678ijkl",
    )


def test_answers_and_hidden_values_are_plain_fields() -> None:
    fields = parse_delivery(sample("formbricks.json"), JSON, {}).fields
    assert [(field.key, field.hidden) for field in fields] == [
        ("matrixid", False),
        ("website", False),
    ]


@pytest.mark.parametrize("event", ["responseCreated", "responseUpdated"])
def test_unfinished_responses_are_acknowledged_but_not_final(event: str) -> None:
    payload = sample_json("formbricks.json")
    payload["event"] = event
    assert not parse_delivery(json_body(payload), JSON, _headers()).final


def test_endpoint_test_without_data_is_acknowledged() -> None:
    submission = parse_delivery(b'{"event": "testEndpoint"}', JSON, {})
    assert (submission.platform, submission.final) == ("formbricks", False)


def test_finished_response_without_answers_is_unusable() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(b'{"event": "responseFinished", "data": {}}', JSON, _headers())
    assert caught.value.status == 422
