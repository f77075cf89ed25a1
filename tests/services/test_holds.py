"""An entry that would remove more members than BLOCK_CONFIRM_THRESHOLD is held, whatever its
source: it refuses new knocks at once, removes nobody, is announced once with the count and a
sample, and is applied when a moderator confirms it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from knock.core.lifecycle import State
from knock.services.blocklist.policy_rooms import PolicyRooms
from knock.services.invites.importer import Importer, ImportFiles, blocklist_entries
from knock.services.runtime import Runtime
from knock.store import Store
from knock.web.app import KnockApp
from tests.services.conftest import BOT, ROOM, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MOD_ROOM = f"!moderators:{SERVER}"
MODERATOR = f"@moderator:{SERVER}"
ADMIN_KEY = "an-admin-key-long-enough"
CROWD = [f"@spam-{n}:{SERVER}" for n in range(3)]  # one more than the threshold
PATTERN = f"@spam-*:{SERVER}"
HONEST = f"@honest:{SERVER}"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {
        "block_confirm_threshold": 2,
        "blocklist_scan_interval": 600,
        "moderation_room_id": MOD_ROOM,
        "api_key": ADMIN_KEY,
    }


@pytest.fixture
def homeserver(homeserver: FakeHomeserver) -> Iterator[FakeHomeserver]:
    """A room with a crowd the pattern covers and one honest member; a moderation room."""
    homeserver.create_room(BOT, room_id=MOD_ROOM, power={MODERATOR: 50})
    homeserver.add_user(MODERATOR)
    homeserver.join(MODERATOR, MOD_ROOM)
    for user in [*CROWD, HONEST]:
        homeserver.add_user(user)
        homeserver.join(user, ROOM)
    yield homeserver


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://knock", headers=headers
    ) as client:
        yield client


async def leader_tick(services: Runtime) -> None:
    """One tick of the periodic duties with everything due, as on the lease holder."""
    services.duties.force()
    await services.duties.run_once()


def room(homeserver: FakeHomeserver) -> dict[str, str | None]:
    return {user: homeserver.membership(ROOM, user) for user in [*CROWD, HONEST]}


EVERYONE_IN = {**dict.fromkeys(CROWD, "join"), HONEST: "join"}
CROWD_OUT = {**dict.fromkeys(CROWD, "leave"), HONEST: "join"}


def posts(homeserver: FakeHomeserver) -> list[dict[str, Any]]:
    """The bot's posts in the moderation room (not its replies in threads)."""
    return [
        m["content"]
        for m in homeserver.messages(MOD_ROOM)
        if m["sender"] == BOT and "m.relates_to" not in m["content"]
    ]


async def statuses(api: httpx.AsyncClient) -> dict[str, str]:
    listing = (await api.get("/blocklist")).json()["blocked_users"]
    return {row["user_id"]: row["status"] for row in listing}


async def test_a_file_entry_over_the_threshold_is_held_announced_once_and_refuses_knocks(
    services: Runtime,
    homeserver: FakeHomeserver,
    api: httpx.AsyncClient,
    submit: Submit,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services.settings.blocklist_file.write_text(f"{PATTERN} Reason: spam wave\n")

    with caplog.at_level(logging.WARNING):
        await leader_tick(services)
        await leader_tick(services)
    late = f"@spam-late:{SERVER}"
    homeserver.add_user(late)
    refused = await submit(late)
    await drain(services)

    assert room(homeserver) == EVERYONE_IN
    assert await statuses(api) == {PATTERN: "held"}
    assert (refused.state, refused.reason) == (State.REJECTED, "blocked")
    assert homeserver.calls("invite", status=None) == []
    [logged] = [r.getMessage() for r in caplog.records if PATTERN in r.getMessage()]
    [post] = posts(homeserver)
    for said in (logged, post["body"]):
        assert "would remove 3 members, more than BLOCK_CONFIRM_THRESHOLD (2)" in said
        assert all(user in said for user in CROWD)
        assert f"!block {PATTERN} confirm" in said
    assert post["m.mentions"] == {}


async def test_a_held_entry_is_applied_when_a_moderator_confirms_it_through_the_api(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    services.settings.blocklist_file.write_text(f"{PATTERN}\n")
    await leader_tick(services)

    answer = await api.post("/block_user", json={"user_id": PATTERN, "confirm": True})
    await leader_tick(services)

    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["actions"]["removed"]) == CROWD
    assert room(homeserver) == CROWD_OUT
    assert await statuses(api) == {PATTERN: "active"}


async def test_a_held_entry_is_applied_when_a_moderator_confirms_it_in_the_moderation_room(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    services.settings.blocklist_file.write_text(f"{PATTERN}\n")
    await leader_tick(services)
    await services.live.run_once(timeout_ms=0)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!block {PATTERN} confirm")
    await services.live.run_once(timeout_ms=0)

    assert room(homeserver) == CROWD_OUT
    assert await statuses(api) == {PATTERN: "active"}
    [reply] = [
        m["content"]["body"]
        for m in homeserver.messages(MOD_ROOM)
        if m["content"].get("m.relates_to", {}).get("event_id") == command
    ]
    assert reply == f"Blocked {PATTERN}; 3 removed or turned down."


async def test_a_block_over_the_threshold_without_confirmation_is_held_not_dropped(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient, submit: Submit
) -> None:
    refused = await api.post("/block_user", json={"user_id": PATTERN})
    again = await api.post("/block_user", json={"user_id": PATTERN})
    late = f"@spam-late:{SERVER}"
    homeserver.add_user(late)
    knock = await submit(late)
    await leader_tick(services)

    assert refused.status_code == again.status_code == 409
    assert refused.json()["status"] == "confirmation_needed"
    assert "held" in refused.json()["detail"]
    assert room(homeserver) == EVERYONE_IN
    assert await statuses(api) == {PATTERN: "held"}
    assert (knock.state, knock.reason) == (State.REJECTED, "blocked")
    assert len(posts(homeserver)) == 1  # announced once


async def test_the_moderation_room_holds_a_block_over_the_threshold_and_says_how_to_confirm(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    await services.live.run_once(timeout_ms=0)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!block {PATTERN} spam wave")
    await services.live.run_once(timeout_ms=0)

    assert room(homeserver) == EVERYONE_IN
    assert await statuses(api) == {PATTERN: "held"}
    [reply] = [
        m["content"]
        for m in homeserver.messages(MOD_ROOM)
        if m["content"].get("m.relates_to", {}).get("event_id") == command
    ]
    assert reply["body"].startswith(f"Held {PATTERN}: it would remove 3 members")
    assert f"!block {PATTERN} confirm" in reply["body"]
    assert reply["m.mentions"] == {}


async def test_an_entry_within_the_threshold_is_applied_by_the_next_tick(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    services.settings.blocklist_file.write_text(f"{CROWD[0]}\n{CROWD[1]}\n")

    await leader_tick(services)

    assert room(homeserver) == {**EVERYONE_IN, CROWD[0]: "leave", CROWD[1]: "leave"}
    assert await statuses(api) == {CROWD[0]: "active", CROWD[1]: "active"}
    assert posts(homeserver) == []


async def test_a_policy_room_entry_over_the_threshold_is_held_too(
    runtime: Runtime, store: Store, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    curator = homeserver.add_user(f"@curator:{SERVER}")
    policy = homeserver.create_room(curator, join_rule="public")
    content = {"entity": PATTERN, "recommendation": "m.ban", "reason": "spam"}
    homeserver.set_state(policy, curator, "m.policy.rule.user", "r1", content)
    await PolicyRooms([policy], store, runtime.matrix, runtime.clock).refresh()

    await leader_tick(runtime.services)

    assert room(homeserver) == EVERYONE_IN
    assert await statuses(api) == {PATTERN: "held"}
    assert f"from policy:{policy}" in posts(homeserver)[0]["body"]


async def test_imported_entries_over_the_threshold_are_held(
    runtime: Runtime, store: Store, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    entries, _ = blocklist_entries(f"{PATTERN} Reason: spam\n{HONEST}\n", "blocked_users.txt")
    await Importer(runtime.settings, store, runtime.clock).run(ImportFiles(entries, None))

    await leader_tick(runtime.services)

    assert room(homeserver) == {**EVERYONE_IN, HONEST: "leave"}
    assert await statuses(api) == {PATTERN: "held", HONEST: "active"}


async def test_the_live_watchdog_removes_nobody_for_a_held_entry(
    services: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    await api.post("/block_user", json={"user_id": PATTERN})
    await services.live.run_once(timeout_ms=0)
    newcomer = f"@spam-new:{SERVER}"
    homeserver.add_user(newcomer)

    homeserver.join(newcomer, ROOM)  # let in by a moderator's own invite
    await services.live.run_once(timeout_ms=0)
    await leader_tick(services)

    assert homeserver.membership(ROOM, newcomer) == "join"
    assert room(homeserver) == EVERYONE_IN
