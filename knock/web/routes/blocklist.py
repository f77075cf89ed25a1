"""Block-list routes: block, unblock, allow, list and check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from knock.core.history import Actor
from knock.services.blocklist.actions import NeedsConfirmation, NotBlocked
from knock.services.blocklist.index import BadPattern
from knock.web.auth import require_admin
from knock.web.state import services_of
from knock.web.views import iso

router = APIRouter()


class BlockRequest(BaseModel):
    """Block a Matrix ID, a pattern like `@spam*:*`, or a server."""

    user_id: str = Field(min_length=1, max_length=512, examples=["@troll:example.org"])
    reason: str | None = Field(default=None, max_length=2000)
    dry_run: bool = False
    confirm: bool = False


class EntryRequest(BaseModel):
    """Name one block-list or allow-list entry."""

    user_id: str = Field(min_length=1, max_length=512)
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/block_user", response_model=None)
async def block_user(
    body: BlockRequest, request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any] | JSONResponse:
    """Add an entry and remove everyone it covers now (revoke invites, kick, decline knocks)."""
    services = services_of(request)
    try:
        entry = services.blocklist.entry_for(body.user_id, reason=body.reason, source=str(actor))
        result = await services.blocking.block(
            entry, actor, dry_run=body.dry_run, confirm=body.confirm
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
    return result.as_dict()


@router.post("/unblock_user")
async def unblock_user(
    body: EntryRequest, request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Remove an entry (and lift any ban Knock placed because of it)."""
    try:
        result = await services_of(request).blocking.unblock(body.user_id, actor)
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    except NotBlocked as exc:
        raise HTTPException(404, f"{exc} is not on the block-list") from None
    return result.as_dict()


@router.post("/allow_user")
async def allow_user(
    body: EntryRequest, request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Add an allow-list entry: it overrides any block-list match for the ids it covers."""
    blocklist = services_of(request).blocklist
    try:
        entry = blocklist.entry_for(body.user_id, allow=True, reason=body.reason, source=str(actor))
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    await blocklist.add(entry)
    return {"status": "allowed", "entry": {"user_id": entry.pattern, "reason": entry.reason}}


@router.post("/unallow_user")
async def unallow_user(
    body: EntryRequest, request: Request, _: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Remove an allow-list entry."""
    try:
        removed = await services_of(request).blocklist.remove(body.user_id, allow=True)
    except BadPattern as exc:
        raise HTTPException(422, f"user_id: {exc}") from None
    if not removed:
        raise HTTPException(404, f"{body.user_id[:80]} is not on the allow-list")
    return {"status": "removed", "entry": body.user_id.strip()}


@router.get("/blocklist")
async def blocklist(request: Request, _: Actor = Depends(require_admin)) -> dict[str, Any]:
    """List the block-list (the original shape) and the allow-list."""
    entries = await services_of(request).blocklist.entries()

    def row(e: Any) -> dict[str, Any]:
        return {
            "user_id": e.pattern,
            "reason": e.reason,
            "added_at": iso(e.added_at),
            "source": e.source,
            "hashed": e.hashed,
            "status": "held" if e.held else "active",  # held: refuses knocks, removes nobody
        }

    return {
        "blocked_users": [row(e) for e in entries if not e.allow],
        "allowed_users": [row(e) for e in entries if e.allow],
    }


@router.get("/blocklist/check")
async def check(
    request: Request,
    user_id: str = Query(min_length=1, max_length=512),
    display_name: str | None = Query(default=None, max_length=512),
    _: Actor = Depends(require_admin),
) -> dict[str, Any]:
    """Show the verdict for an id (and a display name) and every match that led to it."""
    decision = services_of(request).blocklist.check(user_id.strip(), user_id, display_name)
    return {"user_id": user_id, **decision.as_dict()}
