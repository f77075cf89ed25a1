"""Plain HTML form posts (urlencoded, or multipart without Jotform's ``rawRequest``)."""

from __future__ import annotations

from .model import Field, PayloadError, Submission


def parse(pairs: list[tuple[str, str]]) -> Submission:
    """Turn decoded form pairs into a submission; repeated names are joined with ", "."""
    if not pairs:
        raise PayloadError(422, "The form sent no fields; it needs a matrix_id field.")
    fields = tuple(
        Field(label=None, key=name, ref=None, value=value) for name, value in _merge(pairs).items()
    )
    return Submission("html", None, fields)


def _merge(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Combine the values of each name, keeping the order names first appear in."""
    merged: dict[str, list[str]] = {}
    for name, value in pairs:
        merged.setdefault(name, []).append(value)
    # Ticked checkboxes repeat their name; empty values would only add stray separators.
    return {name: ", ".join(v for v in values if v) for name, values in merged.items()}
