"""Generic JSON deliveries from scripts and automation tools (``{"matrix_id": ...}``)."""

from __future__ import annotations

from .model import Field, PayloadError, Submission
from .values import as_id, text_of


def parse(payload: dict[str, object]) -> Submission:
    """Turn a JSON object into a submission with one field per top-level scalar value."""
    fields = tuple(
        Field(label=None, key=key, ref=None, value=text_of(value))
        for key, value in payload.items()
        if value is None or isinstance(value, str | int | float)
    )
    if not fields:
        raise PayloadError(
            422,
            'The JSON object has no text values; send one like {"matrix_id": "@you:example.org"}.',
        )
    return Submission("generic", as_id(payload.get("submission_id")), fields)
