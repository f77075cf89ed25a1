"""Tests for finding the Matrix ID among a submission's fields."""

import pytest

from knock.core.forms import Field, Submission, find_matrix_id, parse_delivery

from .samples import JSON, is_valid, sample


def _form(*fields: Field, platform: str = "tally") -> Submission:
    return Submission(platform, "s1", fields)


@pytest.mark.parametrize("setting", ["What is your Matrix ID?", "aB1cD2eF3gH4", "matrix_id"])
def test_setting_names_the_field_by_label_key_or_ref(setting: str) -> None:
    submission = parse_delivery(sample("typeform.json"), JSON, {})
    assert find_matrix_id(submission, setting, is_valid) == "@bob:matrix.org"


def test_setting_ignores_case_and_surrounding_whitespace() -> None:
    submission = parse_delivery(sample("tally.json"), JSON, {})
    assert find_matrix_id(submission, "  matrix id ", is_valid) == "@alice:example.org"


def test_setting_picks_its_field_over_one_named_matrix() -> None:
    submission = _form(
        Field("Matrix ID", "q1", None, "@wrong:example.org"),
        Field("Handle", "q2", None, "  @Right:Example.org "),
    )
    assert find_matrix_id(submission, "handle", is_valid) == "  @Right:Example.org "


def test_setting_that_names_no_field_finds_nothing() -> None:
    submission = parse_delivery(sample("tally.json"), JSON, {})
    assert find_matrix_id(submission, "Element handle", is_valid) is None


def test_blank_setting_counts_as_unset() -> None:
    submission = parse_delivery(sample("tally.json"), JSON, {})
    assert find_matrix_id(submission, "  ", is_valid) == "@alice:example.org"


@pytest.mark.parametrize("name", ["matrixid", "q3_matrixId", "Your MXID", "Beeper username"])
def test_names_mentioning_matrix_are_found_and_value_returned_as_typed(name: str) -> None:
    submission = _form(Field("Name", "q1", None, "Ada"), Field(name, "q2", None, "ada:example.org"))
    assert find_matrix_id(submission, None, is_valid) == "ada:example.org"


def test_a_valid_id_wins_over_a_yes_no_question_about_matrix() -> None:
    submission = _form(
        Field("Do you use Matrix already?", "q1", None, "Yes"),
        Field("Matrix ID", "q2", None, "@ada:example.org"),
    )
    assert find_matrix_id(submission, None, is_valid) == "@ada:example.org"


def test_hidden_fields_named_matrix_are_passed_over_for_a_visible_one() -> None:
    submission = _form(
        Field(None, "matrix_id", None, "@utm:example.org", hidden=True),
        Field("Matrix ID", "q1", None, "ada:example.org"),
    )
    assert find_matrix_id(submission, None, is_valid) == "ada:example.org"


def test_an_empty_field_named_matrix_is_passed_over() -> None:
    submission = _form(
        Field("Matrix ID", "q1", None, "   "),
        Field("Contact", "q2", None, "@ada:example.org"),
    )
    assert find_matrix_id(submission, None, is_valid) == "@ada:example.org"


def test_value_fallback_finds_an_id_when_no_label_mentions_matrix() -> None:
    submission = _form(
        Field("Your name", "q1", None, "Ada"),
        Field("How can we reach you?", "q2", None, " @ada:example.org"),
    )
    assert find_matrix_id(submission, None, is_valid) == " @ada:example.org"


def test_form_without_an_id_gives_none_not_the_first_answer() -> None:
    submission = _form(Field("Your name", "q1", None, "Ada"), Field("Why?", "q2", None, "Bridges"))
    assert find_matrix_id(submission, None, is_valid) is None


def test_user_id_key_counts_for_scripts_and_html_forms_only() -> None:
    direct = _form(Field(None, "user_id", None, "ada"), platform="generic")
    platform = _form(Field(None, "user_id", None, "ada"), platform="fillout")
    assert find_matrix_id(direct, None, is_valid) == "ada"
    assert find_matrix_id(platform, None, is_valid) is None
