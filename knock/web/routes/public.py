"""Routes anyone may call: the health probes and the form webhook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from knock.core.knocks import DEFAULT_DOOR
from knock.web import webhook
from knock.web.answers import RETRY_AFTER, TOO_LARGE, answer
from knock.web.auth import holds_api_key
from knock.web.models import Accepted, FormProblem, Ignored, Liveness, Readiness
from knock.web.state import services_of

router = APIRouter()


@router.get("/", responses=TOO_LARGE)
async def root() -> Liveness:
    """Answer that Knock is running (and nothing a requester could learn from)."""
    return Liveness(status="running", service="knock")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        200: {"description": "Knocks can be committed (the homeserver may still be down)."},
        503: answer("Knocks cannot be committed now: the database is not answering.", Readiness),
        **TOO_LARGE,
    },
    # The key is optional here: it only adds `details`.
    openapi_extra={"security": [{}, {"ApiKey": []}]},
)
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 whenever knocks can be committed (the database); 503 otherwise.

    A homeserver outage does not make Knock unready: knocks are committed and wait. The body
    names no room and no setting unless the caller holds the API key.
    """
    readiness = await services_of(request).health.readiness()
    body = readiness.detailed() if holds_api_key(request) else readiness.public()
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


_STORABLE = {"type": "string", "pattern": "^[^\\u0000]*$"}  # Knock refuses a NUL with 400

_ANY_FORM: dict[str, Any] = {
    "type": "object",
    "description": "An HTML form's fields; the Matrix ID is in `matrix_id` (or a field named "
    "by MATRIX_ID_FIELD, or mentioning Matrix).",
    "properties": {"matrix_id": {**_STORABLE, "examples": ["@you:example.org"]}},
    "propertyNames": _STORABLE,
    "additionalProperties": _STORABLE,
}

_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A form platform's webhook payload, unchanged: the JSON of Tally, "
        "Typeform, Formbricks, HeyForm, Fillout or a script, or an HTML form's post "
        "(Jotform's multipart post included).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Any platform's JSON payload; a script sends "
                    '`{"matrix_id": "@you:example.org"}`. Text holding a NUL is refused (400).',
                    "additionalProperties": True,
                }
            },
            "application/x-www-form-urlencoded": {"schema": _ANY_FORM},
            "multipart/form-data": {"schema": _ANY_FORM},
        },
    },
    "parameters": [
        {
            "name": "token",
            "in": "query",
            "required": False,
            "description": "WEBHOOK_TOKEN, for platforms that cannot send a header (never in "
            "an HTML form's page).",
            "schema": {"type": "string"},
        }
    ],
}


WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "An event that is not a final submission.", "model": Ignored},
    303: {
        "description": "An HTML form's post, when FORM_REDIRECT_URL is set.",
        "headers": {
            "Location": {
                "description": "FORM_REDIRECT_URL.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
    400: answer(
        "The body is malformed (JSON that does not parse, a broken multipart body, text "
        "that is not UTF-8) or holds text Knock cannot store (a NUL, an unpaired "
        "surrogate)."
    ),
    401: answer("A missing or wrong signature or token."),
    403: answer("A browser's post from a page whose origin is not in ALLOWED_ORIGINS."),
    **TOO_LARGE,
    415: answer("Not JSON, a urlencoded form or a multipart form."),
    422: answer(
        "No field holds a Matrix ID; or, for a browser or HTML form, the Matrix ID is not "
        "valid (with what is wrong).",
        FormProblem,
    ),
    429: answer("A browser or HTML form's address sent too much: slow down.", headers=RETRY_AFTER),
    503: answer(
        "The database cannot take the knock now; nothing is lost, retry later.",
        headers=RETRY_AFTER,
    ),
}


@router.post(
    "/invite_from_form",
    status_code=202,
    response_model=Accepted,
    responses=WEBHOOK_RESPONSES,
    openapi_extra=_FORM_BODY,
)
@router.post("/invite_from_form/", status_code=202, include_in_schema=False)
async def invite_from_form(request: Request) -> Response:
    """Take a form platform's webhook and commit the knock before answering 202.

    A server-to-server caller (a platform's signature, or WEBHOOK_TOKEN) always hears 202,
    or 200 for an event that is not final; a browser or an HTML form may also hear 422 and 429.
    """
    return await _receive(request, DEFAULT_DOOR)


@router.post(
    "/doors/{door}/invite_from_form",
    status_code=202,
    response_model=Accepted,
    responses={
        **WEBHOOK_RESPONSES,
        404: answer("Knock has no door of that name."),
    },
    openapi_extra=_FORM_BODY,
)
@router.post("/doors/{door}/invite_from_form/", status_code=202, include_in_schema=False)
async def invite_from_form_at_door(request: Request, door: str) -> Response:
    """Take a webhook for one door (a way into another room, from DOORS_FILE), as
    `/invite_from_form` does for the default door; with that door's secrets and token, its
    windows and its settings."""
    return await _receive(request, door)


async def _receive(request: Request, door: str) -> Response:
    # `KnockApp` serves these posts ahead of FastAPI (knock/web/webhook.py); the same answer
    # here, for the FastAPI app alone.
    body = await request.body()  # at most MAX_BODY_BYTES: the app caps every body first
    delivery = webhook.delivery_of(request.scope, body)
    return webhook.response_of(await webhook.reply_to(services_of(request), door, delivery))
