"""A door's own block-list entries: they refuse knocks and remove people at that door only.

Knock runs with the default door (`!members`) and a `club` door (`!club`). Entries of every door
(the API key's, the CLI's, the file's, the default door's moderators') count everywhere; an entry
added at the club (its moderators in the console, its moderation room, or the API with
`"door": "club"`) counts at the club alone, and removes people from the club's rooms alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from knock.config import Settings
from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.blocklist.actions import NeedsConfirmation
from knock.services.blocklist.index import Blocklist
from knock.services.compose import Services
from knock.services.runtime import Runtime
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM
from tests.services.fake_homeserver import SERVER, FakeHomeserver

CLUB = f"!club:{SERVER}"
KEY = "door-blocklist-key-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
MOD = Actor.api("admin")
TROLL = f"@troll:{SERVER}"


@pytest.fixture
def knock_options(tmp_path: Path) -> dict[str, Any]:
    doors = tmp_path / "doors.toml"
    # The club blocks near misses outright; the default door asks a moderator.
    doors.write_text(f'[doors.club]\nroom = "{CLUB}"\nfuzzy_action = "block"\n')
    return {"doors_file": doors, "api_key": SecretStr(KEY), "ban_on_block": True}


@pytest.fixture
def homeserver(homeserver: FakeHomeserver) -> FakeHomeserver:
    homeserver.create_room(BOT, room_id=CLUB)
    return homeserver


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client


def in_both_rooms(homeserver: FakeHomeserver) -> None:
    """The troll is a member of the default door's room and of the club's."""
    homeserver.add_user(TROLL)
    homeserver.join(TROLL, ROOM)
    homeserver.join(TROLL, CLUB)


async def knock_at(services: Services, homeserver: FakeHomeserver, user: str, door: str) -> State:
    """Knock as a form at `door` would; return the state the knock was left in."""
    homeserver.add_user(user)
    submission = Submission("tally", f"{door}-{user}", (Field("Matrix ID", "id", None, user),))
    return (await services.intake.knock(submission, user, None, door=door)).state


async def test_a_doors_entry_refuses_knocks_at_that_door_only(
    services: Services, homeserver: FakeHomeserver
) -> None:
    entry = services.blocklist.entry_for(TROLL, source=str(MOD))
    await services.blocking.block(entry, MOD, door="club")

    assert await knock_at(services, homeserver, TROLL, "club") is State.REJECTED
    assert await knock_at(services, homeserver, TROLL, "default") is not State.REJECTED


async def test_a_doors_entry_removes_from_that_doors_room_only_and_unblocking_lifts_its_bans(
    services: Services, homeserver: FakeHomeserver
) -> None:
    in_both_rooms(homeserver)

    result = await services.blocking.block(services.blocklist.entry_for(TROLL), MOD, door="club")
    in_both = (homeserver.membership(CLUB, TROLL), homeserver.membership(ROOM, TROLL))
    lifted = await services.blocking.unblock(TROLL, MOD, door="club")

    assert result.as_dict()["entry"]["door"] == "club"
    assert result.plan.removed == [TROLL]
    assert in_both == ("ban", "join")
    assert lifted.unbanned == (TROLL,)
    assert homeserver.membership(CLUB, TROLL) == "leave"
    assert [e.pattern for e in await services.blocklist.entries()] == []


async def test_the_watchdog_removes_a_doors_blocked_member_from_that_door_only(
    services: Services, homeserver: FakeHomeserver
) -> None:
    await services.blocking.block(services.blocklist.entry_for(TROLL), MOD, door="club")
    await services.live.run_once(timeout_ms=0)
    homeserver.add_user(TROLL)

    # They get in by another route: invited by someone else into both rooms, and join.
    homeserver.join(TROLL, ROOM)
    homeserver.join(TROLL, CLUB)
    await services.live.run_once(timeout_ms=0)

    assert homeserver.membership(CLUB, TROLL) == "ban"
    assert homeserver.membership(ROOM, TROLL) == "join"


async def test_an_entry_of_every_door_still_removes_from_every_doors_room(
    services: Services, homeserver: FakeHomeserver
) -> None:
    in_both_rooms(homeserver)

    await services.blocking.block(services.blocklist.entry_for(TROLL), MOD)

    assert homeserver.membership(CLUB, TROLL) == "ban"
    assert homeserver.membership(ROOM, TROLL) == "ban"


async def test_a_doors_fuzzy_action_decides_its_near_misses(services: Services) -> None:
    await services.blocking.block(services.blocklist.entry_for(f"@trollking:{SERVER}"), MOD)
    near = f"@trollkinq:{SERVER}"  # one letter off

    assert services.blocklist.check(near, door="club").verdict == "block"
    assert services.blocklist.check(near, door="default").verdict == "review"


async def test_every_doors_allow_list_overrides_a_doors_entry(services: Services) -> None:
    await services.blocking.block(services.blocklist.entry_for(TROLL), MOD, door="club")
    await services.blocklist.add(services.blocklist.entry_for(TROLL, allow=True))

    decision = services.blocklist.check(TROLL, door="club")

    assert decision.verdict == "allow"
    assert [m.rule for m in decision.matches] == ["allow", "exact"]


async def test_a_doors_entry_past_the_threshold_is_held_for_that_door_and_confirmed_there(
    settings: Settings, services: Services, homeserver: FakeHomeserver
) -> None:
    pattern = f"@spam*:{SERVER}"
    members = [f"@spam{n}:{SERVER}" for n in range(settings.block_confirm_threshold + 1)]
    for user in members:
        homeserver.add_user(user)
        homeserver.join(user, CLUB)
    entry = services.blocklist.entry_for(pattern)

    with pytest.raises(NeedsConfirmation):
        await services.blocking.block(entry, MOD, door="club")
    held = await services.blocklist.entries()
    await services.blocking.block(entry, MOD, door="club", confirm=True)

    assert [(e.pattern, e.door, e.held) for e in held] == [(pattern, "club", True)]
    assert services.blocklist.check(members[0]).verdict == "allow"  # not every door's
    assert all(homeserver.membership(CLUB, user) == "ban" for user in members)
    assert [(e.door, e.held) for e in await services.blocklist.entries()] == [("club", False)]


async def test_another_process_loads_each_doors_entries_into_that_door(
    settings: Settings, services: Services, clock: FakeClock, runtime: Runtime
) -> None:
    await services.blocking.block(services.blocklist.entry_for(TROLL), MOD, door="club")
    other = Blocklist(settings, runtime.store, clock)

    await other.load()

    assert other.check(TROLL, door="club").verdict == "block"
    assert other.check(TROLL, door="default").verdict == "allow"
    assert other.check(TROLL).verdict == "allow"


async def test_the_api_blocks_at_a_door_lists_each_entrys_door_and_checks_at_a_door(
    http: httpx.AsyncClient,
) -> None:
    everywhere = f"@spammer:{SERVER}"
    blocked = await http.post("/block_user", json={"user_id": TROLL, "door": "club"}, headers=ADMIN)
    await http.post("/block_user", json={"user_id": everywhere}, headers=ADMIN)
    listed = (await http.get("/blocklist", headers=ADMIN)).json()["blocked_users"]
    at_default = (await http.get("/blocklist?door=default", headers=ADMIN)).json()
    at_club = await http.get(
        "/blocklist/check", params={"user_id": TROLL, "door": "club"}, headers=ADMIN
    )
    elsewhere = await http.get("/blocklist/check", params={"user_id": TROLL}, headers=ADMIN)
    nowhere = await http.post(
        "/block_user", json={"user_id": TROLL, "door": "nowhere"}, headers=ADMIN
    )
    wrong_door = await http.post("/unblock_user", json={"user_id": TROLL}, headers=ADMIN)
    unblocked = await http.post(
        "/unblock_user", json={"user_id": TROLL, "door": "club"}, headers=ADMIN
    )

    assert blocked.status_code == 200 and blocked.json()["entry"]["door"] == "club"
    assert {(e["user_id"], e["door"]) for e in listed} == {(TROLL, "club"), (everywhere, None)}
    assert [e["user_id"] for e in at_default["blocked_users"]] == [everywhere]
    assert at_club.json()["verdict"] == "block" and elsewhere.json()["verdict"] == "allow"
    assert nowhere.status_code == 404 and "nowhere" in nowhere.json()["detail"]
    assert wrong_door.status_code == 404
    assert unblocked.status_code == 200 and unblocked.json()["door"] == "club"


async def test_unblocking_a_doors_entry_keeps_the_bans_another_entry_still_makes(
    services: Services, homeserver: FakeHomeserver
) -> None:
    in_both_rooms(homeserver)
    entry = services.blocklist.entry_for(TROLL)
    await services.blocking.block(entry, MOD)  # every door's: banned from both rooms
    await services.blocking.block(entry, MOD, door="club")  # and the club's own, the same

    await services.blocking.unblock(TROLL, MOD, door="club")
    kept = (homeserver.membership(ROOM, TROLL), homeserver.membership(CLUB, TROLL))
    await services.blocking.unblock(TROLL, MOD)

    assert kept == ("ban", "ban")  # every door's entry still stands
    assert homeserver.membership(ROOM, TROLL) == "leave"
    assert homeserver.membership(CLUB, TROLL) == "leave"


async def test_a_ban_stays_while_an_entry_of_every_door_still_covers_the_person(
    services: Services, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(TROLL)
    homeserver.join(TROLL, CLUB)
    await services.blocking.block(services.blocklist.entry_for(TROLL), MOD, door="club")
    # Later a server-wide entry of every door covers them too.
    await services.blocking.block(services.blocklist.entry_for(f"@tr*:{SERVER}"), MOD)

    lifted = await services.blocking.unblock(TROLL, MOD, door="club")

    assert lifted.unbanned == ()
    assert homeserver.membership(CLUB, TROLL) == "ban"
