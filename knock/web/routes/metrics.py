"""`GET /metrics`: Knock's metrics for Prometheus, to the holder of the metrics token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from knock.web.answers import DATABASE_DOWN, TOO_LARGE, answer
from knock.web.auth import require_metrics_reader
from knock.web.state import services_of

router = APIRouter()

# The Prometheus text format, version 0.0.4 (what prometheus-client writes).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"

_ANSWERS = {
    200: {
        "description": "Every metric, in the Prometheus text format (names start with knock_).",
        "content": {TEXT_FORMAT: {"schema": {"type": "string"}}},
    },
    401: answer(
        "No metrics token was sent (`Authorization: Bearer <METRICS_TOKEN>`, or API_KEY when "
        "METRICS_TOKEN is unset), or the wrong one.",
        headers={"WWW-Authenticate": "`Bearer`: send the token as a bearer token."},
    ),
    403: answer("Metrics are off: neither METRICS_TOKEN nor API_KEY is set."),
    **TOO_LARGE,
    **DATABASE_DOWN,
}


@router.get(
    "/metrics",
    response_class=Response,
    responses=_ANSWERS,
    dependencies=[Depends(require_metrics_reader)],
)
async def metrics(request: Request) -> Response:
    """Knock's metrics for Prometheus: events counted by every process, state read now."""
    body = await services_of(request).scrape.exposition()
    return Response(body, media_type=TEXT_FORMAT)
