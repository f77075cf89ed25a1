"""Fillout webhook deliveries (``questions`` list plus ``submissionId``)."""

from __future__ import annotations

from .model import Field, Submission
from .values import as_id, as_str, objects_in, text_of


def looks_like(payload: dict[str, object]) -> bool:
    """Tell whether a JSON object has the shape of a Fillout delivery."""
    return isinstance(payload.get("questions"), list) and "submissionId" in payload


def parse(payload: dict[str, object]) -> Submission:
    """Turn a Fillout delivery into a submission; URL parameters become hidden fields."""
    questions = tuple(_field(entry, False) for entry in objects_in(payload.get("questions")))
    parameters = tuple(_field(entry, True) for entry in objects_in(payload.get("urlParameters")))
    return Submission("fillout", as_id(payload.get("submissionId")), questions + parameters)


def _field(entry: dict[str, object], hidden: bool) -> Field:
    """Build one field from a question or URL parameter entry."""
    return Field(
        label=as_str(entry.get("name")),
        key=as_str(entry.get("id")),
        ref=None,
        value=text_of(entry.get("value")),
        hidden=hidden,
    )
