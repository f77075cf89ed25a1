"""Signing in and out, and the overview."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from knock.core.forms.callers import same_site_post
from knock.core.lifecycle import State
from knock.web.console.session import (
    COOKIE,
    console_headers,
    current,
    door_of,
    door_refused,
    end_session,
    open_session,
    redirect_to,
    root,
    show,
    sign_in_page,
    signed_post,
)
from knock.web.state import services_of

router = APIRouter()

# The states the overview counts, in the order a knock goes through them.
STATES = [state.value for state in State if state is not State.RECEIVED]
WRONG_KEY = "That is not the API key."


@router.get("/")
async def overview(request: Request) -> Response:
    """The overview, or the sign-in page without a session."""
    session = await current(request)
    if session is None:
        return sign_in_page(request)
    refused = door_refused(request, session)
    if refused is not None:
        return refused
    overviews = services_of(request).overviews
    shown = await overviews.overview(door_of(request))
    context = {"current": "overview", "overview": shown, "states": STATES}
    return show(request, session, "console/overview.html", context, review_count=shown.review)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Open a session for the holder of the API key."""
    if not same_site_post(request.headers, frozenset()):
        return sign_in_page(request, 403, "That form came from another site; nothing was done.")
    try:
        form = await request.form(max_files=0, max_fields=8)
    except Exception:
        return sign_in_page(request, 400, "The form could not be read; try again.")
    key = form.get("api_key")
    opened = None
    if isinstance(key, str) and key:
        opened = await services_of(request).console.sign_in(key)
    if opened is None:
        return sign_in_page(request, 401, WRONG_KEY)
    response = RedirectResponse(root(request) + "/", status_code=303, headers=console_headers())
    return open_session(request, opened, response)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session."""
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    await services_of(request).console.sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse(root(request) + "/", status_code=303, headers=console_headers())
    return end_session(request, response)


@router.post("/join-wave/reset")
async def reset_join_wave(request: Request) -> Response:
    """Close the join-wave breaker of the page's door."""
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    await services_of(request).intake.reset_join_wave(posted[0].actor, door_of(request))
    return redirect_to(request, "/")


@router.get("/counts")
async def counts(request: Request) -> Response:
    """The live counts the pages show (`{"review": n}`), for the console's script."""
    session = await current(request)
    if session is None:
        return JSONResponse({"detail": "Sign in to the console"}, 401)
    if not session.may_act_at(door_of(request)):
        return JSONResponse({"detail": "Not your door"}, 403)
    review = await services_of(request).overviews.review_count(door_of(request))
    return JSONResponse({"review": review}, headers={"Cache-Control": "no-store"})


async def console_without_slash(request: Request) -> Response:
    """`/console` leads to `/console/`."""
    return RedirectResponse(root(request) + "/", status_code=308)
