"""People's avatars, for signed-in console pages: `<img src="{{ avatar_path(...) }}">`.

Served from Knock's cache (never fetched from the homeserver per view), only as the raster image
its bytes showed when it was kept, with headers that keep a browser from reading it as anything
else.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from knock.web.console.session import current, root
from knock.web.state import services_of

router = APIRouter()

MAX_AGE = 3600  # seconds a browser may reuse an avatar


def avatar_path(request: Request, user_id: str) -> str:
    """Where a console page finds a person's avatar."""
    return f"{root(request)}/avatars/{quote(user_id, safe='@:')}"


@router.get("/avatars/{user_id:path}")
async def avatar(user_id: str, request: Request) -> Response:
    """A person's cached avatar: 401 without a session, 404 when none is kept."""
    if await current(request) is None:
        return Response(status_code=401, headers=_NOT_STORED)
    found = await services_of(request).profiles.avatar(user_id)
    if found is None:
        return Response(status_code=404, headers=_NOT_STORED)
    return Response(
        found.content,
        media_type=found.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": f"private, max-age={MAX_AGE}",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


_NOT_STORED = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
