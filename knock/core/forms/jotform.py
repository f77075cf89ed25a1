"""Jotform webhook deliveries: multipart parts, answers as JSON in ``rawRequest``."""

from __future__ import annotations

import json
import re

from .model import Field, PayloadError, Submission
from .values import as_id, as_object, text_of

_RAW_REQUEST = "rawRequest"
_QUESTION_KEY = re.compile(r"q\d+_(?P<name>.+)", re.DOTALL)


def looks_like(parts: list[tuple[str, str]]) -> bool:
    """Tell whether multipart form parts come from Jotform."""
    return any(name == _RAW_REQUEST for name, _ in parts)


def parse(parts: list[tuple[str, str]]) -> Submission:
    """Turn Jotform's parts into a submission: the answers first, then the other parts.

    ``pretty`` is kept whole: it joins answers with separators a person may also type.
    """
    values = dict(reversed(parts))  # the first occurrence of a name wins
    raw = _raw_request(values[_RAW_REQUEST])
    answers = tuple(field for key, value in raw.items() if (field := _answer(key, value)))
    others = tuple(
        Field(label=None, key=name, ref=None, value=value)
        for name, value in parts
        if name != _RAW_REQUEST
    )
    submission_id = as_id(values.get("submissionID"))
    return Submission("jotform", submission_id, answers + others)


def _raw_request(text: str) -> dict[str, object]:
    """Decode the JSON object in the ``rawRequest`` part."""
    try:
        decoded = as_object(json.loads(text))
    except (ValueError, RecursionError) as exc:
        raise PayloadError(400, "The Jotform rawRequest part is not valid JSON.") from exc
    if decoded is None:
        raise PayloadError(400, "The Jotform rawRequest part is not a JSON object.")
    return decoded


def _answer(key: str, value: object) -> Field | None:
    """Build a field from a ``q<n>_<name>`` key; other keys are Jotform's bookkeeping."""
    match = _QUESTION_KEY.fullmatch(key)
    if match is None:
        return None
    return Field(label=match.group("name"), key=key, ref=None, value=text_of(value))
