"""The console's session as routes see it: the cookie, the form token, and the way in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from knock.core.addresses import is_trusted
from knock.core.knocks import DEFAULT_DOOR
from knock.services.console.sessions import Opened, Session
from knock.web.pages import page_headers, read_form, render
from knock.web.state import services_of

COOKIE = "knock_console"
PREFIX = "/console"
CSRF_FIELD = "csrf"
MAX_FIELDS = 256
DOOR_FIELD = "door"
# Each section's page, by the name its nav link goes by: where the door switcher leads from a
# page that answered a post (the page's own address takes no GET).
SECTIONS = {
    "overview": "/",
    "review": "/review",
    "knocks": "/knocks",
    "invites": "/invites",
    "blocklist": "/blocklist",
    "members": "/members",
    "audit": "/audit",
}
# What the door switcher keeps of a page's query: its filters and the id it checks, not its
# place in a list (another door's list starts elsewhere) nor a message about what was done.
KEPT_ON_SWITCH = ("q", "state", "reason", "platform", "from", "to", "actor", "action", "user_id")


def root(request: Request) -> str:
    """The console's base path (under a reverse proxy's prefix, if any)."""
    return _root_path(request) + PREFIX


async def current(request: Request) -> Session | None:
    """The request's console session, or None when it is not signed in."""
    return await services_of(request).console.session(request.cookies.get(COOKIE))


async def signed_in(request: Request) -> Session | Response:
    """The session of a page's request, or the answer for a browser without one (sign in), or
    for a door the session does not moderate."""
    session = await current(request)
    if session is None:
        return to_sign_in(request)
    return door_refused(request, session) or session


async def signed_post(
    request: Request, *, every_door: bool = False
) -> tuple[Session, FormData] | Response:
    """The session and form of a post, or the answer when either is missing, or when the session
    does not moderate the page's door (nothing is done). `every_door`: the post changes what
    every door shares (the block-list): only the main door's moderators and the API key may."""
    session = await current(request)
    if session is None:
        return to_sign_in(request)
    refused = door_refused(request, session)
    if refused is None and every_door and not session.may_act_at(DEFAULT_DOOR):
        refused = _not_yours(request)
    if refused is not None:
        return refused
    form = await checked_form(request, session)
    if form is None:
        return refused_form(request)
    return session, form


def door_refused(request: Request, session: Session) -> Response | None:
    """The answer for a page at a door the session may not see, or None.

    A moderator of other doors only, opening the console without `?door=`, is taken to their
    first door; asking for another door by name is refused as though it did not exist.
    """
    if session.doors is None:
        return None
    door = request.query_params.get("door") or DEFAULT_DOOR
    if session.may_act_at(door) or door not in services_of(request).doors:
        return None  # theirs, or not a door at all (the 404 page says so)
    if "door" not in request.query_params and request.method == "GET":
        # Their first door Knock serves (a moderator of a removed door only has none).
        first = next((name for name in services_of(request).doors if name in session.doors), None)
        if first is None:
            return _not_yours(request)
        query = {**request.query_params, "door": first}
        location = f"{request.url.path}?{urlencode(query)}"
        return RedirectResponse(location, status_code=303, headers=console_headers())
    return _not_yours(request)


def _not_yours(request: Request) -> Response:
    context = {
        "console": root(request),
        "assets": _assets(request),
        "heading": "Not your door",
        "message": "You do not moderate that door, so the console shows and does nothing there.",
    }
    return render("console/problem.html", context, 403, headers=console_headers())


class UnknownDoor(Exception):
    """A console page was asked about a door Knock does not have."""


def door_of(request: Request) -> str:
    """The door a console page is about: `?door=NAME`, or the one door, `default`.

    Raise UnknownDoor for a door Knock does not have (answered with a 404 page).
    """
    door = request.query_params.get(DOOR_FIELD) or DEFAULT_DOOR
    if door not in services_of(request).doors:
        raise UnknownDoor(door)
    return door


async def check_door(request: Request) -> None:
    """Refuse a page about a door Knock does not have, before anything else is done."""
    door_of(request)


def unknown_door_page(request: Request, _: Exception) -> Response:
    """Say that there is no such door."""
    context = {
        "console": root(request),
        "assets": _assets(request),
        "heading": "No such door",
        "message": "Knock has no door of that name.",
    }
    return render("console/problem.html", context, 404, headers=console_headers())


def console_url(request: Request, path: str, query: Mapping[str, str | int] | None = None) -> str:
    """A console page's address that stays at the page's door: `?door=NAME` unless `default`.

    `path` is under the console (`/review`), `query` the page's own fields.
    """
    return _linker(root(request), door_of(request))(path, **(query or {}))


def redirect_to(
    request: Request, path: str, query: Mapping[str, str | int] | None = None
) -> Response:
    """Send the browser on to a console page at the same door (303: it asks with GET)."""
    url = console_url(request, path, query)
    return RedirectResponse(url, status_code=303, headers=console_headers())


async def review_count(request: Request) -> int:
    """The review queue's size of the page's door, shown beside **Review** on every page."""
    return await services_of(request).overviews.review_count(door_of(request))


def sign_in_page(
    request: Request,
    status: int = 200,
    problem: str | None = None,
    *,
    link_problem: str | None = None,
    typed: str = "",
) -> Response:
    """The sign-in page: a Matrix ID to send a sign-in link to, and the API key's field."""
    services = services_of(request)
    context = {
        **page_context(request),
        "problem": problem,
        "link_problem": link_problem,
        "typed": typed,
        "by_key": services.console.by_key,
        "by_link": services.console.by_link,
        "bot": services.bot_id,
    }
    return render("console/sign_in.html", context, status, headers=console_headers())


def page_context(request: Request) -> dict[str, str]:
    """What every console page's layout needs, signed in or not."""
    return {"console": root(request), "assets": _assets(request)}


def to_sign_in(request: Request) -> Response:
    """Send a browser without a session to the sign-in page."""
    return RedirectResponse(root(request) + "/", status_code=303, headers=console_headers())


def show(
    request: Request,
    session: Session,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    *,
    review_count: int,
) -> Response:
    """Render a console page for a signed-in moderator: the layout, the nav and the form token."""
    door = door_of(request)
    every = services_of(request).doors
    doors = {name: d for name, d in every.items() if session.may_act_at(name)}  # theirs
    full = {
        "console": root(request),
        "assets": _assets(request),
        "csrf": session.csrf,
        "actor": str(session.actor),
        "review_count": review_count,
        "door": door,
        "door_room": every[door].room,
        # Every door with its room, for the switcher: empty when Knock has one door.
        "doors": [(name, d.room) for name, d in doors.items()] if len(doors) > 1 else [],
        "href": _linker(root(request), door),
        **context,
    }
    if len(doors) > 1:
        full["switch_to"], full["switch_kept"] = _switcher(request, str(full.get("current", "")))
    return render(template, full, status, headers=console_headers())


def _linker(console: str, door: str) -> Callable[..., str]:
    """Make the pages' links: `href("/knocks", state="queued")` keeps the page's door."""

    def href(path: str = "/", **query: str | int) -> str:
        kept = {name: value for name, value in query.items() if value not in ("", None)}
        if door != DEFAULT_DOOR:
            kept[DOOR_FIELD] = door
        return console + path + ("?" + urlencode(kept) if kept else "")

    return href


def _switcher(request: Request, current: str) -> tuple[str, list[tuple[str, str]]]:
    """Where the door switcher leads, and the page's fields it keeps: this page at another door.

    A page that answered a post leads to its section's page (the post's address takes no GET).
    """
    if request.method != "GET":
        return root(request) + SECTIONS.get(current, "/"), []
    kept = [(name, request.query_params.get(name, "")) for name in KEPT_ON_SWITCH]
    return root(request) + _page_path(request), [(name, value) for name, value in kept if value]


def _page_path(request: Request) -> str:
    """The page's path under the console (`/knocks/abc`), behind a proxy's prefix or not."""
    path = request.url.path
    prefix = _root_path(request)
    if prefix and path.startswith(prefix + PREFIX):
        path = path[len(prefix) :]
    return path.removeprefix(PREFIX) or "/"


async def checked_form(request: Request, session: Session) -> FormData | None:
    """The posted form when it carries the session's form token; None otherwise (CSRF)."""
    form = await read_form(request, MAX_FIELDS)  # a broken body: refused like a missing token
    if form is None:
        return None
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not session.form_token_matches(given):
        return None
    return form


def refused_form(request: Request) -> Response:
    """Answer a post without the session's form token: nothing was done."""
    context = {
        "console": root(request),
        "assets": _assets(request),
        "heading": "That form has expired",
        "message": "Nothing was done. Go back, reload the page and try again.",
    }
    return render("console/problem.html", context, 403, headers=console_headers())


def open_session(request: Request, opened: Opened, response: Response) -> Response:
    """Give the browser its session cookie."""
    response.set_cookie(
        COOKIE,
        opened.token,
        max_age=opened.max_age,
        path=root(request) + "/",
        httponly=True,
        samesite="lax",  # a console link opened from a Matrix client arrives signed in
        secure=is_https(request),
    )
    return response


def end_session(request: Request, response: Response) -> Response:
    """Take the session cookie back."""
    response.delete_cookie(COOKIE, path=root(request) + "/", httponly=True, samesite="lax")
    return response


def is_https(request: Request) -> bool:
    """Whether the browser reached Knock over https (directly, or through a trusted proxy)."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    peer = request.client.host if request.client else None
    trusted = services_of(request).settings.trusted_proxies
    return proto == "https" and peer is not None and is_trusted(peer, trusted)


def console_headers() -> dict[str, str]:
    """The console's headers: the pages' own, never cached, never shown in a frame."""
    return page_headers(referrer="same-origin")


def _assets(request: Request) -> str:
    return _root_path(request) + "/knock/assets"


def _root_path(request: Request) -> str:
    path = request.scope.get("root_path", "")
    return path.rstrip("/") if isinstance(path, str) else ""
