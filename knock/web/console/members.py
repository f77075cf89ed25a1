"""The room's joined members, the knock each came through, and Block for each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from knock.services.console.sessions import Session
from knock.services.errors import caller_facing_errors
from knock.web.console.session import door_of, review_count, show, signed_in
from knock.web.state import services_of

router = APIRouter()


@router.get("/members")
async def members(request: Request) -> Response:
    """Who is in the room. Block posts to the block-list page's dry run (nothing changes yet)."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    context: dict[str, Any] = {"current": "members", "page_door": door_of(request)}
    try:
        # Asks the homeserver for the room's members, once per view (see Members.joined).
        context["members"] = await services_of(request).members.joined(door_of(request))
    except caller_facing_errors():
        context["members"] = None
        return await _show(request, session, context, 503)
    return await _show(request, session, context)


async def _show(
    request: Request, session: Session, context: dict[str, Any], status: int = 200
) -> Response:
    count = await review_count(request)
    return show(request, session, "console/members.html", context, status, review_count=count)
