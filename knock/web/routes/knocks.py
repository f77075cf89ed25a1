"""The audit log and the review queue: list knocks, show one, approve or deny."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from knock.core.history import Actor
from knock.core.lifecycle import Reason, State
from knock.services.moderation.actions import NoSuchKnock, NotInReview
from knock.web.answers import ADMIN, HOMESERVER, INVALID, JSON_BODY, Answers, answer
from knock.web.auth import require_admin
from knock.web.models import Denied, DenyFilter, Knock, Knocks, KnockWithHistory, Note
from knock.web.params import given_once
from knock.web.state import services_of
from knock.web.views import knock_view

router = APIRouter()

_LIST_PARAMS = given_once("state", "reason", "user_id", "door", "limit")
_NO_SUCH_KNOCK: Answers = {404: answer("No knock has that id.")}
_NOT_IN_REVIEW: Answers = {409: answer("The knock is not waiting for review (its state is given).")}


@router.get("/knocks", responses={**ADMIN, **INVALID})
async def list_knocks(
    request: Request,
    state: State | None = None,
    reason: Reason | None = Query(
        default=None,
        description="Only knocks with this reason: why one was dropped, rejected, held for "
        "review or failed (fuzzy_match, join_wave, ...).",
    ),
    user_id: str | None = Query(default=None, max_length=512),
    door: str | None = Query(
        default=None,
        max_length=64,
        description="Only knocks through this door (every door's when not given).",
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    _: Actor = Depends(require_admin),
    __: None = Depends(_LIST_PARAMS),
) -> Knocks:
    """List knocks, newest first: the audit log, narrowed by state, reason, person and door."""
    wanted = None if reason is None else reason.value
    audit = services_of(request).audit
    knocks = await audit.knocks(state=state, user_id=user_id, reason=wanted, door=door, limit=limit)
    return Knocks(knocks=[Knock.model_validate(knock_view(k)) for k in knocks], count=len(knocks))


@router.post("/knocks/deny", responses={**ADMIN, **HOMESERVER, **JSON_BODY})
async def deny_batch(
    body: DenyFilter, request: Request, actor: Actor = Depends(require_admin)
) -> Denied:
    """Deny every knock held for review that matches the filter (e.g. a flood's overflow)."""
    denied = await services_of(request).moderation.deny_matching(
        actor, reason=body.reason, user_id=body.user_id, limit=body.limit, note=body.note
    )
    return Denied(denied=denied, count=len(denied))


@router.get("/knocks/{knock_id}", responses={**ADMIN, **_NO_SUCH_KNOCK})
async def show_knock(
    knock_id: str, request: Request, _: Actor = Depends(require_admin)
) -> KnockWithHistory:
    """Show one knock with its whole history and its form's answers."""
    found = await services_of(request).audit.knock(knock_id)
    if found is None:
        raise HTTPException(404, f"No knock has the id {knock_id[:40]!r}")
    return KnockWithHistory.model_validate(knock_view(found.knock, found.history, found.answers))


@router.post(
    "/knocks/{knock_id}/approve",
    responses={**ADMIN, **_NO_SUCH_KNOCK, **_NOT_IN_REVIEW, **JSON_BODY},
)
async def approve(
    knock_id: str, request: Request, note: Note | None = None, actor: Actor = Depends(require_admin)
) -> Knock:
    """Let a knock held for review go ahead to its invite."""
    return await _decide(request, knock_id, actor, note, approve=True)


@router.post(
    "/knocks/{knock_id}/deny",
    responses={**ADMIN, **HOMESERVER, **_NO_SUCH_KNOCK, **_NOT_IN_REVIEW, **JSON_BODY},
)
async def deny(
    knock_id: str, request: Request, note: Note | None = None, actor: Actor = Depends(require_admin)
) -> Knock:
    """Turn a knock held for review down (the person is not told)."""
    return await _decide(request, knock_id, actor, note, approve=False)


async def _decide(
    request: Request, knock_id: str, actor: Actor, note: Note | None, *, approve: bool
) -> Knock:
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
    return Knock.model_validate(knock_view(knock))
