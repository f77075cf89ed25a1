"""Doors in the services: a door removed from DOORS_FILE keeps its knocks, and its room.

Knock is started with a `club` door, then again without it (as after editing DOORS_FILE and
restarting): the club's knocks not yet invited wait in review, new deliveries to it do too, and a
moderator's approval still invites into the club's room. The fake homeserver lets the test stop
and start Knock on one database without waiting for anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from knock.config import Settings
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import BOT, drain
from tests.services.console import form_token
from tests.services.fake_homeserver import SERVER, FakeHomeserver

CLUB = f"!club:{SERVER}"
TOKEN = "club-token-0123456789"
GLOBAL_TOKEN = "global-token-0123456789"


def club_file(tmp_path: Path) -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(f'[doors.club]\nroom = "{CLUB}"\nwebhook_token = "{TOKEN}"\n')
    return path


@asynccontextmanager
async def running(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver, **changes: Any
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = Runtime(
        settings.model_copy(update=changes), clock=clock, transport=homeserver.transport
    )
    await runtime.start(background=False)
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://knock") as http:
            yield runtime, http
    finally:
        await runtime.stop()


async def deliver(http: httpx.AsyncClient, path: str, user_id: str, token: str) -> httpx.Response:
    return await http.post(
        path,
        content=json.dumps({"matrix_id": user_id}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


async def test_a_removed_doors_knocks_wait_in_review_and_are_invited_into_its_room(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=CLUB)
    early, late = (homeserver.add_user(f"@{name}:{SERVER}") for name in ("early", "late"))
    settings = settings.model_copy(update={"webhook_token": SecretStr(GLOBAL_TOKEN)})
    with_club = {"doors_file": club_file(tmp_path)}
    async with running(settings, clock, homeserver, **with_club) as (runtime, http):
        # The homeserver is down: the knock is committed and waits for its invite.
        homeserver.down()
        answer = await deliver(http, "/doors/club/invite_from_form", early, TOKEN)
        assert answer.status_code == 202
        queued = answer.json()["knock_id"]
        assert (await runtime.store.get_knock(queued)).state is State.QUEUED  # type: ignore[union-attr]
    homeserver.up()

    async with running(settings, clock, homeserver) as (runtime, http):
        knock = await runtime.store.get_knock(queued)
        assert knock is not None
        assert (knock.state, knock.reason, knock.door) == (State.REVIEW, "door_removed", "club")
        # Its deliveries are still taken (with the global settings: its own token went with
        # it), and wait the same way.
        refused = await deliver(http, "/doors/club/invite_from_form", late, TOKEN)
        assert refused.status_code == 401
        answer = await deliver(http, "/doors/club/invite_from_form", late, GLOBAL_TOKEN)
        assert answer.status_code == 202
        held = await runtime.store.get_knock(answer.json()["knock_id"])
        assert held is not None
        assert (held.state, held.reason, held.door) == (State.REVIEW, "door_removed", "club")
        # A door never configured is not found; the knock page of a removed door neither.
        never = await deliver(http, "/doors/never/invite_from_form", late, GLOBAL_TOKEN)
        assert never.status_code == 404
        assert (await http.get("/doors/club/knock")).status_code == 404

        await drain(runtime.services)
        assert homeserver.membership(CLUB, early) is None, "nothing was invited meanwhile"
        await runtime.services.moderation.approve(queued, Actor.cli("mod"))
        await drain(runtime.services)
        assert homeserver.membership(CLUB, early) == "invite"
        assert homeserver.membership(ROOM_OF_DEFAULT, early) is None


ROOM_OF_DEFAULT = f"!members:{SERVER}"


MOD_ROOM = f"!moderators:{SERVER}"
CLUB_MODS = f"!club-moderators:{SERVER}"
MODERATOR, CLUB_MODERATOR = f"@moderator:{SERVER}", f"@clubmod:{SERVER}"


async def test_each_door_is_reviewed_in_its_own_moderation_room(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=CLUB)
    homeserver.create_room(BOT, room_id=MOD_ROOM, power={MODERATOR: 50})
    homeserver.create_room(BOT, room_id=CLUB_MODS, power={CLUB_MODERATOR: 50})
    for user, room in ((MODERATOR, MOD_ROOM), (CLUB_MODERATOR, CLUB_MODS)):
        homeserver.add_user(user)
        homeserver.join(user, room)
    here, there = (homeserver.add_user(f"@{name}:{SERVER}") for name in ("here", "there"))
    path = club_file(tmp_path)
    path.write_text(path.read_text() + f'moderation_room_id = "{CLUB_MODS}"\n')
    changes = {
        "doors_file": path,
        "moderation_room_id": MOD_ROOM,
        "repair_action": "review",  # a repaired id waits for a moderator
        "webhook_token": SecretStr(GLOBAL_TOKEN),
    }
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        typed_here, typed_there = here.removeprefix("@"), there.removeprefix("@")
        await deliver(http, "/invite_from_form", typed_here, GLOBAL_TOKEN)
        await deliver(http, "/doors/club/invite_from_form", typed_there, TOKEN)
        await drain(runtime.services)
        await runtime.services.live.run_once(timeout_ms=0)

        def posts(room: str) -> list[str]:
            return [m["content"]["body"] for m in homeserver.messages(room) if m["sender"] == BOT]

        assert [f"Knock from {here}" in body for body in posts(MOD_ROOM)] == [True]
        assert [
            f"Knock from {there} at door club is held" in body for body in posts(CLUB_MODS)
        ] == [True]

        # Each room decides its own doors' knocks only; a door's room blocks at its door only.
        homeserver.send(CLUB_MODERATOR, CLUB_MODS, f"!approve {here}")
        homeserver.send(CLUB_MODERATOR, CLUB_MODS, f"!approve {there}")
        homeserver.send(CLUB_MODERATOR, CLUB_MODS, "!block @troll:hs.test")
        await runtime.services.live.run_once(timeout_ms=0)
        replies = posts(CLUB_MODS)[1:]
        assert replies[0] == f"{here} has no knock waiting for review."
        assert replies[1] == f"Approved: {there} will be invited."
        assert replies[2] == "Blocked @troll:hs.test at door club; 0 removed or turned down."
        blocklist = runtime.services.blocklist
        assert blocklist.check("@troll:hs.test", door="club").verdict == "block"
        assert blocklist.check("@troll:hs.test").verdict == "allow"  # not every door's
        await drain(runtime.services)
        assert homeserver.membership(CLUB, there) == "invite"
        assert homeserver.membership(ROOM_OF_DEFAULT, here) is None


async def test_a_doors_own_moderators_sign_in_to_their_door_only(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=CLUB)
    homeserver.create_room(BOT, room_id=CLUB_MODS, power={CLUB_MODERATOR: 50})
    homeserver.add_user(CLUB_MODERATOR)
    homeserver.join(CLUB_MODERATOR, CLUB_MODS)
    here, there = (homeserver.add_user(f"@{name}:{SERVER}") for name in ("here", "there"))
    path = club_file(tmp_path)
    path.write_text(path.read_text() + f'moderation_room_id = "{CLUB_MODS}"\n')
    changes = {
        "doors_file": path,
        "repair_action": "review",
        "webhook_token": SecretStr(GLOBAL_TOKEN),
        "public_url": PUBLIC_URL,
    }
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        at_default = await deliver(http, "/invite_from_form", here.removeprefix("@"), GLOBAL_TOKEN)
        at_club = await deliver(http, "/doors/club/invite_from_form", there[1:], TOKEN)
        mine, not_mine = at_club.json()["knock_id"], at_default.json()["knock_id"]

        same_site = {"Sec-Fetch-Site": "same-origin"}
        asked = await http.post(
            "/console/sign-in-link", data={"matrix_id": CLUB_MODERATOR}, headers=same_site
        )
        assert asked.status_code == 200
        await drain(runtime.services)
        [link] = [
            found[1]
            for room in homeserver.rooms
            for message in homeserver.messages(room)
            if (found := re.search(r"/console/link/(\S+)", message["content"]["body"]))
        ]
        assert (await http.post(f"/console/link/{link}", headers=same_site)).status_code == 303

        # The console opens at their door; the default door is not theirs.
        opened = await http.get("/console/")
        assert (opened.status_code, opened.headers["location"]) == (303, "/console/?door=club")
        refused = await http.get("/console/review", params={"door": "default"})
        assert refused.status_code == 403
        assert "Not your door" in refused.text

        review = await http.get("/console/review", params={"door": "club"})
        csrf = form_token(review.text)
        for knock_id in (not_mine, mine):
            await http.post(
                f"/console/review/{knock_id}/approve",
                params={"door": "club"},
                data={"csrf": csrf},
            )
        assert (await runtime.store.get_knock(not_mine)).state is State.REVIEW  # type: ignore[union-attr]
        assert (await runtime.store.get_knock(mine)).state is State.QUEUED  # type: ignore[union-attr]
        history = await runtime.store.history(mine)
        assert "console:@clubmod:hs.test" in [str(line.actor) for line in history]

        # A door's own moderators block at their door only; every door's entries, and the
        # allow-list, are the default door's moderators' to change.
        blocked = await http.post(
            "/console/blocklist/block",
            params={"door": "club"},
            data={"csrf": csrf, "pattern": "@troll:hs.test", "go": "1"},
        )
        allowed = await http.post(
            "/console/blocklist/allow",
            params={"door": "club"},
            data={"csrf": csrf, "pattern": "@friend:hs.test"},
        )
        assert blocked.status_code == 303
        assert allowed.status_code == 403 and "Not your door" in allowed.text
        blocklist = runtime.services.blocklist
        assert blocklist.check("@troll:hs.test", door="club").verdict == "block"
        assert blocklist.check("@troll:hs.test").verdict == "allow"
        assert [(e.pattern, e.door, e.allow) for e in await blocklist.entries()] == [
            ("@troll:hs.test", "club", False)
        ]


PUBLIC_URL = "https://knock.example.org"
