"""Finding the field of a submission that holds the person's Matrix ID."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .model import Field, Submission

# Substrings of a question's label, key or ref that say it asks for a Matrix ID.
_MENTIONS = ("matrix", "mxid", "beeper")
# Scripts and HTML forms name their own fields, and are told to use these keys; user_id does
# not mention Matrix by itself.
_DIRECT_KEYS = frozenset({"matrix_id", "user_id"})
_SELF_NAMED = frozenset({"generic", "html"})


def find_matrix_id(
    submission: Submission, field_setting: str | None, is_valid: Callable[[str], bool]
) -> str | None:
    """Return the Matrix ID as the person typed it (not repaired), or None when there is none.

    With ``field_setting`` only the field named by it counts. Otherwise a field whose name
    mentions Matrix wins, then any field whose value passes ``is_valid``. The first non-empty
    field is never taken just for being there.
    """
    if field_setting is not None and field_setting.strip():
        return _by_setting(submission.fields, field_setting)
    named = _named_candidates(submission)
    return _pick(named, is_valid) or _first_valid(submission.fields, is_valid)


def _by_setting(fields: Iterable[Field], setting: str) -> str | None:
    """Return the value of the first non-empty field whose label, key or ref is the setting."""
    wanted = _normal(setting)
    for field in fields:
        if field.value.strip() and any(_normal(name) == wanted for name in field.names()):
            return field.value
    return None


def _named_candidates(submission: Submission) -> list[Field]:
    """List the visible, non-empty fields whose names say they hold a Matrix ID."""
    visible = [field for field in submission.fields if not field.hidden and field.value.strip()]
    named = [field for field in visible if any(map(_mentions_matrix, field.names()))]
    if submission.platform in _SELF_NAMED:
        named += [f for f in visible if f not in named and _normal(f.key or "") in _DIRECT_KEYS]
    return named


def _pick(candidates: list[Field], is_valid: Callable[[str], bool]) -> str | None:
    """Prefer a candidate holding a valid ID, e.g. over "Do you use Matrix?" answered "Yes"."""
    if not candidates:
        return None
    return _first_valid(candidates, is_valid) or candidates[0].value


def _first_valid(fields: Iterable[Field], is_valid: Callable[[str], bool]) -> str | None:
    """Return the value of the first field whose stripped value passes ``is_valid``."""
    for field in fields:
        if field.value.strip() and is_valid(field.value.strip()):
            return field.value
    return None


def _mentions_matrix(name: str) -> bool:
    """Tell whether a question's name says it asks for a Matrix ID."""
    folded = name.casefold()
    return any(mention in folded for mention in _MENTIONS)


def _normal(name: str) -> str:
    """Fold a field name for comparison: case-insensitive, surrounding whitespace ignored."""
    return name.strip().casefold()
