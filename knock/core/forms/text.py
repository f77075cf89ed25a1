"""Refusing submissions whose text the store could not hold.

JSON's ``\\ud800`` escapes decode to unpaired surrogates, which no UTF-8 encoder accepts, and
PostgreSQL's text cannot hold U+0000 (SQLite's can; both answer alike here). Every string a
submission carries may be stored (the Matrix ID as typed, the dedupe key, the answers and their
names), so each one is checked once, whatever the platform and however the body was decoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .model import Field, PayloadError, Submission

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = (
    "holds text that is not valid Unicode (an unpaired surrogate, such as the JSON escape "
    "\\ud800 alone); send valid UTF-8 text."
)
_NUL = "holds a NUL character (\\u0000), which Knock cannot store; leave it out."
# Long enough to recognise a question by, short enough for an error message.
_MAX_NAME = 80


def require_storable(submission: Submission) -> Submission:
    """Return the submission when all its text can be stored; raise PayloadError(400) if not."""
    if _UNSTORABLE.search("".join(_all_text(submission))) is None:
        return submission  # nearly always: one search, no words for where
    for where, text in _texts(submission):
        found = _UNSTORABLE.search(text)
        if found is not None:
            problem = _NUL if found.group() == "\x00" else _SURROGATE
            raise PayloadError(400, f"{where} {problem}")
    return submission


def _all_text(submission: Submission) -> Iterator[str]:
    """Yield every string of the submission."""
    if submission.submission_id is not None:
        yield submission.submission_id
    for field in submission.fields:
        yield from field.names()
        yield field.value


def _texts(submission: Submission) -> Iterator[tuple[str, str]]:
    """Yield every string of the submission with words saying where it was."""
    if submission.submission_id is not None:
        yield "The submission id", submission.submission_id
    for field in submission.fields:
        for name in field.names():
            yield "A question's name", name
        yield _answer_to(field), field.value


def _answer_to(field: Field) -> str:
    """Name the answer of a field in words a person can find it by, when its name is usable."""
    names = [name for name in field.names() if name.strip() and not _UNSTORABLE.search(name)]
    if not names:
        return "An answer"
    name = names[0] if len(names[0]) <= _MAX_NAME else names[0][: _MAX_NAME - 1] + "…"
    return f'The answer to "{name}"'
