"""The moderators' API from the original service, behind `Authorization: Bearer <API_KEY>`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from knock.core import mxid
from knock.core.history import Actor
from knock.services.moderation.actions import NothingToRescind
from knock.web.auth import require_admin
from knock.web.state import services_of

router = APIRouter()


class UserAction(BaseModel):
    """A moderator's action on one person."""

    user_id: str = Field(min_length=1, max_length=512, examples=["@troll:example.org"])
    reason: str | None = Field(default=None, max_length=2000)


@router.get("/pending_invites")
async def pending_invites(request: Request, _: Actor = Depends(require_admin)) -> dict[str, Any]:
    """List the people Knock invited who have not answered yet."""
    settings = services_of(request).settings
    pending = await services_of(request).moderation.pending_invites()
    rows = [
        {
            "user_id": p.user_id,
            "knock_id": p.knock_id,
            "invite_time": int(p.invite_time),
            "age_seconds": int(p.age_seconds),
            "reminder_at": int(p.invite_time + settings.reminder_after),
            "expires_at": int(p.invite_time + settings.invite_ttl),
        }
        for p in pending
    ]
    return {"pending_invites": rows, "count": len(rows)}


@router.get("/room_members")
async def room_members(request: Request, _: Actor = Depends(require_admin)) -> dict[str, Any]:
    """List the room's joined members as plain ids."""
    members = await services_of(request).moderation.joined_members()
    return {"joined_members": members, "count": len(members)}


@router.get("/room_state")
async def room_state(request: Request, _: Actor = Depends(require_admin)) -> dict[str, Any]:
    """Return the room's raw current state (for debugging)."""
    events = await services_of(request).moderation.room_state()
    return {"room_id": services_of(request).settings.new_room_id, "state": events}


@router.post("/rescind_invite")
async def rescind_invite(
    action: UserAction, request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Revoke a pending invite, or remove the person if they already joined."""
    services = services_of(request)
    try:
        user_id, _ = mxid.parse(action.user_id, mxid.server_name(services.bot_id))
    except mxid.InvalidMatrixId as exc:
        raise HTTPException(422, f"user_id is not a valid Matrix ID: {exc.reason}") from None
    try:
        return await services.moderation.rescind(user_id, action.reason, actor)
    except NothingToRescind:
        raise HTTPException(404, f"{user_id} has no pending invite and is not a member") from None
