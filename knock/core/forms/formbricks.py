"""Formbricks webhook deliveries (``event: responseFinished``)."""

from __future__ import annotations

from collections.abc import Mapping

from .model import Field, PayloadError, Submission
from .values import as_id, as_object, text_of

_FINAL_EVENT = "responseFinished"
# Recognised even without a data map, so the endpoint test Formbricks sends is acknowledged.
_EVENTS = frozenset({"responseCreated", "responseUpdated", _FINAL_EVENT, "testEndpoint"})


def looks_like(payload: dict[str, object]) -> bool:
    """Tell whether a JSON object has the shape of a Formbricks delivery."""
    event = payload.get("event")
    if not isinstance(event, str):
        return False
    return event in _EVENTS or as_object(_data(payload).get("data")) is not None


def parse(payload: dict[str, object], headers: Mapping[str, str]) -> Submission:
    """Turn a Formbricks delivery into a submission; only finished responses are final.

    The dedupe key is the ``webhook-id`` header, which stays the same across retries.
    """
    final = payload.get("event") == _FINAL_EVENT
    data = _data(payload)
    answers = as_object(data.get("data"))
    if final and answers is None:
        raise PayloadError(422, "The Formbricks delivery has no data.data map of answers.")
    submission_id = as_id(headers.get("webhook-id")) or as_id(data.get("id"))
    # Hidden-field values share this map with the answers and cannot be told apart.
    fields = tuple(
        Field(label=None, key=key, ref=None, value=text_of(value))
        for key, value in (answers or {}).items()
    )
    return Submission("formbricks", submission_id, fields, final=final)


def _data(payload: dict[str, object]) -> dict[str, object]:
    """Return the ``data`` object of a delivery, empty when absent."""
    return as_object(payload.get("data")) or {}
