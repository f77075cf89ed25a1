"""Tests for Fillout deliveries."""

from knock.core.forms import find_matrix_id, parse_delivery

from .samples import JSON, is_valid, json_body, sample, sample_json


def test_sample_gives_fillout_submission_id_and_matrix_id() -> None:
    submission = parse_delivery(sample("fillout.json"), JSON, {})
    assert (submission.platform, submission.submission_id) == (
        "fillout",
        "a1b2c3d4-e5f6-4789-8abc-def012345678",
    )
    assert find_matrix_id(submission, None, is_valid) == "@erin:envs.net"


def test_url_parameters_are_hidden_fields() -> None:
    fields = parse_delivery(sample("fillout.json"), JSON, {}).fields
    assert [field.key for field in fields if field.hidden] == ["honeypot"]


def test_checkbox_lists_are_joined() -> None:
    payload = sample_json("fillout.json")
    payload["questions"][1]["value"] = ["Bridges", "Bots"]
    values = parse_delivery(json_body(payload), JSON, {}).field_values()
    assert values["Why do you want to join?"] == "Bridges, Bots"
