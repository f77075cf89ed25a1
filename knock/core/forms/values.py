"""Typed access to decoded JSON and the conversion of answers to text."""

from __future__ import annotations

from typing import cast

# Deeper values are dropped: json.loads accepts nesting that a recursive walk could not survive.
_MAX_DEPTH = 16


def as_object(value: object) -> dict[str, object] | None:
    """Return the value as a JSON object, or None when it is something else."""
    if isinstance(value, dict):
        return cast(dict[str, object], value)
    return None


def as_list(value: object) -> list[object]:
    """Return the value as a JSON array; anything else counts as empty."""
    if isinstance(value, list):
        return cast(list[object], value)
    return []


def objects_in(value: object) -> list[dict[str, object]]:
    """Return the JSON objects in an array, skipping any other items."""
    if not isinstance(value, list):
        return []
    return [cast(dict[str, object], item) for item in value if isinstance(item, dict)]


def as_str(value: object) -> str | None:
    """Return the value if it is a string, else None."""
    return value if isinstance(value, str) else None


def as_id(value: object) -> str | None:
    """Return an identifier given as a non-empty string or an integer, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def text_of(value: object, depth: int = 0) -> str:
    """Render an answer as the text a person would read.

    Lists are joined with ", "; choice objects give their label(s); other objects give their values.
    """
    if value is None or depth > _MAX_DEPTH:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return _join(cast(list[object], value), depth)
    if isinstance(value, dict):
        return _object_text(cast(dict[str, object], value), depth)
    return ""


def _object_text(value: dict[str, object], depth: int) -> str:
    """Render an object answer, preferring choice labels over ids and refs."""
    if "label" in value or "labels" in value:
        # Typeform choice answers also carry ids and refs nobody typed; "other" is typed text.
        picked = [value.get("label"), value.get("labels"), value.get("other")]
        return _join(picked, depth)
    return _join(list(value.values()), depth)


def _join(items: list[object], depth: int) -> str:
    """Join the non-empty renderings of the items with ", "."""
    texts = (text_of(item, depth + 1) for item in items)
    return ", ".join(text for text in texts if text)
