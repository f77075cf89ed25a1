"""Every moderator action from every route, newest first, filtered by actor and action, paged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from knock.services.console.audit import ACTIONS, LABELS, AuditCursor, AuditFilter
from knock.services.console.sessions import Session
from knock.web.console.session import console_url, door_of, review_count, show, signed_in
from knock.web.state import services_of

router = APIRouter()

FILTERS = ("actor", "action")
OLDER, NEWER = "older", "newer"
MAX_ACTOR = 200  # an actor is a kind and a name (a Matrix ID at most 255 bytes): search text


@router.get("/audit")
async def audit(request: Request) -> Response:
    """Moderators' actions, newest first, narrowed by the form's fields, a page at a time."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    query = request.query_params
    given = {name: (query.get(name) or "").strip() for name in FILTERS}
    problems: dict[str, str] = {}
    if len(given["actor"]) > MAX_ACTOR:
        problems["actor"] = f"Search for at most {MAX_ACTOR} characters."
    if given["action"] and given["action"] not in ACTIONS:
        problems["action"] = "Choose an action from the list."
    door = door_of(request)
    trail = services_of(request).console_audit
    context: dict[str, Any] = {
        "current": "audit",
        "given": given,
        "problems": problems,
        "actions": ACTIONS,
        "labels": LABELS,
        "actors": await trail.actors(door),
        "max_actor": MAX_ACTOR,
        "listing": None,
    }
    if problems:
        return await _show(request, session, context, 400)
    wanted = AuditFilter(actor=given["actor"] or None, action=given["action"] or None, door=door)
    listing = await trail.actions(
        wanted,
        older_than=AuditCursor.parse(query.get(OLDER)),
        newer_than=AuditCursor.parse(query.get(NEWER)),
    )
    kept = {name: value for name, value in given.items() if value}
    context["listing"] = listing
    context["filtered"] = bool(kept)
    if listing.newer is not None:
        context["newer_link"] = console_url(request, "/audit", {**kept, NEWER: str(listing.newer)})
    if listing.older is not None:
        context["older_link"] = console_url(request, "/audit", {**kept, OLDER: str(listing.older)})
    return await _show(request, session, context)


async def _show(
    request: Request, session: Session, context: dict[str, Any], status: int = 200
) -> Response:
    count = await review_count(request)
    return show(request, session, "console/audit.html", context, status, review_count=count)
