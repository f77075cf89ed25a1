"""Doors in the services: a door removed from DOORS_FILE keeps its knocks, and its room.

Knock is started with a `club` door, then again without it (as after editing DOORS_FILE and
restarting): the club's knocks not yet invited wait in review, new deliveries to it do too, and a
moderator's approval still invites into the club's room. The fake homeserver lets the test stop
and start Knock on one database without waiting for anything.
"""

from __future__ import annotations

import json
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
from knock.web.app import create_api
from tests.clock import FakeClock
from tests.services.conftest import BOT, drain
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
    transport = httpx.ASGITransport(app=create_api(runtime), client=("203.0.113.9", 40000))
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
