"""Typeform webhook deliveries (``event_type: form_response``)."""

from __future__ import annotations

from .model import Field, PayloadError, Submission
from .values import as_id, as_object, as_str, objects_in, text_of

_FINAL_EVENT = "form_response"


def looks_like(payload: dict[str, object]) -> bool:
    """Tell whether a JSON object has the shape of a Typeform delivery."""
    return isinstance(payload.get("event_type"), str) and "form_response" in payload


def parse(payload: dict[str, object]) -> Submission:
    """Turn a Typeform delivery into a submission; partial responses are not final."""
    final = payload.get("event_type") == _FINAL_EVENT
    response = as_object(payload.get("form_response"))
    if response is None:
        if final:
            raise PayloadError(422, "The Typeform delivery has no form_response object.")
        return Submission("typeform", None, (), final=False)
    titles = _titles(response)
    answers = tuple(_answer(answer, titles) for answer in objects_in(response.get("answers")))
    fields = answers + _hidden(response.get("hidden"))
    return Submission("typeform", as_id(response.get("token")), fields, final=final)


def _titles(response: dict[str, object]) -> dict[str, str]:
    """Map each question id to its title from the form definition."""
    definition = as_object(response.get("definition")) or {}
    titles: dict[str, str] = {}
    for question in objects_in(definition.get("fields")):
        question_id, title = as_str(question.get("id")), as_str(question.get("title"))
        if question_id is not None and title is not None:
            titles[question_id] = title
    return titles


def _answer(answer: dict[str, object], titles: dict[str, str]) -> Field:
    """Build one field from an answer; its value sits under the key its ``type`` names."""
    question = as_object(answer.get("field")) or {}
    question_id = as_str(question.get("id"))
    kind = as_str(answer.get("type"))
    return Field(
        label=titles.get(question_id) if question_id is not None else None,
        key=question_id,
        ref=as_str(question.get("ref")),
        value=text_of(answer.get(kind)) if kind is not None else "",
    )


def _hidden(hidden: object) -> tuple[Field, ...]:
    """Build hidden fields from the ``hidden`` map of URL-supplied values."""
    values = as_object(hidden) or {}
    return tuple(
        Field(label=None, key=name, ref=None, value=text_of(value), hidden=True)
        for name, value in values.items()
    )
