"""The review queue: held knocks, their answers and why; approved or denied, alone or together."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from knock.services.console.review import MOST_AT_ONCE, Decided
from knock.services.console.sessions import Session
from knock.services.errors import caller_facing_errors, problem_of
from knock.web.console.session import door_of, redirect_to, show, signed_in, signed_post
from knock.web.state import services_of

router = APIRouter()

APPROVE = "approve"
DENY = "deny"
KNOCK_FIELD = "knock"  # the checkboxes of the knocks selected together
NOTE_FIELD = "note"
ID_LIMIT = 64  # a knock id is far shorter; anything longer is not one


@router.get("/review")
async def review(request: Request) -> Response:
    """The knocks held for review, oldest first, each with Approve and Deny."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    services = services_of(request)
    queue = await services.reviews.queue(door_of(request))
    profiles = await services.profiles.of(dict.fromkeys(h.knock.user_id for h in queue.held))
    context = {
        "current": "review",
        "queue": queue,
        "profiles": profiles,
        "flash": flash(request),
        "approve": APPROVE,
        "deny": DENY,
    }
    return show(request, session, "console/review.html", context, review_count=queue.total)


@router.post("/review/{knock_id}/approve")
async def approve(request: Request, knock_id: str) -> Response:
    """Let one knock go ahead to its invite."""
    return await _decide(request, [knock_id], APPROVE)


@router.post("/review/{knock_id}/deny")
async def deny(request: Request, knock_id: str) -> Response:
    """Turn one knock down, with an optional note only moderators see."""
    return await _decide(request, [knock_id], DENY)


@router.post("/review/selected")
async def decide_selected(request: Request) -> Response:
    """Approve or deny the knocks selected with their checkboxes, all at once."""
    return await _decide(request, None, None)


async def _decide(request: Request, knock_ids: list[str] | None, action: str | None) -> Response:
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    if knock_ids is None:
        knock_ids = _selected(form)
    action = action or _text(form.get("action"))
    if action not in (APPROVE, DENY):
        return _back(request, {"done": "unknown"})
    knock_ids = [k for k in knock_ids if 0 < len(k) <= ID_LIMIT][:MOST_AT_ONCE]
    if not knock_ids:
        return _back(request, {"done": "none"})
    reviews = services_of(request).reviews
    try:
        if action == APPROVE:
            decided = await reviews.approve(knock_ids, session.actor, session.doors)
        else:
            note = _text(form.get(NOTE_FIELD))
            decided = await reviews.deny(knock_ids, session.actor, note, session.doors)
    except caller_facing_errors() as exc:
        return await _went_wrong(request, session, exc)
    return _back(request, _said(action, decided))


def _selected(form: FormData) -> list[str]:
    return [value for value in form.getlist(KNOCK_FIELD) if isinstance(value, str)]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _said(action: str, decided: Decided) -> dict[str, str | int]:
    """The query that picks the confirmation: a fixed code and counts, never posted text."""
    code = ("approved" if action == APPROVE else "denied") if decided.done else "gone"
    return {"done": code, "n": len(decided.done), "gone": decided.gone}


def _back(request: Request, query: dict[str, str | int]) -> Response:
    """Back to the review queue at the same door (303: the browser asks for it with GET)."""
    return redirect_to(request, "/review", query)


def flash(request: Request) -> str | None:
    """The confirmation for the code in the query: a fixed message with counts, or None."""
    code = request.query_params.get("done")
    count = _count(request.query_params.get("n"))
    gone = _count(request.query_params.get("gone"))
    knocks = f"{count} knock{'' if count == 1 else 's'}"
    already = ""
    if gone:
        already = f" {gone} {'was' if gone == 1 else 'were'} no longer waiting for review."
    if code == "approved":
        invites = "its invite is" if count == 1 else "their invites are"
        return f"Approved {knocks}: {invites} on the way.{already}"
    if code == "denied":
        return f"Denied {knocks}. Nobody is told.{already}"
    if code == "gone":
        return "Nothing was done: no longer waiting for review (decided meanwhile)."
    if code == "none":
        return "Nothing was done: select at least one knock first."
    if code == "unknown":
        return "Nothing was done: choose Approve selected or Deny selected."
    return None


def _count(given: str | None) -> int:
    try:
        count = int(given or 0)
    except ValueError:
        return 0
    return count if 0 <= count <= MOST_AT_ONCE else 0


async def _went_wrong(request: Request, session: Session, exc: Exception) -> Response:
    """The database or the homeserver failed part way: say so; what was decided stays decided."""
    problem = problem_of(exc)
    message = problem.message if problem else "Something went wrong"
    context = {
        "current": "review",
        "heading": "That did not go through",
        "message": f"{message}. Reload the review queue to see what was decided.",
    }
    status = problem.status if problem else 500
    try:
        count = await services_of(request).overviews.review_count(door_of(request))
    except caller_facing_errors():
        count = 0  # the database is what failed
    return show(request, session, "console/problem.html", context, status, review_count=count)
