"""Tests for Typeform deliveries."""

from typing import Any

import pytest

from knock.core.forms import PayloadError, Submission, find_matrix_id, parse_delivery

from .samples import JSON, is_valid, json_body, sample, sample_json


def _parse(payload: dict[str, Any]) -> Submission:
    return parse_delivery(json_body(payload), JSON, {})


def test_sample_gives_typeform_token_and_matrix_id() -> None:
    submission = parse_delivery(sample("typeform.json"), JSON, {})
    assert submission.platform == "typeform"
    assert submission.submission_id == "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    assert submission.final
    assert find_matrix_id(submission, None, is_valid) == "@bob:matrix.org"


def test_answers_carry_definition_title_field_id_and_ref() -> None:
    first = parse_delivery(sample("typeform.json"), JSON, {}).fields[0]
    assert (first.label, first.key, first.ref) == (
        "What is your Matrix ID?",
        "aB1cD2eF3gH4",
        "matrix_id",
    )


def test_hidden_values_become_hidden_fields() -> None:
    fields = parse_delivery(sample("typeform.json"), JSON, {}).fields
    assert [(field.key, field.value) for field in fields if field.hidden] == [("website", "")]


def test_partial_response_is_acknowledged_but_not_final() -> None:
    payload = sample_json("typeform.json")
    payload["event_type"] = "form_response_partial"
    assert not _parse(payload).final


def test_choice_number_and_boolean_answers_read_as_text() -> None:
    payload = sample_json("typeform.json")
    payload["form_response"]["answers"] = [
        {
            "type": "choices",
            "choices": {"ids": ["a", "b"], "labels": ["Red", "Blue"]},
            "field": {"id": "c1", "type": "multiple_choice"},
        },
        {"type": "number", "number": 7, "field": {"id": "n1", "type": "number"}},
        {"type": "boolean", "boolean": True, "field": {"id": "b1", "type": "yes_no"}},
    ]
    values = _parse(payload).field_values()
    assert (values["c1"], values["n1"], values["b1"]) == ("Red, Blue", "7", "true")


def test_final_response_without_form_response_is_unusable() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(b'{"event_type": "form_response"}', JSON, {"typeform-signature": "x"})
    assert caught.value.status == 422
