"""The answers a knock keeps: each question once, by the name moderators read."""

from __future__ import annotations

import json

from knock.core.forms import Field, Submission
from knock.services.invites.intake import MAX_QUESTION, MAX_STORED_ANSWERS, stored_answers


def submission(*fields: Field) -> Submission:
    return Submission("tally", "s1", fields)


def test_a_field_with_a_label_and_a_key_is_one_answer_by_its_label() -> None:
    answers = submission(
        Field("Matrix ID", "question_abc", "ref-1", "@alice:example.org"),
        Field("Why do you want to join?", "question_def", None, "Books"),
        Field(None, "utm_source", None, "newsletter", hidden=True),
        Field(None, None, "only-a-ref", "yes"),
    ).answers()

    assert answers == {
        "Matrix ID": "@alice:example.org",
        "Why do you want to join?": "Books",
        "utm_source": "newsletter",
        "only-a-ref": "yes",
    }


def test_a_label_taken_already_falls_back_to_the_key_and_the_first_answer_wins() -> None:
    answers = submission(
        Field("Other", "q1", None, "first"),
        Field("Other", "q2", None, "second"),
        Field("Other", "q2", None, "third"),  # every name taken
    ).answers()

    assert answers == {"Other": "first", "q2": "second"}


def test_an_empty_hidden_field_answers_nothing_but_an_empty_question_shows() -> None:
    answers = submission(
        Field("Who sent you?", None, None, ""),
        Field(None, "website", None, "", hidden=True),  # an unused honeypot
    ).answers()

    assert answers == {"Who sent you?": ""}


def test_stored_answers_are_always_whole_json_within_their_limit() -> None:
    many = {f"Question {n}": "x" * 5000 for n in range(20)}

    stored = stored_answers(many)

    assert len(stored) <= MAX_STORED_ANSWERS
    kept = json.loads(stored)
    assert list(kept) == [f"Question {n}" for n in range(len(kept))] and len(kept) >= 4
    assert all(len(answer) == 4000 for answer in kept.values())
    assert json.loads(stored_answers({"é\n": '"quoted"'})) == {"é\n": '"quoted"'}


def test_answers_that_just_fit_are_all_kept_and_one_character_more_drops_the_last() -> None:
    def answers(last: int) -> dict[str, str]:
        return {"a": "x" * 3990, **{f"q{n}": "y" * 3990 for n in range(3)}, "last": "z" * last}

    # The object's size with the last answer at `fits` characters is the limit less ", ".
    whole = len(json.dumps(answers(0)))
    fits = MAX_STORED_ANSWERS - len(", ") - whole

    assert list(json.loads(stored_answers(answers(fits)))) == ["a", "q0", "q1", "q2", "last"]
    assert list(json.loads(stored_answers(answers(fits + 1)))) == ["a", "q0", "q1", "q2"]
    # Questions the same in their first MAX_QUESTION characters: the first one's answer stays.
    long = "Q" * MAX_QUESTION
    assert json.loads(stored_answers({long + "1": "first", long + "2": "second"})) == {
        long: "first"
    }
