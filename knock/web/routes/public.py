"""Routes anyone may call: the health probes and the form webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from knock.services.invites.reception import Delivery
from knock.web.auth import holds_api_key
from knock.web.state import services_of

router = APIRouter()


@router.get("/")
async def root() -> dict[str, str]:
    """Answer that Knock is running (and nothing a requester could learn from)."""
    return {"status": "running", "service": "knock"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 whenever knocks can be committed (the database); 503 otherwise.

    A homeserver outage does not make Knock unready: knocks are committed and wait. The body
    names no room and no setting unless the caller holds the API key.
    """
    readiness = await services_of(request).health.readiness()
    body = readiness.detailed() if holds_api_key(request) else readiness.public()
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


@router.post("/invite_from_form", status_code=202)
@router.post("/invite_from_form/", status_code=202, include_in_schema=False)
async def invite_from_form(request: Request) -> Response:
    """Take a form platform's webhook and commit the knock before answering 202."""
    delivery = Delivery(
        body=await request.body(),  # at most MAX_BODY_BYTES: the app caps every body first
        headers={name.lower(): value for name, value in request.headers.items()},
        query_token=request.query_params.get("token"),
        peer=request.client.host if request.client else None,
    )
    reply = await services_of(request).reception.receive(delivery)
    if reply.location is not None:
        return RedirectResponse(reply.location, status_code=reply.status)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)
