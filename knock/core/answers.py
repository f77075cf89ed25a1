"""A knock's form answers as moderators read them: each question once, with its answer.

The one reading of stored answers for every place that shows them (the console, the admin API,
the moderation room). Since the knock page issue a question is stored once; answers stored
before that hold a field under its key and again under its label, and are shown once too.
"""

from __future__ import annotations

from collections.abc import Mapping


def questions(answers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The answers to show, question first: empty ones left out, a field's key and label once.

    A form's field is stored under its key and again under its label, one after the other
    (``question_Pz0a1b`` then ``Your name``, both "Alice"); the pair is shown once, by its
    label. Only a key (no spaces) followed by a label (with a space) with the same answer is
    taken for one field, so two questions with the same answer are both kept.
    """
    items = [(question, answer) for question, answer in answers.items() if answer.strip()]
    shown: list[tuple[str, str]] = []
    index = 0
    while index < len(items):
        question, answer = items[index]
        if index + 1 < len(items):
            label, same = items[index + 1]
            if same == answer and _is_key(question) and not _is_key(label):
                question, index = label, index + 1
        shown.append((question, answer))
        index += 1
    return tuple(shown)


def _is_key(name: str) -> bool:
    return not any(char.isspace() for char in name)
