"""Stored answers as moderators read them: each question once."""

from __future__ import annotations

from knock.core.answers import questions


def test_a_fields_key_and_label_are_shown_once_by_the_label() -> None:
    stored = {
        "question_Pz0a1b": "Alice",
        "Your name": "Alice",
        "matrix_id": "@alice:example.org",
        "Matrix ID": "@alice:example.org",
        "honeypot": "",
        "agree": "yes",
        "adult": "yes",
        "q3": "yes",
        "Why do you want to join?": "yes",
    }

    assert questions(stored) == (
        ("Your name", "Alice"),
        ("Matrix ID", "@alice:example.org"),
        ("agree", "yes"),
        ("adult", "yes"),
        ("Why do you want to join?", "yes"),
    )


def test_two_questions_with_the_same_answer_are_both_kept() -> None:
    stored = {"Do you read?": "yes", "Do you write?": "yes"}

    assert questions(stored) == (("Do you read?", "yes"), ("Do you write?", "yes"))
