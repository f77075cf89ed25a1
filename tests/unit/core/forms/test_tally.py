"""Tests for Tally deliveries."""

from typing import Any

import pytest

from knock.core.forms import PayloadError, Submission, find_matrix_id, parse_delivery

from .samples import JSON, is_valid, json_body, sample, sample_json


def _parse(payload: dict[str, Any]) -> Submission:
    return parse_delivery(json_body(payload), JSON, {})


def test_sample_gives_tally_submission_id_and_matrix_id() -> None:
    submission = parse_delivery(sample("tally.json"), JSON, {})
    assert (submission.platform, submission.submission_id) == ("tally", "vNq8Ka")
    assert submission.final
    assert find_matrix_id(submission, None, is_valid) == "@alice:example.org"


def test_choice_answer_shows_the_option_text_not_its_id() -> None:
    values = parse_delivery(sample("tally.json"), JSON, {}).field_values()
    assert values["How did you hear about us?"] == "A friend"


def test_several_choices_resolve_and_unknown_ids_stay() -> None:
    payload = sample_json("tally.json")
    payload["data"]["fields"][2]["value"] = [
        "0b6e9f1c-2222-4a2b-9c3d-bbbbbbbbbbbb",
        "0b6e9f1c-1111-4a2b-9c3d-aaaaaaaaaaaa",
        "not-an-option",
    ]
    assert _parse(payload).field_values()["question_Rk5e6f"] == "Search, A friend, not-an-option"


def test_hidden_fields_are_marked_hidden() -> None:
    fields = parse_delivery(sample("tally.json"), JSON, {}).fields
    assert [field.label for field in fields if field.hidden] == ["honeypot"]


def test_other_event_types_are_acknowledged_but_not_final() -> None:
    payload = sample_json("tally.json")
    payload["eventType"] = "FORM_DELETED"
    submission = parse_delivery(json_body(payload), JSON, {"tally-signature": "x"})
    assert submission.platform == "tally"
    assert not submission.final


def test_event_id_is_the_dedupe_key_when_submission_id_is_missing() -> None:
    payload = sample_json("tally.json")
    del payload["data"]["submissionId"]
    assert _parse(payload).submission_id == "5f1c2a9e-7b1d-4c47-9a35-0d2d8c6f1e01"


def test_form_response_without_fields_is_unusable() -> None:
    payload = {"eventType": "FORM_RESPONSE", "data": {"submissionId": "x"}}
    with pytest.raises(PayloadError) as caught:
        _parse(payload)
    assert caught.value.status == 422
