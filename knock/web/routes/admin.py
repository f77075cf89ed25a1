"""The moderators' API from the original service, behind `Authorization: Bearer <API_KEY>`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from knock.core import mxid
from knock.core.history import Actor
from knock.core.knocks import DEFAULT_DOOR
from knock.doors import door_of
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

NO_DOOR = answer("Knock has no door of that name.")


def one_door(request: Request, door: str = Query(DEFAULT_DOOR, max_length=64)) -> str:
    """The door a room route is about (`?door=`, else `default`); 404 for one Knock lacks."""
    if door not in services_of(request).doors:
        raise HTTPException(404, f"Knock has no door named {door[:64]!r}")
    return door


def some_door(request: Request, door: str | None = Query(None, max_length=64)) -> str | None:
    """A list route's `?door=`: None (every door) unless given; 404 for one Knock lacks."""
    return None if door is None else one_door(request, door)


@router.get("/pending_invites", responses={**ADMIN, **HOMESERVER, 404: NO_DOOR})
async def pending_invites(
    request: Request,
    door: str | None = Depends(some_door),
    _: Actor = Depends(require_admin),
) -> PendingInvites:
    """List the people Knock invited who have not answered yet, at every door (or `?door=`)."""
    services = services_of(request)
    rows = []
    for name in [door] if door else list(services.doors):
        settings = door_of(services.doors, name).settings
        rows += [
            PendingInvite(
                user_id=p.user_id,
                knock_id=p.knock_id,
                invite_time=int(p.invite_time),
                age_seconds=int(p.age_seconds),
                reminder_at=int(p.invite_time + settings.reminder_after),
                expires_at=int(p.invite_time + settings.invite_ttl),
                door=name,
            )
            for p in await services.moderation.pending_invites(name)
        ]
    return PendingInvites(pending_invites=rows, count=len(rows))


@router.get("/room_members", responses={**ADMIN, **HOMESERVER, 404: NO_DOOR})
async def room_members(
    request: Request, door: str = Depends(one_door), _: Actor = Depends(require_admin)
) -> RoomMembers:
    """List a door's room's joined members as plain ids (`?door=`, else the default door)."""
    members = await services_of(request).moderation.joined_members(door)
    return RoomMembers(joined_members=members, count=len(members))


@router.get("/room_state", responses={**ADMIN, **HOMESERVER, 404: NO_DOOR})
async def room_state(
    request: Request, door: str = Depends(one_door), _: Actor = Depends(require_admin)
) -> RoomState:
    """Return a door's room's raw current state (for debugging; `?door=`, else the default)."""
    services = services_of(request)
    events = await services.moderation.room_state(door)
    return RoomState(room_id=services.doors[door].room, state=events)


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
