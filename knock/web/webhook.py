"""The form webhook as a plain ASGI endpoint, ahead of FastAPI's middleware and routers.

A webhook post is Knock's hottest request, and its answer needs nothing FastAPI adds: no
dependency, no model, no `Request` per layer. `KnockApp` hands `POST /invite_from_form` and
`POST /doors/{door}/invite_from_form` (with or without the trailing slash) here; everything
else, the same paths with other methods included, goes through FastAPI, whose routes for these
paths document them in the OpenAPI schema and answer through the same functions below.

What the caller hears is the same either way: the body capped by `BodyLimit` (413), the
reception's reply, a failure the services name as FastAPI's handler answers it (`problem_of`),
and a defect as Starlette's error middleware answers it (a bare 500, the traceback only in the
log).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from knock.core.knocks import DEFAULT_DOOR
from knock.services.compose import Services
from knock.services.errors import problem_of
from knock.services.invites.reception import Delivery, Reply
from knock.web.body_limit import BodyLimit

log = logging.getLogger(__name__)

# The webhook's paths, as FastAPI's routes match them: a door's name is one path segment.
_PATH = re.compile(r"/(?:doors/([^/]+)/)?invite_from_form/?")

NO_SUCH_DOOR = "Knock has no door of that name."


def webhook_door(scope: Scope) -> str | None:
    """The door a webhook post is for, or None when the request is not a webhook post."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    found = _PATH.fullmatch(path)
    if found is None:
        return None
    return found.group(1) or DEFAULT_DOOR


def delivery_of(scope: Scope, body: bytes) -> Delivery:
    """A webhook post as the reception reads it: its headers by lower-cased name (the last of a
    repeated one, as Starlette's `Request.headers` gives it), the `token` query parameter, and
    the connecting address."""
    client = scope.get("client")
    query = scope.get("query_string", b"")
    return Delivery(
        body=body,
        headers={
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        },
        query_token=QueryParams(query).get("token") if query else None,
        peer=client[0] if client else None,
    )


async def reply_to(services: Services, door: str, delivery: Delivery) -> Reply:
    """What the caller of a door's webhook hears."""
    reception = services.receptions.get(door)
    if reception is None:
        return Reply(404, {"detail": NO_SUCH_DOOR})
    return await reception.receive(delivery)


def response_of(reply: Reply) -> Response:
    """A reply as a Starlette response (FastAPI's route)."""
    if reply.location is not None:
        return RedirectResponse(reply.location, status_code=reply.status)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)


async def send_reply(reply: Reply, scope: Scope, receive: Receive, send: Send) -> None:
    """Send a reply: a JSON one straight as ASGI messages, the same bytes and headers as
    `JSONResponse` makes (for the hot path, a response object and its header list fewer); a
    redirect as `RedirectResponse` makes it."""
    if reply.location is not None:
        await response_of(reply)(scope, receive, send)
        return
    content = json.dumps(
        reply.body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in reply.headers.items()
    ]
    headers += [(b"content-length", str(len(content)).encode()), _JSON]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


_JSON = (b"content-type", b"application/json")


class Webhook:
    """The ASGI endpoint for webhook posts (`webhook_door` says which requests are)."""

    def __init__(self, services: Callable[[], Services], limit: int) -> None:
        self.services = services  # the running Knock's, read per request
        self._capped = BodyLimit(self._serve, limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._capped(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = webhook_door(scope)
        assert door is not None
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the caller went away before sending the whole body: nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            reply = await reply_to(self.services(), door, delivery_of(scope, body))
        except Exception as exc:
            found = problem_response(exc)
            if found is None:
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send
                )
                raise
            await found(scope, receive, send)
            return
        await send_reply(reply, scope, receive, send)


def problem_response(exc: Exception) -> JSONResponse | None:
    """The answer to a failure the services name (the database or homeserver down or
    refusing); None for a defect."""
    problem = problem_of(exc)
    if problem is None:
        return None
    if problem.what == "database":
        log.error("Database error: %s", type(exc).__name__)
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
    return JSONResponse({"detail": problem.message}, status_code=problem.status, headers=headers)
