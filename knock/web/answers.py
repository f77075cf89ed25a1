"""The error answers each route lists in the OpenAPI description, with their headers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from knock.web.models import Invalid, Problem

Answers = dict[int | str, dict[str, Any]]

_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}


def answer(
    description: str, model: type[BaseModel] = Problem, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """One documented answer: what it means, its body, and the headers it always carries."""
    documented: dict[str, Any] = {"description": description, "model": model}
    if headers:
        documented["headers"] = {
            name: {
                "description": meaning,
                "required": True,
                "schema": _SECONDS if name == "Retry-After" else {"type": "string"},
            }
            for name, meaning in headers.items()
        }
    return documented


RETRY_AFTER = {"Retry-After": "Seconds to wait before trying again."}

TOO_LARGE: Answers = {
    413: answer("The body is larger than MAX_BODY_BYTES (checked before anything else).")
}

INVALID: Answers = {
    422: answer(
        "The request does not have the fields, types or values this operation takes (a list "
        "of the fields at fault), or says something Knock cannot take (a sentence).",
        Invalid,
    ),
}

# Routes that take a JSON body.
JSON_BODY: Answers = {400: answer("The body could not be read (it is not UTF-8)."), **INVALID}

DATABASE_DOWN: Answers = {
    503: answer(
        "The database is not answering; nothing was changed, retry later.", headers=RETRY_AFTER
    )
}

# Every admin route: the key, the body limit, the database.
ADMIN: Answers = {
    401: answer(
        "No API key was sent (`Authorization: Bearer <API_KEY>`), or the wrong one.",
        headers={"WWW-Authenticate": "`Bearer`: send the API key as a bearer token."},
    ),
    403: answer("The admin routes are off: API_KEY is not set."),
    **TOO_LARGE,
    **DATABASE_DOWN,
}

# Admin routes that act in the room or read it from the homeserver.
HOMESERVER: Answers = {
    502: answer("The homeserver refused the request (its error code and message are given)."),
    503: answer(
        "The database or the homeserver is not answering; retry later.", headers=RETRY_AFTER
    ),
}
