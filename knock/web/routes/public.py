"""Routes anyone may call: the health probes and the form webhook."""

from __future__ import annotations

import ipaddress
import logging
import math

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from knock.core import mxid
from knock.core.forms import PayloadError, find_matrix_id, parse_delivery
from knock.services.errors import Unavailable
from knock.web.auth import DeliveryProof, holds_api_key
from knock.web.state import services_of

log = logging.getLogger(__name__)

router = APIRouter()

NO_ID_FIELD = (
    "No field holds a Matrix ID: label the question 'Matrix ID' or name it in MATRIX_ID_FIELD"
)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


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
    services = services_of(request)
    settings = services.settings
    body = await request.body()  # at most MAX_BODY_BYTES: the app caps every body first
    headers = {name.lower(): value for name, value in request.headers.items()}
    proof = DeliveryProof(
        settings, headers, request.query_params.get("token"), body, services.clock.now()
    )
    if not proof.enough_to_read():
        return _error(401, "The delivery carries no valid signature or token")
    try:
        submission = parse_delivery(body, headers.get("content-type", ""), headers)
    except PayloadError as exc:
        return _error(exc.status, exc.message)
    if not proof.admits(submission.platform):
        return _error(401, f"The delivery is not signed with the {submission.platform} secret")
    if not submission.final:
        return JSONResponse({"status": "ignored"}, status_code=200)
    requested = find_matrix_id(submission, settings.matrix_id_field, mxid.is_valid_historical)
    if requested is None or not requested.strip():
        return _error(422, NO_ID_FIELD)
    client = client_address(request, settings.trusted_proxies)
    try:
        outcome = await services.intake.knock(submission, requested, client)
    except Unavailable as exc:
        log.error("Could not commit a knock, asking the sender to retry: %s", type(exc).__name__)
        return _error(
            503, "Knock cannot store requests right now; retry later", {"Retry-After": "30"}
        )
    if submission.direct and outcome.retry_after is not None:
        # Direct callers may be told to slow down (never why, never that they are blocked).
        wait = str(max(1, math.ceil(outcome.retry_after)))
        return _error(429, "Too many requests; try again later", {"Retry-After": wait})
    if submission.direct and outcome.problem:
        return JSONResponse(
            {
                "detail": f"That Matrix ID is not valid: {outcome.problem}",
                "knock_id": outcome.knock_id,
            },
            status_code=422,
        )
    if submission.platform == "html" and settings.form_redirect_url:
        return RedirectResponse(settings.form_redirect_url, status_code=303)
    return JSONResponse({"status": "accepted", "knock_id": outcome.knock_id}, status_code=202)


def client_address(request: Request, trusted: list[str]) -> str | None:
    """Return the caller's address, believing X-Forwarded-For only from TRUSTED_PROXIES."""
    peer = request.client.host if request.client else None
    if peer is None or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    # The rightmost address a trusted proxy did not add is the caller's.
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, trusted):
            return hop
    return peer


def _trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)
