"""The moderators' API from the original service, behind `Authorization: Bearer <API_KEY>`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from knock.core import mxid
from knock.core.history import Actor
from knock.services.moderation.actions import NothingToRescind, OwnAccount
from knock.web.answers import ADMIN, HOMESERVER, JSON_BODY, answer
from knock.web.auth import require_admin
from knock.web.models import (
    PendingInvite,
    PendingInvites,
    Rescinded,
    RoomMembers,
    RoomState,
    UserAction,
)
from knock.web.state import services_of

router = APIRouter()


@router.get("/pending_invites", responses={**ADMIN, **HOMESERVER})
async def pending_invites(request: Request, _: Actor = Depends(require_admin)) -> PendingInvites:
    """List the people Knock invited who have not answered yet."""
    settings = services_of(request).settings
    pending = await services_of(request).moderation.pending_invites()
    rows = [
        PendingInvite(
            user_id=p.user_id,
            knock_id=p.knock_id,
            invite_time=int(p.invite_time),
            age_seconds=int(p.age_seconds),
            reminder_at=int(p.invite_time + settings.reminder_after),
            expires_at=int(p.invite_time + settings.invite_ttl),
        )
        for p in pending
    ]
    return PendingInvites(pending_invites=rows, count=len(rows))


@router.get("/room_members", responses={**ADMIN, **HOMESERVER})
async def room_members(request: Request, _: Actor = Depends(require_admin)) -> RoomMembers:
    """List the room's joined members as plain ids."""
    members = await services_of(request).moderation.joined_members()
    return RoomMembers(joined_members=members, count=len(members))


@router.get("/room_state", responses={**ADMIN, **HOMESERVER})
async def room_state(request: Request, _: Actor = Depends(require_admin)) -> RoomState:
    """Return the room's raw current state (for debugging)."""
    events = await services_of(request).moderation.room_state()
    return RoomState(room_id=services_of(request).settings.new_room_id, state=events)


@router.post(
    "/rescind_invite",
    responses={
        **ADMIN,
        **HOMESERVER,
        404: answer("The person has no pending invite and is not a member."),
        **JSON_BODY,
    },
)
async def rescind_invite(
    action: UserAction, request: Request, actor: Actor = Depends(require_admin)
) -> Rescinded:
    """Revoke a pending invite, or remove the person if they already joined."""
    services = services_of(request)
    try:
        user_id, _ = mxid.parse(action.user_id, mxid.server_name(services.bot_id))
    except mxid.InvalidMatrixId as exc:
        raise HTTPException(422, f"user_id is not a valid Matrix ID: {exc.reason}") from None
    try:
        rescinded = await services.moderation.rescind(user_id, action.reason, actor)
    except NothingToRescind:
        raise HTTPException(404, f"{user_id} has no pending invite and is not a member") from None
    except OwnAccount:
        own = f"{user_id} is Knock's own account: it stays in the room"
        raise HTTPException(422, own) from None
    return Rescinded.model_validate(rescinded)
