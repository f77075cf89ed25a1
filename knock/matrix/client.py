"""The Matrix client-server API, through one request path that paces, waits and retries."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx

from knock import metrics
from knock.clock import Clock
from knock.core.media import MediaId
from knock.core.retry import backoff_delay, retry_after_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

API = "/_matrix/client/v3"
MEDIA_API = "/_matrix/client/v1/media"  # authenticated media (Matrix 1.11)
LEGACY = "/_matrix/media/v3"  # media before 1.11, for a homeserver without the above
_AS_SENT = {"Accept-Encoding": "identity"}  # media is read as stored, never decompressed
_RETRYABLE_STATUS = frozenset({502, 503, 504})

# Called on M_UNKNOWN_TOKEN: returns a fresh access token, or None when Knock cannot log in again.
Relogin = Callable[[], Awaitable[str | None]]


class MatrixError(Exception):
    """The homeserver answered with an error."""

    def __init__(self, status: int, errcode: str, error: str) -> None:
        super().__init__(f"{status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error


class HomeserverUnavailable(MatrixError):
    """The homeserver could not be reached, or kept answering 502/503/504."""


class RateLimited(MatrixError):
    """The homeserver asked us to wait longer than we wait inside one request."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(429, "M_LIMIT_EXCEEDED", f"asked to wait {retry_after:.0f}s")
        self.retry_after = retry_after


def _outcome(status: int) -> str:
    """How a call that got an answer ended, as `knock_homeserver_calls` counts it."""
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "unavailable" if status in _RETRYABLE_STATUS else "error"


def _endpoint(path: str) -> str:
    """A path without its ids, for logs: `.../v3/rooms/%21r/invite` -> `rooms/invite`."""
    parts = path.split("?")[0].removeprefix(API).strip("/").split("/")
    return "/".join(part for part in parts if part and not part.startswith("%"))


class Pacer(Protocol):
    """Spaces the bot account's calls: `REQUEST_DELAY` apart, and none while a rate limit lasts."""

    async def wait(self) -> None:
        """Return when the next call may go out."""

    async def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (the homeserver said so)."""


class LocalPacer:
    """A pacer for this process alone (its calls, its rate limits)."""

    def __init__(self, clock: Clock, delay: float) -> None:
        self._clock = clock
        self._delay = delay
        self._lock = asyncio.Lock()
        self._last = float("-inf")
        self._held_until = float("-inf")

    async def wait(self) -> None:
        if self._delay <= 0 and self._held_until <= self._clock.now():
            return
        async with self._lock:
            start = max(self._last + self._delay, self._held_until)
            await self._clock.sleep(start - self._clock.now())
            self._last = self._clock.now()

    async def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, self._clock.now() + seconds)


class HomeserverHealth:
    """Whether the homeserver answers, told in two lines: when it goes down and when it is back.

    Down: a connection error or a 502/503/504 on a call made while it was up (one warning, with
    the error). Back: the first answer after that, whatever its status (one line, with how long
    it was down). The retries in between are logged at DEBUG only.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.up = True
        self.down_since: float | None = None  # the clock's time of the first failure

    def failed(self, call: str, error: str) -> None:
        """A call found the homeserver unreachable or unavailable."""
        if not self.up:
            return
        self.up = False
        self.down_since = self._clock.now()
        log.warning("The homeserver is down: %s failed (%s)", call, error)

    def answered(self) -> None:
        """The homeserver answered a call."""
        if self.up:
            return
        since = self.down_since if self.down_since is not None else self._clock.now()
        self.up = True
        self.down_since = None
        log.info("The homeserver is back after %s", _duration(self._clock.now() - since))


class MatrixClient:
    """The bot's view of its homeserver: about fifteen endpoints over one request path."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        clock: Clock,
        *,
        pacer: Pacer,
        rate_limit_wait_cap: float = 60.0,
        connect_attempts: int = 4,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.pacer = pacer
        self.rate_limit_wait_cap = rate_limit_wait_cap
        self.connect_attempts = connect_attempts
        self.access_token: str | None = None
        self.relogin: Relogin | None = None
        self._health = HomeserverHealth(clock)
        self._legacy_media = False  # the homeserver has no authenticated media endpoints

    @property
    def homeserver_up(self) -> bool:
        """False from a call's connection error or 502/503/504 until a call gets an answer."""
        return self._health.up

    @property
    def down_since(self) -> float | None:
        """When (the clock's time) the homeserver went down; None while it is up."""
        return self._health.down_since

    def use_token(self, token: str | None, relogin: Relogin | None = None) -> None:
        """Call as the bot with `token`; on M_UNKNOWN_TOKEN, ask `relogin` for a new one."""
        self.access_token = token
        if relogin is not None:
            self.relogin = relogin

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        authed: bool = True,
        patient: bool = True,
        may_relogin: bool = True,
    ) -> dict[str, Any]:
        """Send one call, waiting out rate limits and outages, and return the JSON answer.

        An impatient call (a health probe) goes out unpaced, makes one attempt and raises at
        the first problem: probes never take a slot of the bot account's `REQUEST_DELAY`.
        Without `may_relogin`, M_UNKNOWN_TOKEN is raised as it is (the caller replaces the token).
        """
        return await self._call(
            method,
            path,
            _read_json,
            json=json,
            params=params,
            authed=authed,
            patient=patient,
            may_relogin=may_relogin,
        )

    async def _call(
        self,
        method: str,
        path: str,
        read: Callable[[httpx.Response], Awaitable[T]],
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authed: bool = True,
        patient: bool = True,
        may_relogin: bool = True,
        relayed: bool = False,
    ) -> T:
        """The one request path: send, wait out rate limits and outages, `read` the answer.

        `read` reads an answer below 400 from its stream (an error's body is read whole); a
        connection lost while it reads is an outage like any other. A `relayed` call is one the
        homeserver may answer from another server (remote media): its 502/503/504 says that
        server failed, so it is raised as it is, not retried nor counted as an outage.
        """
        failures = 0 if patient else self.connect_attempts - 1
        relogged = False
        while True:
            if patient:
                await self.pacer.wait()
            request = self.http.build_request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers={**(headers or {}), **self._auth(authed)},
            )
            answer: list[T] = []
            try:
                response = await self.http.send(request, stream=True)
                try:
                    if response.status_code < 400:
                        answer.append(await read(response))
                    else:
                        await response.aread()
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                metrics.homeserver_called(path, "unreachable")
                failures += 1
                self._health.failed(f"{method} {_endpoint(path)}", _transport_error(exc))
                await self._back_off(failures, f"{type(exc).__name__}")
                continue
            body = {} if answer else _json(response)
            metrics.homeserver_called(path, _outcome(response.status_code))
            if response.status_code in _RETRYABLE_STATUS:
                if relayed:  # says nothing of the homeserver itself
                    raise _error(response, body)
                failures += 1
                self._health.failed(f"{method} {_endpoint(path)}", f"HTTP {response.status_code}")
                await self._back_off(failures, f"HTTP {response.status_code}")
                continue
            self._health.answered()
            if answer:
                return answer[0]
            if response.status_code == 429:
                await self._wait_out(response, body, patient, f"{method} {_endpoint(path)}")
                continue
            if response.status_code == 401 and authed and may_relogin and not relogged:
                if body.get("errcode") == "M_UNKNOWN_TOKEN" and await self._log_in_again():
                    relogged = True
                    continue
            raise _error(response, body)

    def _auth(self, authed: bool) -> dict[str, str]:
        if authed and self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        return {}

    async def _back_off(self, failures: int, what: str) -> None:
        if failures >= self.connect_attempts:
            raise HomeserverUnavailable(503, "M_UNAVAILABLE", f"homeserver unreachable ({what})")
        delay = backoff_delay(failures, base=0.5, cap=10.0)
        log.debug("Homeserver call failed (%s); retrying in %.1fs", what, delay)
        await self.clock.sleep(delay)

    async def _wait_out(
        self, response: httpx.Response, body: dict[str, Any], patient: bool, what: str
    ) -> None:
        wait = retry_after_seconds(response.headers.get("Retry-After"), body)
        wait = 1.0 if wait is None else wait
        if wait > self.rate_limit_wait_cap or not patient:
            metrics.rate_limited(0.0)
            raise RateLimited(wait)
        metrics.rate_limited(wait)
        log.info("Homeserver rate limit (%s): waiting %.1fs as asked", what, wait)
        await self.pacer.hold(wait)  # the account's other calls wait too
        await self.clock.sleep(wait)

    async def _log_in_again(self) -> bool:
        if self.relogin is None:
            return False
        log.warning("The homeserver no longer accepts the access token; logging in again")
        token = await self.relogin()
        if token is None:
            return False
        self.access_token = token
        return True

    # Endpoints.

    async def whoami(self, *, patient: bool = True, may_relogin: bool = True) -> dict[str, Any]:
        """Return the bot's user id and device id."""
        return await self.request(
            "GET", f"{API}/account/whoami", patient=patient, may_relogin=may_relogin
        )

    async def login(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log in (any login type) and return the homeserver's answer."""
        return await self.request("POST", f"{API}/login", json=body, authed=False)

    async def profile(self, user_id: str) -> dict[str, Any]:
        """Return a user's profile; raises MatrixError 404 for a user that does not exist."""
        return await self.request("GET", f"{API}/profile/{_seg(user_id)}")

    async def download(self, media: MediaId, max_bytes: int) -> bytes | None:
        """Download a piece of media as the bot; None when it is larger than `max_bytes` (or
        sent compressed).

        Through the authenticated media endpoint; a homeserver that does not know it (404
        M_UNRECOGNIZED) is asked at the legacy one from then on. The content is read as sent
        (no compression is asked for), and no further than `max_bytes`. Media from another
        server that cannot be fetched (502) is a MatrixError, not an outage of the homeserver.
        """
        where = f"{_seg(media.server_name)}/{_seg(media.media_id)}"
        read = _read_at_most(max_bytes)
        if not self._legacy_media:
            try:
                return await self._call(
                    "GET", f"{MEDIA_API}/download/{where}", read, headers=_AS_SENT, relayed=True
                )
            except MatrixError as exc:
                if (exc.status, exc.errcode) != (404, "M_UNRECOGNIZED"):
                    raise
            log.info("The homeserver has no authenticated media: downloading from %s", LEGACY)
            self._legacy_media = True
        legacy = f"{LEGACY}/download/{where}"
        return await self._call("GET", legacy, read, headers=_AS_SENT, relayed=True)

    async def members(self, room_id: str, membership: str | None = None) -> dict[str, str]:
        """Return user id -> membership for the room, optionally only one membership."""
        params = {"membership": membership} if membership else None
        body = await self.request("GET", f"{API}/rooms/{_seg(room_id)}/members", params=params)
        return {
            event["state_key"]: event.get("content", {}).get("membership", "")
            for event in body.get("chunk", [])
        }

    async def invited_by(self, room_id: str) -> dict[str, str]:
        """Return user id -> who invited them, for the room's pending invites."""
        params = {"membership": "invite"}
        body = await self.request("GET", f"{API}/rooms/{_seg(room_id)}/members", params=params)
        return {
            event["state_key"]: str(event.get("sender", ""))
            for event in body.get("chunk", [])
            if event.get("content", {}).get("membership") == "invite"
        }

    async def joined_members(self, room_id: str) -> dict[str, Any]:
        """Return the joined members with their display names and avatars."""
        body = await self.request("GET", f"{API}/rooms/{_seg(room_id)}/joined_members")
        joined: dict[str, Any] = body.get("joined", {})
        return joined

    async def state(self, room_id: str) -> list[dict[str, Any]]:
        """Return the room's full current state."""
        body = await self.request("GET", f"{API}/rooms/{_seg(room_id)}/state")
        # The endpoint answers a JSON list; _json wraps lists so the request path stays typed.
        events: list[dict[str, Any]] = body.get("events", [])
        return events

    async def state_event(self, room_id: str, event_type: str, state_key: str = "") -> Any:
        """Return one state event's content, or None when the room has no such event."""
        path = f"{API}/rooms/{_seg(room_id)}/state/{_seg(event_type)}/{_seg(state_key)}"
        try:
            return await self.request("GET", path)
        except MatrixError as exc:
            if exc.status == 404:
                return None
            raise

    async def membership(self, room_id: str, user_id: str) -> str | None:
        """Return a user's current membership of the room (join, invite, ban, ...), or None."""
        content = await self.state_event(room_id, "m.room.member", user_id)
        return str(content.get("membership")) if content else None

    async def sync(
        self, since: str | None, timeout_ms: int, sync_filter: dict[str, Any]
    ) -> dict[str, Any]:
        """Long-poll for new events since `since` (None: the current state)."""
        params = {"timeout": str(timeout_ms), "filter": json.dumps(sync_filter)}
        if since:
            params["since"] = since
        return await self.request("GET", f"{API}/sync", params=params)

    async def create_direct_room(self, user_id: str) -> str:
        """Create a private chat with one person, marked as a direct chat; return its id."""
        body = {"preset": "trusted_private_chat", "is_direct": True, "invite": [user_id]}
        answer = await self.request("POST", f"{API}/createRoom", json=body)
        return str(answer["room_id"])

    async def account_data(self, user_id: str, kind: str) -> dict[str, Any]:
        """Return one kind of the bot's account data (empty when it has none)."""
        path = f"{API}/user/{_seg(user_id)}/account_data/{_seg(kind)}"
        try:
            return await self.request("GET", path)
        except MatrixError as exc:
            if exc.status == 404:
                return {}
            raise

    async def set_account_data(self, user_id: str, kind: str, content: dict[str, Any]) -> None:
        """Replace one kind of the bot's account data."""
        path = f"{API}/user/{_seg(user_id)}/account_data/{_seg(kind)}"
        await self.request("PUT", path, json=content)

    async def join(self, room_id: str) -> None:
        """Join a room the bot may enter (a public policy room, or one it was invited to)."""
        await self.request("POST", f"{API}/join/{_seg(room_id)}", json={})

    async def invite(self, room_id: str, user_id: str, reason: str) -> None:
        """Invite a user, telling them why."""
        body = {"user_id": user_id, "reason": reason} if reason else {"user_id": user_id}
        await self.request("POST", f"{API}/rooms/{_seg(room_id)}/invite", json=body)

    async def kick(self, room_id: str, user_id: str, reason: str) -> None:
        """Remove a user (also revokes a pending invite)."""
        await self._moderate("kick", room_id, user_id, reason)

    async def ban(self, room_id: str, user_id: str, reason: str) -> None:
        """Ban a user from the room."""
        await self._moderate("ban", room_id, user_id, reason)

    async def unban(self, room_id: str, user_id: str) -> None:
        """Lift a ban."""
        await self._moderate("unban", room_id, user_id, "")

    async def _moderate(self, action: str, room_id: str, user_id: str, reason: str) -> None:
        body = {"user_id": user_id, "reason": reason} if reason else {"user_id": user_id}
        await self.request("POST", f"{API}/rooms/{_seg(room_id)}/{action}", json=body)

    async def send_message(
        self,
        room_id: str,
        body: str,
        html: str | None = None,
        *,
        mentions: list[str] | None = None,
        txn_id: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        """Send a text message (with an optional HTML body); return the event id.

        A fixed `txn_id` makes a retried send land once: the homeserver answers a repeat with
        the first send's event. `mentions` lists whom the message pings; an empty list sends
        `m.mentions: {}`, so that the ids in the text ping nobody.
        """
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if html is not None:
            content.update(format="org.matrix.custom.html", formatted_body=html)
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions} if mentions else {}
        if thread_root is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_root}
        txn = txn_id or uuid.uuid4().hex
        path = f"{API}/rooms/{_seg(room_id)}/send/m.room.message/{_seg(txn)}"
        answer = await self.request("PUT", path, json=content)
        return str(answer.get("event_id", ""))


def _error(response: httpx.Response, body: dict[str, Any]) -> MatrixError:
    return MatrixError(
        response.status_code,
        str(body.get("errcode", "M_UNKNOWN")),
        str(body.get("error", response.reason_phrase))[:300],
    )


def _transport_error(exc: httpx.TransportError) -> str:
    """`ConnectError: All connection attempts failed`, on one line."""
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _duration(seconds: float) -> str:
    """`0.4s`, `42s`, `2m 13s`, `3h 0m 5s`."""
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _seg(value: str) -> str:
    return quote(value, safe="")


async def _read_json(response: httpx.Response) -> dict[str, Any]:
    await response.aread()
    return _json(response)


def _read_at_most(limit: int) -> Callable[[httpx.Response], Awaitable[bytes | None]]:
    """A reader of content as stored that stops past `limit` bytes (then None).

    Content sent encoded (compressed although it was not asked for) is None too: it is never
    decompressed, so a small answer cannot grow into a large one.
    """

    async def read(response: httpx.Response) -> bytes | None:
        if response.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            return None
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        content = bytearray()
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) > limit:
                return None
        return bytes(content)

    return read


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list):
        return {"events": body}
    return body if isinstance(body, dict) else {}
