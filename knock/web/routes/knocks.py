"""The audit log and the review queue: list knocks, show one, approve or deny."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.moderation.actions import NoSuchKnock, NotInReview
from knock.web.auth import require_admin
from knock.web.state import services_of
from knock.web.views import knock_view

router = APIRouter()


class Note(BaseModel):
    """A moderator's note on a decision, kept in the audit log."""

    reason: str | None = Field(default=None, max_length=2000)


@router.get("/knocks")
async def list_knocks(
    request: Request,
    state: State | None = None,
    user_id: str | None = Query(default=None, max_length=512),
    limit: int = Query(default=100, ge=1, le=1000),
    _: Actor = Depends(require_admin),
) -> dict[str, Any]:
    """List knocks, newest first: the audit log."""
    knocks = await services_of(request).audit.knocks(state=state, user_id=user_id, limit=limit)
    return {"knocks": [knock_view(k) for k in knocks], "count": len(knocks)}


class DenyFilter(BaseModel):
    """Which knocks held for review to deny at once."""

    reason: str | None = Field(default=None, examples=["deferred_overflow", "join_wave"])
    user_id: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=1000, ge=1, le=100_000)
    note: str | None = Field(default=None, max_length=2000)


@router.post("/knocks/deny")
async def deny_batch(
    body: DenyFilter, request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Deny every knock held for review that matches the filter (e.g. a flood's overflow)."""
    denied = await services_of(request).moderation.deny_matching(
        actor, reason=body.reason, user_id=body.user_id, limit=body.limit, note=body.note
    )
    return {"denied": denied, "count": len(denied)}


@router.get("/knocks/{knock_id}")
async def show_knock(
    knock_id: str, request: Request, _: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Show one knock with its whole history."""
    found = await services_of(request).audit.knock(knock_id)
    if found is None:
        raise HTTPException(404, f"No knock has the id {knock_id[:40]!r}")
    return knock_view(found.knock, found.history)


@router.post("/knocks/{knock_id}/approve")
async def approve(
    knock_id: str, request: Request, note: Note | None = None, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Let a knock held for review go ahead to its invite."""
    return await _decide(request, knock_id, actor, note, approve=True)


@router.post("/knocks/{knock_id}/deny")
async def deny(
    knock_id: str, request: Request, note: Note | None = None, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Turn a knock held for review down (the person is not told)."""
    return await _decide(request, knock_id, actor, note, approve=False)


async def _decide(
    request: Request, knock_id: str, actor: Actor, note: Note | None, *, approve: bool
) -> dict[str, Any]:
    moderation = services_of(request).moderation
    reason = note.reason if note else None
    try:
        if approve:
            knock = await moderation.approve(knock_id, actor, reason)
        else:
            knock = await moderation.deny(knock_id, actor, reason)
    except NoSuchKnock:
        raise HTTPException(404, f"No knock has the id {knock_id[:40]!r}") from None
    except NotInReview as exc:
        raise HTTPException(409, f"That knock is not waiting for review (it is {exc})") from None
    return knock_view(knock)
