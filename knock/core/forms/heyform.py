"""HeyForm webhook deliveries (``answers`` list plus ``formId``)."""

from __future__ import annotations

from .model import Field, Submission
from .values import as_id, as_list, as_object, as_str, objects_in, text_of


def looks_like(payload: dict[str, object]) -> bool:
    """Tell whether a JSON object has the shape of a HeyForm delivery."""
    return isinstance(payload.get("answers"), list) and "formId" in payload


def parse(payload: dict[str, object]) -> Submission:
    """Turn a HeyForm delivery into a submission."""
    choices = _choices_by_question(payload.get("fields"))
    answers = tuple(_answer(answer, choices) for answer in objects_in(payload.get("answers")))
    hidden = tuple(_hidden(entry) for entry in objects_in(payload.get("hiddenFields")))
    return Submission("heyform", as_id(payload.get("id")), answers + hidden)


def _answer(answer: dict[str, object], choices: dict[str, dict[str, str]]) -> Field:
    """Build one field from an answer, resolving choice ids to their labels."""
    question_id = as_str(answer.get("id"))
    labels = _choice_labels(answer) or choices.get(question_id or "", {})
    return Field(
        label=as_str(answer.get("title")),
        key=question_id,
        ref=None,
        value=text_of(_resolve(answer.get("value"), labels)),
    )


def _hidden(entry: dict[str, object]) -> Field:
    """Build a hidden field from a ``hiddenFields`` entry."""
    return Field(
        label=as_str(entry.get("name")),
        key=as_str(entry.get("id")),
        ref=None,
        value=text_of(entry.get("value")),
        hidden=True,
    )


def _choices_by_question(questions: object) -> dict[str, dict[str, str]]:
    """Map each question id in the form's ``fields`` to its choice labels by choice id."""
    found: dict[str, dict[str, str]] = {}
    for question in objects_in(questions):
        question_id = as_str(question.get("id"))
        if question_id is not None:
            found[question_id] = _choice_labels(question)
    return found


def _choice_labels(question: dict[str, object]) -> dict[str, str]:
    """Map choice id to label from a question's ``properties.choices``."""
    properties = as_object(question.get("properties")) or {}
    labels: dict[str, str] = {}
    for choice in objects_in(properties.get("choices")):
        choice_id, label = as_str(choice.get("id")), as_str(choice.get("label"))
        if choice_id is not None and label is not None:
            labels[choice_id] = label
    return labels


def _resolve(value: object, labels: dict[str, str]) -> object:
    """Replace choice ids in an answer (bare or as ``{"value": [...]}``) with their labels."""
    if not labels:
        return value
    choice = as_object(value)
    if choice is not None and "value" in choice:
        return [_resolve(choice.get("value"), labels), choice.get("other")]
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return [
            labels.get(item, item) if isinstance(item, str) else item for item in as_list(value)
        ]
    return value
