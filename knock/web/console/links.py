"""Signing in with Matrix: ask for a sign-in link, and use it.

`POST /console/sign-in-link` answers the same whatever the Matrix ID (the link is sent, or not,
by a job afterwards). `GET /console/link/<token>` shows a **Sign in** button and uses nothing up
(a chat client's link preview fetches it); the button's post uses the link and signs in the
browser that opened it. The token is a secret: the link's pages send no referrer, are never
cached, and the logs show the path as `/console/link/REDACTED`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from knock.core.addresses import client_address
from knock.core.forms.callers import same_site_post
from knock.core.mxid import InvalidMatrixId, validate
from knock.services.console.links import LINK_TTL
from knock.web.console.session import (
    console_headers,
    open_session,
    page_context,
    root,
    sign_in_page,
)
from knock.web.pages import page_headers, read_form, render
from knock.web.state import services_of

router = APIRouter()

NOT_AN_ID = "That is not a Matrix ID: write it as @name:server."


@router.post("/sign-in-link")
async def ask_for_link(request: Request) -> Response:
    """Take a request for a sign-in link; say the same thing whoever it names."""
    services = services_of(request)
    if not services.sign_in_links.enabled:
        return sign_in_page(request, 404, link_problem="Sign-in links are off (PUBLIC_URL).")
    if not same_site_post(request.headers, frozenset()):
        return _refused(request)
    form = await read_form(request, 8)
    raw = form.get("matrix_id") if form is not None else None
    typed = raw.strip() if isinstance(raw, str) else ""
    try:
        user_id = validate(typed)
    except InvalidMatrixId:
        return sign_in_page(request, 422, link_problem=NOT_AN_ID, typed=typed[:300])
    peer = request.client.host if request.client else None
    caller = client_address(
        peer, request.headers.get("x-forwarded-for"), services.settings.trusted_proxies
    )
    address = services.intake.hash_address(caller.address) or "unknown"
    asked = await services.sign_in_links.ask(user_id, address)
    if asked.retry_after is not None:
        minutes = max(1, round(asked.retry_after / 60))
        headers = {**console_headers(), "Retry-After": str(max(1, int(asked.retry_after)))}
        context = {
            **page_context(request),
            "heading": "Too many sign-in links asked for",
            "message": f"Too many links were asked for from here. Try again in {minutes} minutes.",
        }
        return render("console/problem.html", context, 429, headers=headers)
    context = {
        **page_context(request),
        "heading": "Check your direct messages",
        "message": (
            f"If {user_id} may moderate, a sign-in link is on its way to it in a direct "
            f"message from {services.bot_id or 'Knock'}. The link works once, within "
            f"{int(LINK_TTL // 60)} minutes."
        ),
    }
    return render("console/problem.html", context, 200, headers=console_headers())


@router.get("/link/{token}")
async def link_page(request: Request, token: str) -> Response:
    """Show the **Sign in** button of a link (nothing is used up here)."""
    if not await services_of(request).sign_in_links.usable(token):
        return _spent(request)
    context = {**page_context(request), "action": f"{root(request)}/link/{token}"}
    return render("console/link.html", context, 200, headers=_link_headers())


@router.post("/link/{token}")
async def use_link(request: Request, token: str) -> Response:
    """Use the link up and sign this browser in as its moderator."""
    if not same_site_post(request.headers, frozenset()):
        return _refused(request)
    services = services_of(request)
    user_id = await services.sign_in_links.use(token)
    if user_id is None:
        return _spent(request)
    opened = await services.console.sign_in_moderator(user_id)
    response = RedirectResponse(root(request) + "/", status_code=303, headers=_link_headers())
    return open_session(request, opened, response)


def _spent(request: Request) -> Response:
    context = {
        **page_context(request),
        "heading": "This sign-in link no longer works",
        "message": (
            "It has been used, it is more than "
            f"{int(LINK_TTL // 60)} minutes old, or its account may no longer moderate. "
            "Ask for a new one on the sign-in page."
        ),
    }
    return render("console/problem.html", context, 410, headers=_link_headers())


def _refused(request: Request) -> Response:
    context = {
        **page_context(request),
        "heading": "That form has expired",
        "message": "Nothing was done. Open the console's sign-in page and try again.",
    }
    return render("console/problem.html", context, 403, headers=_link_headers())


def _link_headers() -> dict[str, str]:
    """A link's pages: never cached, and no referrer carries the token anywhere."""
    return page_headers(referrer="no-referrer")
