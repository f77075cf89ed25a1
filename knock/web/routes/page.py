"""Knock's own knock page: `GET /knock` (the form), `POST /knock`, `/knock/<token>` (the status);
each other door's at `/doors/<name>/knock` (its status links are `/knock/<token>` too).

Every answer is a page a person can read (or `{"state"}` for a status asked for as JSON): never
raw JSON for a form's post, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from knock.core.knocks import DEFAULT_DOOR
from knock.core.page_status import PageState
from knock.services.knock_page.page import Answer, KnockPage, PagePost
from knock.web.pages import page_headers, read_form, render
from knock.web.state import services_of

router = APIRouter()

ASSETS = "/knock/assets"
MAX_FIELDS = 64

_STATUS = {
    Answer.FIX_ID: 422,
    Answer.SLOW_DOWN: 429,
    Answer.NOT_HERE: 403,
    Answer.UNREADABLE: 400,
    Answer.UNAVAILABLE: 503,
}

_HEADINGS = {
    PageState.RECEIVED: "Request received",
    PageState.NOT_FOUND: "We could not find that account",
    PageState.INVITED: "You are invited",
    PageState.JOINED: "You are in",
    PageState.EXPIRED: "This invite is no longer open",
}
_FINAL = frozenset({PageState.NOT_FOUND, PageState.JOINED, PageState.EXPIRED})


def _page(request: Request, door: str = DEFAULT_DOOR) -> KnockPage:
    return services_of(request).knock_pages[door]


def _urls(request: Request, door: str = DEFAULT_DOOR) -> dict[str, str]:
    root = request.scope.get("root_path", "").rstrip("/")
    form = root + ("/knock" if door == DEFAULT_DOOR else f"/doors/{door}/knock")
    return {"assets": root + ASSETS, "action": form, "form_url": form, "status": root + "/knock"}


@router.get("/knock", include_in_schema=False)
async def knock_form(request: Request) -> Response:
    """Show the knock page's form."""
    return _form(request, _page(request), 200)


@router.post("/knock", include_in_schema=False)
async def knock_post(request: Request) -> Response:
    """Take the form: 303 to the knock's status link, or the form again saying what to fix."""
    return await _take(request, _page(request))


@router.get("/doors/{door}/knock", include_in_schema=False)
async def door_knock_form(request: Request, door: str) -> Response:
    """Show a door's knock page."""
    page = services_of(request).knock_pages.get(door)
    return _no_door(request) if page is None else _form(request, page, 200)


@router.post("/doors/{door}/knock", include_in_schema=False)
async def door_knock_post(request: Request, door: str) -> Response:
    """Take a door's knock page's form."""
    page = services_of(request).knock_pages.get(door)
    return _no_door(request) if page is None else await _take(request, page)


def _no_door(request: Request) -> Response:
    page = _page(request)
    context = {
        "page": page,
        "heading": "No such page",
        "message": "Knock has no door of that name: check the address.",
        **_urls(request),
    }
    return render("problem.html", context, 404, headers=page_headers())


async def _take(request: Request, page: KnockPage) -> Response:
    fields = await _fields(request)
    if fields is None:
        return _form(request, page, 400, notice="The form could not be read; send it again.")
    post = PagePost(
        fields=fields,
        headers={name.lower(): value for name, value in request.headers.items()},
        peer=request.client.host if request.client else None,
    )
    answer = await page.knock(post)
    if answer.answer is Answer.STATUS:
        assert answer.token is not None
        location = _urls(request)["status"] + "/" + answer.token
        headers = page_headers(referrer="no-referrer")
        return RedirectResponse(location, status_code=303, headers=headers)
    status = _STATUS[answer.answer]
    if answer.answer is Answer.FIX_ID:
        return _form(request, page, status, problem=answer.problem, fields=fields)
    if answer.answer in (Answer.UNREADABLE,):
        return _form(request, page, status, notice=answer.problem, fields=fields)
    headers = page_headers()
    if answer.retry_after is not None:
        headers["Retry-After"] = str(answer.retry_after)
    elif answer.answer is Answer.UNAVAILABLE:
        headers["Retry-After"] = "60"
    heading = {
        Answer.SLOW_DOWN: "Please wait a little",
        Answer.NOT_HERE: "This form is not accepted from here",
        Answer.UNAVAILABLE: "Knock cannot take requests right now",
    }[answer.answer]
    context = {
        "page": page,
        "heading": heading,
        "message": answer.problem,
        **_urls(request, page.door),
    }
    return render("problem.html", context, status, headers=headers)


@router.get("/knock/challenge", include_in_schema=False)
async def challenge(request: Request) -> Response:
    """A proof-of-work challenge, for an HTML form elsewhere that posts to the webhook."""
    text = services_of(request).proofs.challenge()
    if text is None:
        return JSONResponse({"detail": "No proof of work is asked (KNOCK_PAGE_POW_BITS)."}, 404)
    # Any page may fetch one (it is worth nothing until solved); none may be reused.
    headers = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
    return JSONResponse({"challenge": text}, headers=headers)


@router.get(
    "/knock/{token}",
    responses={
        200: {
            "description": "Where the knock stands, as a page, or as JSON with "
            "`Accept: application/json`.",
            "content": {
                "text/html": {},
                "application/json": {
                    "example": {"state": "received"},
                    "schema": {
                        "type": "object",
                        "properties": {"state": {"enum": [s.value for s in PageState]}},
                        "required": ["state"],
                    },
                },
            },
        },
        404: {"description": "No knock has this link (or it was erased by RETENTION)."},
    },
    tags=["public"],
)
async def knock_status(request: Request, token: str) -> Response:
    """Say where a knock stands, in words or as `{"state": ...}`; it never reveals a decision.

    `received` covers everything before an invite and every refusal; `not_found` means the
    homeserver says the account does not exist; then `invited`, `joined` or `expired`.
    """
    status = await _page(request).status(token)
    page = _page(
        request, status.door if status and status.door in _pages(request) else DEFAULT_DOOR
    )
    wants_json = _wants_json(request)
    headers = page_headers(referrer="no-referrer")
    headers["X-Robots-Tag"] = "noindex"
    if status is None:
        if wants_json:
            return JSONResponse({"detail": "No knock has this link."}, 404, headers=headers)
        context = {
            "page": page,
            "heading": "No knock has this link",
            "message": "Check that the address was copied whole, or ask to join again.",
            **_urls(request),
        }
        return render("problem.html", context, 404, headers=headers)
    if wants_json:
        return JSONResponse({"state": status.state.value}, headers=headers)
    urls = _urls(request, page.door)
    context = {
        "page": page,
        "state": status.state.value,
        "heading": _HEADINGS[status.state],
        "final": status.state in _FINAL,
        "user_id": status.user_id,
        "room": page.room_name or "the room",
        "invite_days": max(1, round(page.settings.invite_ttl / 86400)),
        "self_url": urls["status"] + "/" + token,
        **urls,
    }
    return render("status.html", context, headers=headers)


def _form(
    request: Request,
    page: KnockPage,
    status: int,
    *,
    problem: str | None = None,
    notice: str | None = None,
    fields: dict[str, str] | None = None,
) -> Response:
    fields = fields or {}
    context = {
        "page": page,
        "challenge": page.proofs.challenge(),
        "problem": problem,
        "notice": notice,
        "typed": fields.get("matrix_id", "")[:255],
        "answers": fields,
        **_urls(request, page.door),
    }
    return render("knock.html", context, status)


async def _fields(request: Request) -> dict[str, str] | None:
    """The form's text fields (the first value of each), or None when it cannot be read."""
    form = await read_form(request, MAX_FIELDS)
    if form is None:
        return None
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields


def _pages(request: Request) -> Mapping[str, KnockPage]:
    return services_of(request).knock_pages


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept
