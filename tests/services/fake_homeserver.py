"""A fake Matrix homeserver in memory: the client-server endpoints Knock's client calls, no more.

It plugs into Knock as an `httpx.MockTransport`. It holds users and their profiles, rooms as
their current state, the bot's account data, the messages sent (a repeated transaction id
gives the first send's event, as the spec requires) and one event stream that `/sync` reads
from its `since` token. Tests act as people with `join`, `leave`, `knock`, `send`, `react` and
`send_event` (any event, malformed too), fail calls on demand with `fail_next`, `down` and `up`,
and read every request in `requests`. People may have avatars: `upload` keeps media, served by
the authenticated media endpoint (`authenticated_media = False` makes it answer 404
M_UNRECOGNIZED, as a homeserver from before Matrix 1.11 does, and the legacy one serve it).

The errors are the spec's (and Synapse's) where Knock relies on them: inviting a banned user
is 403 M_BAD_STATE, inviting a member 403 M_FORBIDDEN, an unknown profile 404 M_NOT_FOUND.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

SERVER = "hs.test"
BASE_URL = f"https://{SERVER}"
PREFIX = "/_matrix/client/v3/"
DEFAULT_LEVELS = {"invite": 0, "kick": 50, "ban": 50}

Json = dict[str, Any]

# (method, path under /_matrix/client/v3/, handler). `{name}` is one path segment.
_ROUTES = [
    ("GET", "account/whoami", "whoami"),
    ("POST", "login", "login"),
    ("GET", "profile/{user}", "profile"),
    ("GET", "sync", "sync"),
    ("POST", "createRoom", "create_room"),
    ("POST", "join/{room}", "join"),
    ("GET", "user/{user}/account_data/{kind}", "get_account_data"),
    ("PUT", "user/{user}/account_data/{kind}", "set_account_data"),
    ("GET", "rooms/{room}/members", "members"),
    ("GET", "rooms/{room}/joined_members", "joined_members"),
    ("GET", "rooms/{room}/state", "state"),
    ("GET", "rooms/{room}/state/{kind}/{key}", "state_event"),
    ("POST", "rooms/{room}/invite", "invite"),
    ("POST", "rooms/{room}/kick", "kick"),
    ("POST", "rooms/{room}/ban", "ban"),
    ("POST", "rooms/{room}/unban", "unban"),
    ("PUT", "rooms/{room}/send/{kind}/{txn}", "send"),
    # Media: whole paths, outside the client API's v3 prefix.
    ("GET", "/_matrix/client/v1/media/download/{server}/{media}", "media_download"),
    ("GET", "/_matrix/media/v3/download/{server}/{media}", "legacy_media_download"),
]
ROUTES = [
    (method, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]*)", path)), handler)
    for method, path, handler in _ROUTES
]
UNAUTHENTICATED = {"login", "legacy_media_download"}


class Refused(Exception):
    """An error answer, in the spec's shape."""

    def __init__(self, status: int, errcode: str, error: str, **extra: Any) -> None:
        super().__init__(f"{status} {errcode}: {error}")
        self.body = {"errcode": errcode, "error": error, **extra}
        self.status = status

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, json=self.body)


@dataclass
class Call:
    """One request as the homeserver saw it, and the status it answered (0: no connection)."""

    method: str
    endpoint: str  # the handler's name ("invite", "sync", ...), "unknown" when none matched
    args: dict[str, str]  # the ids in the path, decoded: {"room": "!r:hs.test", ...}
    body: Any
    params: dict[str, str]
    caller: str = ""  # the user whose access token came with it
    status: int = 0


@dataclass
class Fault:
    """Fail the next `count` matching requests with `status`."""

    count: int
    status: int
    errcode: str
    retry_after_ms: int | None
    endpoint: str | None
    answer_lost: bool  # the request is carried out; only its answer is replaced

    def response(self) -> httpx.Response:
        if self.status in (502, 503, 504):
            return httpx.Response(self.status, text="<html>Bad gateway</html>")
        wait = {} if self.retry_after_ms is None else {"retry_after_ms": self.retry_after_ms}
        return Refused(self.status, self.errcode, "fault injected by the test", **wait).response()


@dataclass
class Room:
    """A room as its current state: (event type, state key) -> event."""

    room_id: str
    state: dict[tuple[str, str], Json] = field(default_factory=dict)

    def membership(self, user_id: str) -> str | None:
        event = self.state.get(("m.room.member", user_id))
        return event["content"]["membership"] if event else None

    def power(self, user_id: str) -> int:
        levels = self.state.get(("m.room.power_levels", ""), {}).get("content", {})
        return int(levels.get("users", {}).get(user_id, levels.get("users_default", 0)))

    def needed(self, action: str) -> int:
        levels = self.state.get(("m.room.power_levels", ""), {}).get("content", {})
        return int(levels.get(action, DEFAULT_LEVELS[action]))


class FakeHomeserver:
    """Users, rooms, one event stream, and faults on demand, behind `transport`."""

    def __init__(self) -> None:
        self.users: dict[str, str | None] = {}  # user id -> display name
        self.avatars: dict[str, str] = {}  # user id -> avatar_url
        self.media: dict[str, tuple[bytes, str]] = {}  # mxc URI -> (content, content type)
        self.authenticated_media = True  # False: only the legacy media endpoint knows media
        self.passwords: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # access token -> user id
        self.rooms: dict[str, Room] = {}
        self.account_data: dict[tuple[str, str], Json] = {}
        self.stream: list[tuple[str, Json]] = []  # (room id, event), in order; /sync reads it
        self.sent: dict[tuple[str, str, str], str] = {}  # (sender, room, txn id) -> event id
        self.requests: list[Call] = []
        self.faults: list[Fault] = []
        self.unreachable: str | None = None  # "*" or one endpoint: the connection fails
        self._ids = itertools.count(1)
        self.transport = httpx.MockTransport(self._handle)

    # Setting the scene, and acting as the people in it.

    def add_user(
        self,
        user_id: str,
        displayname: str | None = None,
        *,
        token: str | None = None,
        password: str | None = None,
    ) -> str:
        self.users[user_id] = displayname
        if token:
            self.tokens[token] = user_id
        if password:
            self.passwords[user_id] = password
        return user_id

    def upload(self, content: bytes, content_type: str) -> str:
        """Keep a piece of media; return its mxc URI."""
        uri = f"mxc://{SERVER}/media{next(self._ids)}"
        self.media[uri] = (content, content_type)
        return uri

    def set_avatar(self, user_id: str, avatar_url: str | None) -> None:
        """Set (None: remove) a person's avatar, any text at all (a well-behaved client sends
        an mxc URI)."""
        if avatar_url is None:
            self.avatars.pop(user_id, None)
        else:
            self.avatars[user_id] = avatar_url

    def create_room(
        self,
        creator: str,
        *,
        room_id: str | None = None,
        power: dict[str, int] | None = None,
        join_rule: str = "invite",
        encrypted: bool = False,
    ) -> str:
        """A room the creator has joined with power 100 (`power` adds or overrides others)."""
        room_id = room_id or f"!room{next(self._ids)}:{SERVER}"
        self.rooms[room_id] = Room(room_id)
        self.set_state(room_id, creator, "m.room.create", "", {"room_version": "10"})
        self.set_membership(room_id, creator, "join")
        levels = {"users": {creator: 100, **(power or {})}, "users_default": 0}
        self.set_state(room_id, creator, "m.room.power_levels", "", levels)
        self.set_state(room_id, creator, "m.room.join_rules", "", {"join_rule": join_rule})
        if encrypted:
            algorithm = {"algorithm": "m.megolm.v1.aes-sha2"}
            self.set_state(room_id, creator, "m.room.encryption", "", algorithm)
        return room_id

    def set_state(self, room_id: str, sender: str, kind: str, key: str, content: Json) -> Json:
        event = self._event(room_id, sender, kind, content)
        event["state_key"] = key
        self.rooms[room_id].state[(kind, key)] = event
        return event

    def set_membership(
        self, room_id: str, user_id: str, membership: str, *, by: str | None = None, **extra: Any
    ) -> Json:
        """Change a membership (sent by `by`, else by the user) as it appears to everyone."""
        content = {"membership": membership, **extra}
        return self.set_state(room_id, by or user_id, "m.room.member", user_id, content)

    def join(self, user_id: str, room_id: str) -> Json:
        return self.set_membership(room_id, user_id, "join")

    def leave(self, user_id: str, room_id: str) -> Json:
        return self.set_membership(room_id, user_id, "leave")

    def knock(self, user_id: str, room_id: str) -> Json:
        return self.set_membership(room_id, user_id, "knock", reason="let me in")

    def send(self, sender: str, room_id: str, body: str) -> str:
        content = {"msgtype": "m.text", "body": body}
        return str(self._event(room_id, sender, "m.room.message", content)["event_id"])

    def react(self, sender: str, room_id: str, event_id: str, key: str) -> str:
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        event = self._event(room_id, sender, "m.reaction", {"m.relates_to": relation})
        return str(event["event_id"])

    def send_event(self, sender: str, room_id: str, kind: str, content: Json) -> str:
        """Send any event as it comes, even one a well-behaved client would not make."""
        return str(self._event(room_id, sender, kind, content)["event_id"])

    def _event(self, room_id: str, sender: str, kind: str, content: Json) -> Json:
        event_id = f"$event{next(self._ids)}"
        event = {"event_id": event_id, "type": kind, "sender": sender, "content": content}
        self.stream.append((room_id, event))
        return event

    # Faults.

    def fail_next(
        self,
        count: int = 1,
        status: int = 429,
        *,
        retry_after_ms: int | None = None,
        errcode: str | None = None,
        endpoint: str | None = None,
        answer_lost: bool = False,
    ) -> None:
        """Answer the next `count` requests (to `endpoint` only, if given) with an error.

        With `answer_lost` the homeserver carries each request out before the error replaces
        its answer, as when a gateway times out on a call that went through.
        """
        errcode = errcode or ("M_LIMIT_EXCEEDED" if status == 429 else "M_UNKNOWN")
        self.faults.append(Fault(count, status, errcode, retry_after_ms, endpoint, answer_lost))

    def down(self, endpoint: str = "*") -> None:
        """Refuse connections (to every endpoint, or one) until `up`."""
        self.unreachable = endpoint

    def up(self) -> None:
        self.unreachable = None

    def revoke(self, token: str) -> None:
        """Forget an access token: its next use gets 401 M_UNKNOWN_TOKEN."""
        del self.tokens[token]

    # What tests look at.

    def membership(self, room_id: str, user_id: str) -> str | None:
        return self.rooms[room_id].membership(user_id)

    def messages(self, room_id: str) -> list[Json]:
        """The room's messages, oldest first (whole events: sender, content, event_id)."""
        return [e for room, e in self.stream if room == room_id and e["type"] == "m.room.message"]

    def calls(self, endpoint: str, *, status: int | None = 200) -> list[Call]:
        """The requests to one endpoint that got `status` (None: whatever they got)."""
        found = [call for call in self.requests if call.endpoint == endpoint]
        return [call for call in found if status is None or call.status == status]

    # The transport.

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().split("?")[0]
        endpoint, args = self._route(request.method, path)
        body = json.loads(request.content) if request.content else {}
        call = Call(request.method, endpoint, args, body, dict(request.url.params))
        self.requests.append(call)
        if self.unreachable in ("*", endpoint):
            raise httpx.ConnectError("Connection refused (fake homeserver down)", request=request)
        fault = self._take_fault(endpoint)
        if fault is not None and not fault.answer_lost:
            response = fault.response()
        else:
            response = self._answer(request, call)
            if fault is not None:
                response = fault.response()
        call.status = response.status_code
        return response

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for route_method, pattern, endpoint in ROUTES:
            whole = pattern.pattern.startswith("/")
            found = pattern.fullmatch(path if whole else path.removeprefix(PREFIX))
            if found and route_method == method:
                return endpoint, {name: unquote(value) for name, value in found.groupdict().items()}
        return "unknown", {"path": path}

    def _take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint in (None, endpoint):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _answer(self, request: httpx.Request, call: Call) -> httpx.Response:
        try:
            if call.endpoint == "unknown":
                raise Refused(404, "M_UNRECOGNIZED", "Unrecognized request")
            if call.endpoint not in UNAUTHENTICATED:
                call.caller = self._caller(request)
            answer = getattr(self, f"_{call.endpoint}")(call)
            if isinstance(answer, httpx.Response):
                return answer
            return httpx.Response(200, json=answer)
        except Refused as refused:
            return refused.response()

    def _caller(self, request: httpx.Request) -> str:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Refused(401, "M_MISSING_TOKEN", "Missing access token")
        user_id = self.tokens.get(header.removeprefix("Bearer "))
        if user_id is None:
            raise Refused(401, "M_UNKNOWN_TOKEN", "Unknown access token", soft_logout=False)
        return user_id

    def _room(self, call: Call) -> Room:
        """The room in the path, if the caller is in it (else it learns nothing about it)."""
        room = self.rooms.get(call.args["room"])
        if room is None or room.membership(call.caller) != "join":
            raise Refused(403, "M_FORBIDDEN", f"{call.caller} is not in the room")
        return room

    def _may(self, call: Call, action: str) -> Room:
        """The room in the path, if the caller has the power to `action` there."""
        room = self._room(call)
        if room.power(call.caller) < room.needed(action):
            raise Refused(403, "M_FORBIDDEN", f"{call.caller} does not have power to {action}")
        return room

    def _own_account_data(self, call: Call) -> tuple[str, str]:
        if call.args["user"] != call.caller:
            raise Refused(403, "M_FORBIDDEN", "Cannot access account data for other users.")
        return call.caller, call.args["kind"]

    def _change(self, call: Call, membership: str) -> Json:
        """Change the membership of the user in the body, as the caller, with its reason."""
        reason = {"reason": call.body["reason"]} if call.body.get("reason") else {}
        room, target = call.args["room"], call.body["user_id"]
        self.set_membership(room, target, membership, by=call.caller, **reason)
        return {}

    # Endpoints: one request in, the JSON answer out (or Refused).

    def _whoami(self, call: Call) -> Json:
        return {"user_id": call.caller, "device_id": "FAKEDEVICE"}

    def _login(self, call: Call) -> Json:
        user_id = str(call.body.get("identifier", {}).get("user", ""))
        password = self.passwords.get(user_id)
        if call.body.get("type") != "m.login.password" or password != call.body.get("password"):
            raise Refused(403, "M_FORBIDDEN", "Invalid username or password")
        token = f"token-{next(self._ids)}"
        self.tokens[token] = user_id
        return {"user_id": user_id, "access_token": token, "device_id": "FAKEDEVICE"}

    def _profile(self, call: Call) -> Json:
        user_id = call.args["user"]
        if user_id not in self.users:
            raise Refused(404, "M_NOT_FOUND", "Profile was not found")
        name, avatar = self.users[user_id], self.avatars.get(user_id)
        return {
            **({"displayname": name} if name else {}),
            **({"avatar_url": avatar} if avatar else {}),
        }

    def _media_download(self, call: Call) -> httpx.Response:
        if not self.authenticated_media:
            raise Refused(404, "M_UNRECOGNIZED", "Unrecognized request")
        return self._download(call)

    def _legacy_media_download(self, call: Call) -> httpx.Response:
        return self._download(call)

    def _download(self, call: Call) -> httpx.Response:
        found = self.media.get(f"mxc://{call.args['server']}/{call.args['media']}")
        if found is None:
            raise Refused(404, "M_NOT_FOUND", "Not found")
        content, content_type = found
        return httpx.Response(200, content=content, headers={"Content-Type": content_type})

    def _sync(self, call: Call) -> Json:
        """Events since the token (none on a first sync) in the bot's rooms, as filtered."""
        since = call.params.get("since", f"s{len(self.stream)}")
        wanted = json.loads(call.params.get("filter", "{}")).get("room", {})
        rooms, timeline = wanted.get("rooms"), wanted.get("timeline", {})
        types, limit = timeline.get("types"), int(timeline.get("limit", 10))
        found: dict[str, list[Json]] = {}
        for room_id, event in self.stream[int(since.removeprefix("s")) :]:
            if rooms is not None and room_id not in rooms:
                continue
            if types is not None and event["type"] not in types:
                continue
            if self.rooms[room_id].membership(call.caller) == "join":
                found.setdefault(room_id, []).append(event)
        joined = {
            room_id: {"timeline": {"events": events[-limit:], "limited": len(events) > limit}}
            for room_id, events in found.items()
        }
        return {"next_batch": f"s{len(self.stream)}", "rooms": {"join": joined}}

    def _create_room(self, call: Call) -> Json:
        room_id = self.create_room(call.caller)
        direct = {"is_direct": True} if call.body.get("is_direct") else {}
        for user_id in call.body.get("invite", []):
            self.set_membership(room_id, user_id, "invite", by=call.caller, **direct)
        return {"room_id": room_id}

    def _join(self, call: Call) -> Json:
        room = self.rooms.get(call.args["room"])
        if room is None:
            raise Refused(404, "M_NOT_FOUND", "No known servers")
        rule = room.state[("m.room.join_rules", "")]["content"]["join_rule"]
        if rule != "public" and room.membership(call.caller) not in ("invite", "join"):
            raise Refused(403, "M_FORBIDDEN", "You are not invited to this room.")
        self.join(call.caller, room.room_id)
        return {"room_id": room.room_id}

    def _get_account_data(self, call: Call) -> Json:
        key = self._own_account_data(call)
        if key not in self.account_data:
            raise Refused(404, "M_NOT_FOUND", "Account data not found")
        return self.account_data[key]

    def _set_account_data(self, call: Call) -> Json:
        self.account_data[self._own_account_data(call)] = call.body
        return {}

    def _members(self, call: Call) -> Json:
        state = self._room(call).state
        chunk = [event for (kind, _), event in state.items() if kind == "m.room.member"]
        if "membership" in call.params:
            chunk = [e for e in chunk if e["content"]["membership"] == call.params["membership"]]
        return {"chunk": chunk}

    def _joined_members(self, call: Call) -> Json:
        room = self._room(call)
        joined = [
            u for kind, u in room.state if kind == "m.room.member" and room.membership(u) == "join"
        ]
        return {"joined": {user: {"display_name": self.users.get(user)} for user in joined}}

    def _state(self, call: Call) -> list[Json]:
        return list(self._room(call).state.values())

    def _state_event(self, call: Call) -> Json:
        event = self._room(call).state.get((call.args["kind"], call.args["key"]))
        if event is None:
            raise Refused(404, "M_NOT_FOUND", "Event not found.")
        return dict(event["content"])

    def _invite(self, call: Call) -> Json:
        membership = self._may(call, "invite").membership(call.body["user_id"])
        if membership == "ban":
            raise Refused(403, "M_BAD_STATE", "The user is banned from the room")
        if membership == "join":
            raise Refused(403, "M_FORBIDDEN", "The user is already in the room.")
        return self._change(call, "invite")

    def _kick(self, call: Call) -> Json:
        if self._may(call, "kick").membership(call.body["user_id"]) not in (
            "join",
            "invite",
            "knock",
        ):
            raise Refused(403, "M_FORBIDDEN", "The target user is not in the room")
        return self._change(call, "leave")

    def _ban(self, call: Call) -> Json:
        self._may(call, "ban")
        return self._change(call, "ban")

    def _unban(self, call: Call) -> Json:
        if self._may(call, "ban").membership(call.body["user_id"]) != "ban":
            raise Refused(403, "M_FORBIDDEN", "The user is not banned")
        return self._change(call, "leave")

    def _send(self, call: Call) -> Json:
        """Send once per transaction id: a repeat gets the first send's event."""
        room = self._room(call).room_id
        txn = (call.caller, room, call.args["txn"])
        if txn not in self.sent:
            event = self._event(room, call.caller, call.args["kind"], call.body)
            self.sent[txn] = event["event_id"]
        return {"event_id": self.sent[txn]}
