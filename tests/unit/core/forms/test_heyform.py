"""Tests for HeyForm deliveries."""

from knock.core.forms import find_matrix_id, parse_delivery

from .samples import JSON, is_valid, json_body, sample, sample_json


def test_sample_gives_heyform_id_and_matrix_id() -> None:
    submission = parse_delivery(sample("heyform.json"), JSON, {})
    assert (submission.platform, submission.submission_id) == (
        "heyform",
        "6741a9c2e4b0a1f3c2d1e0ff",
    )
    assert find_matrix_id(submission, None, is_valid) == "@dave:tchncs.de"


def test_hidden_fields_are_hidden_and_named() -> None:
    submission = parse_delivery(sample("heyform.json"), JSON, {})
    hidden = [field for field in submission.fields if field.hidden]
    assert [(field.label, field.key) for field in hidden] == [("honeypot", "hp01")]
    assert submission.field_values()["honeypot"] == ""


def test_choice_ids_resolve_to_labels_from_the_form_fields() -> None:
    payload = sample_json("heyform.json")
    choices = [{"id": "c1", "label": "Friends"}, {"id": "c2", "label": "Search"}]
    payload["fields"].append(
        {"id": "Q2", "title": "Where from?", "properties": {"choices": choices}}
    )
    payload["answers"].append({"id": "Q2", "title": "Where from?", "value": {"value": ["c2"]}})
    values = parse_delivery(json_body(payload), JSON, {}).field_values()
    assert values["Where from?"] == "Search"
