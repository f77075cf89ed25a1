"""The moderators' console, `/console/`: server-rendered pages over the same services as the API.

Signed in with a moderator's Matrix account (a sign-in link sent by direct message) or the API
key (a session in the database, an HttpOnly cookie); every form carries the session's form token.
Door-aware: every page is about one door (`?door=NAME`, `default` without it), picked with the
bar's Door select when Knock has more than one; links and forms keep it.
"""

from fastapi import APIRouter, Depends

from knock.web.console import audit, avatars, blocklist, home, knocks, links, members, review
from knock.web.console.session import UnknownDoor, check_door, unknown_door_page

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_door)])
router.include_router(home.router)
router.include_router(links.router)
router.add_api_route("", home.console_without_slash, methods=["GET"])
router.include_router(review.router)
router.include_router(knocks.router)
router.include_router(blocklist.router)
router.include_router(members.router)
router.include_router(audit.router)
router.include_router(avatars.router)

__all__ = ["UnknownDoor", "router", "unknown_door_page"]
