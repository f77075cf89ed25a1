"""Block-list routes: block, unblock, allow, list and check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from knock.core.history import Actor
from knock.core.knocks import DEFAULT_DOOR
from knock.services.blocklist.actions import NeedsConfirmation, NotBlocked
from knock.services.blocklist.index import BadPattern
from knock.web.answers import ADMIN, HOMESERVER, INVALID, JSON_BODY, answer
from knock.web.auth import require_admin
from knock.web.models import (
    Allowed,
    AllowEntry,
    BlockCheck,
    Blocked,
    BlockRequest,
    ConfirmationNeeded,
    EntryRequest,
    ListEntry,
    Lists,
    Unallowed,
    Unblocked,
    UnblockRequest,
)
from knock.web.params import given_once
from knock.web.routes.admin import NO_DOOR, one_door, some_door
from knock.web.state import services_of
from knock.web.views import iso

router = APIRouter()

_CHECK_PARAMS = given_once("user_id", "display_name", "door")


@router.post(
    "/block_user",
    response_model=Blocked,
    # `dry_run` and `failed` are there only when they say something.
    response_model_exclude_unset=True,
    responses={
        **ADMIN,
        **HOMESERVER,
        404: NO_DOOR,
        409: answer(
            "The entry would remove more than BLOCK_CONFIRM_THRESHOLD people: it is held "
            '(it refuses new knocks and removes nobody) until called again with "confirm": true.',
            ConfirmationNeeded,
        ),
        **JSON_BODY,
    },
)
async def block_user(
    body: BlockRequest, request: Request, actor: Actor = Depends(require_admin)
) -> Blocked | JSONResponse:
    """Add an entry and remove everyone it covers now (revoke invites, kick, decline knocks):
    at every door, or with `door` at that door alone."""
    services = services_of(request)
    door = _own(request, body.door)
    try:
        entry = services.blocklist.entry_for(body.user_id, reason=body.reason, source=str(actor))
        result = await services.blocking.block(
            entry, actor, dry_run=body.dry_run, confirm=body.confirm, door=door
        )
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    except NeedsConfirmation as exc:
        threshold = services.settings.block_confirm_threshold
        detail = (
            f"This would remove more than {threshold} people (BLOCK_CONFIRM_THRESHOLD): "
            "the entry is held (it refuses new knocks and removes nobody); look at the list "
            'and call again with "confirm": true to remove them, or unblock it'
        )
        return JSONResponse({"detail": detail, **exc.as_dict()}, status_code=409)
    return Blocked.model_validate(result.as_dict())


@router.post(
    "/unblock_user",
    responses={
        **ADMIN,
        **HOMESERVER,
        404: answer("No moderator's entry has that pattern (at that door), or no such door."),
        **JSON_BODY,
    },
)
async def unblock_user(
    body: UnblockRequest, request: Request, actor: Actor = Depends(require_admin)
) -> Unblocked:
    """Remove an entry, every door's or with `door` that door's own (and lift any ban Knock
    placed because of it)."""
    door = _own(request, body.door)
    try:
        result = await services_of(request).blocking.unblock(body.user_id, actor, door=door)
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    except NotBlocked as exc:
        at = "" if door is None else f" of door {door}"
        raise HTTPException(404, f"{exc} is not on the block-list{at}") from None
    return Unblocked.model_validate(result.as_dict())


@router.post("/allow_user", responses={**ADMIN, **JSON_BODY})
async def allow_user(
    body: EntryRequest, request: Request, actor: Actor = Depends(require_admin)
) -> Allowed:
    """Add an allow-list entry: it overrides any block-list match for the ids it covers."""
    blocklist = services_of(request).blocklist
    try:
        entry = blocklist.entry_for(body.user_id, allow=True, reason=body.reason, source=str(actor))
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    await blocklist.add(entry)
    return Allowed(status="allowed", entry=AllowEntry(user_id=entry.pattern, reason=entry.reason))


@router.post(
    "/unallow_user",
    responses={**ADMIN, 404: answer("The allow-list has no such entry."), **JSON_BODY},
)
async def unallow_user(
    body: EntryRequest, request: Request, actor: Actor = Depends(require_admin)
) -> Unallowed:
    """Remove an allow-list entry."""
    try:
        removed = await services_of(request).blocklist.remove(body.user_id, allow=True, by=actor)
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    if not removed:
        raise HTTPException(404, f"{body.user_id[:80]} is not on the allow-list")
    return Unallowed(status="removed", entry=body.user_id.strip())


@router.get("/blocklist", responses={**ADMIN, 404: NO_DOOR})
async def blocklist(
    request: Request,
    door: str | None = Depends(some_door),
    _: Actor = Depends(require_admin),
) -> Lists:
    """List the block-list (the original shape) and the allow-list: every entry, or with
    `?door=` those that count at that door (every door's and its own)."""
    entries = await services_of(request).blocklist.entries()
    if door is not None:
        entries = [e for e in entries if e.door in (None, door)]

    def row(e: Any) -> ListEntry:
        return ListEntry(
            user_id=e.pattern,
            reason=e.reason,
            added_at=iso(e.added_at),
            source=e.source,
            hashed=e.hashed,
            status="held" if e.held else "active",  # held: refuses knocks, removes nobody
            door=e.door,
        )

    return Lists(
        blocked_users=[row(e) for e in entries if not e.allow],
        allowed_users=[row(e) for e in entries if e.allow],
    )


@router.get("/blocklist/check", responses={**ADMIN, **INVALID, 404: NO_DOOR})
async def check(
    request: Request,
    user_id: str = Query(min_length=1, max_length=512),
    display_name: str | None = Query(default=None, max_length=512),
    door: str = Depends(one_door),
    _: Actor = Depends(require_admin),
    __: None = Depends(_CHECK_PARAMS),
) -> BlockCheck:
    """Show the verdict for an id (and a display name) at a door (`?door=`, else the default
    door) and every match that led to it."""
    decision = services_of(request).blocklist.check(
        user_id.strip(), user_id, display_name, door=door
    )
    return BlockCheck.model_validate({"user_id": user_id, **decision.as_dict()})


def _own(request: Request, door: str | None) -> str | None:
    """The door a block-list change is about: None for every door's entries (the default
    door's changes are every door's); 404 for a door Knock never had. A door removed from
    DOORS_FILE still counts: its own entries still act in its rooms, and may be removed."""
    if door is None or door == DEFAULT_DOOR:
        return None
    if door not in services_of(request).blocking.door_rooms:
        raise HTTPException(404, f"Knock has no door named {door[:64]!r}")
    return door
