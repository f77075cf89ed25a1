"""Tally webhook deliveries (``eventType: FORM_RESPONSE``)."""

from __future__ import annotations

from .model import Field, PayloadError, Submission
from .values import as_id, as_object, as_str, objects_in, text_of

_FINAL_EVENT = "FORM_RESPONSE"


def looks_like(payload: dict[str, object]) -> bool:
    """Tell whether a JSON object has the shape of a Tally delivery."""
    if payload.get("eventType") == _FINAL_EVENT:
        return True
    data = as_object(payload.get("data"))
    return data is not None and isinstance(data.get("fields"), list)


def parse(payload: dict[str, object]) -> Submission:
    """Turn a Tally delivery into a submission; other event types are not final."""
    final = payload.get("eventType") == _FINAL_EVENT
    data = as_object(payload.get("data")) or {}
    if final and not isinstance(data.get("fields"), list):
        raise PayloadError(422, "The Tally delivery has no data.fields list to read answers from.")
    submission_id = as_id(data.get("submissionId")) or as_id(payload.get("eventId"))
    fields = tuple(_field(entry) for entry in objects_in(data.get("fields")))
    return Submission("tally", submission_id, fields, final=final)


def _field(entry: dict[str, object]) -> Field:
    """Build one field from a ``data.fields`` entry."""
    return Field(
        label=as_str(entry.get("label")),
        key=as_str(entry.get("key")),
        ref=None,
        value=text_of(_resolve_options(entry.get("value"), entry.get("options"))),
        hidden=entry.get("type") == "HIDDEN_FIELDS",
    )


def _resolve_options(value: object, options: object) -> object:
    """Replace option ids in a choice answer with the option text the person picked."""
    texts: dict[str, object] = {}
    for option in objects_in(options):
        option_id = as_str(option.get("id"))
        if option_id is not None:
            texts[option_id] = option.get("text")
    if not texts:
        return value
    if isinstance(value, str):
        return texts.get(value, value)
    if isinstance(value, list):
        return [texts.get(item, item) if isinstance(item, str) else item for item in value]
    return value
