"""Every knock, filtered and paged; one knock's detail; the pending invites."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from knock.core.knock_filter import MAX_TEXT, Cursor, KnockFilter
from knock.core.lifecycle import Reason, State
from knock.services.console.invites import Done
from knock.services.console.sessions import Session
from knock.services.errors import caller_facing_errors
from knock.web.console.session import (
    console_url,
    door_of,
    redirect_to,
    review_count,
    show,
    signed_in,
    signed_post,
)
from knock.web.state import services_of

router = APIRouter()

STATES = [state.value for state in State]
REASONS = [reason.value for reason in Reason]
# The filters as the list's query names them; the page links keep them.
FILTERS = ("q", "state", "reason", "platform", "from", "to")
OLDER, NEWER = "older", "newer"
ID_LIMIT = 64  # a knock id is far shorter; anything longer is not one
FIRST_YEAR, LAST_YEAR = 1970, 9998  # dates the filter takes (a day after the last still exists)

# What a Remind now or Rescind came to, by the code in the query: fixed words, never posted text.
FLASHES = {
    Done.REMINDED.value: "The reminder was sent.",
    Done.ALREADY_REMINDED.value: "Nothing was sent: that person was reminded before.",
    Done.RESCINDED.value: "The invite was rescinded.",
    Done.NOT_PENDING.value: "Nothing was done: that invite is no longer pending.",
    "failed": "Nothing was done: the homeserver or the database did not answer. Try again.",
}


@router.get("/knocks")
async def knocks(request: Request) -> Response:
    """Every knock, newest first, filtered by the form's fields, a page at a time."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    query = request.query_params
    given = {name: (query.get(name) or "").strip() for name in FILTERS}
    wanted, problems = read_filter(given)
    door = door_of(request)
    wanted = replace(wanted, door=door)
    search = services_of(request).knock_search
    context: dict[str, Any] = {
        "current": "knocks",
        "given": given,
        "problems": problems,
        "states": STATES,
        "reasons": REASONS,
        "platforms": await search.sources(door),
        "max_text": MAX_TEXT,
        "listing": None,
    }
    if problems:
        return await _show(request, session, "console/knocks.html", context, 400)
    listing = await search.knocks(
        wanted,
        older_than=Cursor.parse(query.get(OLDER)),
        newer_than=Cursor.parse(query.get(NEWER)),
    )
    kept = {name: value for name, value in given.items() if value}
    context["listing"] = listing
    context["filtered"] = bool(kept)
    if listing.newer is not None:
        context["newer_link"] = console_url(request, "/knocks", {**kept, NEWER: str(listing.newer)})
    if listing.older is not None:
        context["older_link"] = console_url(request, "/knocks", {**kept, OLDER: str(listing.older)})
    return await _show(request, session, "console/knocks.html", context)


@router.get("/knocks/{knock_id}")
async def knock_detail(request: Request, knock_id: str) -> Response:
    """One knock: its facts (its own door among them), its answers and its whole history.

    Found by id whatever door the page is at: the layout stays at that door.
    """
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    detail = None
    if len(knock_id) <= ID_LIMIT:
        detail = await services_of(request).knock_search.knock(knock_id)
    if detail is None or not session.may_act_at(detail.knock.door):
        missing = {
            "current": "knocks",
            "heading": "No such knock",
            "message": "No knock has that id: it may have been erased after its retention time.",
        }
        return await _show(request, session, "console/problem.html", missing, 404)
    context = {"current": "knocks", "detail": detail, "knock": detail.knock}
    return await _show(request, session, "console/knock_detail.html", context)


@router.get("/invites")
async def invites(request: Request) -> Response:
    """Knock's invites pending now, with Remind now and Rescind."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    door = door_of(request)
    settings = services_of(request).doors[door].settings  # INVITE_TTL is the door's own
    context: dict[str, Any] = {
        "current": "invites",
        "flash": FLASHES.get(request.query_params.get("done", "")),
        "reminder_after": how_long(settings.reminder_after),
        "invite_ttl": how_long(settings.invite_ttl),
        "how_long": how_long,
        "now": services_of(request).clock.now(),
    }
    try:
        # Asks the homeserver for the room's invites, once per view (see Invites.pending).
        context["pending"] = await services_of(request).invites.pending(door)
    except caller_facing_errors():
        context["pending"] = None
        return await _show(request, session, "console/invites.html", context, 503)
    return await _show(request, session, "console/invites.html", context)


@router.post("/invites/{knock_id}/remind")
async def remind(request: Request, knock_id: str) -> Response:
    """Send the invite's reminder now (the one Knock would send after REMINDER_AFTER)."""
    return await _act(request, knock_id, remind=True)


@router.post("/invites/{knock_id}/rescind")
async def rescind(request: Request, knock_id: str) -> Response:
    """Revoke the pending invite."""
    return await _act(request, knock_id, remind=False)


async def _act(request: Request, knock_id: str, *, remind: bool) -> Response:
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    session, _ = posted
    done = Done.NOT_PENDING.value
    if len(knock_id) <= ID_LIMIT:
        desk = services_of(request).invites
        try:
            if remind:
                done = (await desk.remind(knock_id, session.actor, session.doors)).value
            else:
                done = (await desk.rescind(knock_id, session.actor, session.doors)).value
        except caller_facing_errors():
            done = "failed"
    return redirect_to(request, "/invites", {"done": done})


def read_filter(given: dict[str, str]) -> tuple[KnockFilter, dict[str, str]]:
    """The filter the form's fields ask for, and what is wrong with any of them (by field)."""
    problems: dict[str, str] = {}
    state = None
    if given["state"]:
        if given["state"] in STATES:
            state = State(given["state"])
        else:
            problems["state"] = "Choose a state from the list."
    if given["reason"] and given["reason"] not in REASONS:
        problems["reason"] = "Choose a reason from the list."
    if len(given["platform"]) > ID_LIMIT:
        problems["platform"] = "Choose a platform from the list."
    if len(given["q"]) > MAX_TEXT:
        problems["q"] = f"Search for at most {MAX_TEXT} characters."
    since = _day(given["from"], problems, "from")
    until = _day(given["to"], problems, "to")
    if since is not None and until is not None and since > until:
        problems["to"] = "The last day is before the first."
    wanted = KnockFilter(
        state=state,
        reason=given["reason"] or None,
        source=given["platform"] or None,
        since=since.timestamp() if since else None,
        until=(until + timedelta(days=1)).timestamp() if until else None,  # the whole last day
        text=given["q"] or None,
    )
    return wanted, problems


def _day(text: str, problems: dict[str, str], field: str) -> datetime | None:
    """Midnight (UTC) of a YYYY-MM-DD date, or None (a problem noted when it is not one)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        problems[field] = "Write a date from 1970 on as YYYY-MM-DD."
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def how_long(seconds: float) -> str:
    """A duration in words, to the two largest units: "2 days 3 hours", "5 minutes"."""
    left = max(0, int(seconds))
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or "less than a minute"


async def _show(
    request: Request, session: Session, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    count = await review_count(request)
    return show(request, session, template, context, status, review_count=count)
