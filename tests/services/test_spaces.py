"""A door into a space in the services: invites to its rooms expire like any other invite.

The space's invite and each room's invite are sent by jobs of their own; once the person joined
the welcome room, an invite to a room they did not join is withdrawn the door's `INVITE_TTL`
after that invite was sent, and written in the knock's history. The fake clock is moved past it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from knock.config import Settings
from knock.core.lifecycle import State
from tests.clock import FakeClock
from tests.services.conftest import BOT
from tests.services.fake_homeserver import SERVER, FakeHomeserver
from tests.services.test_doors import deliver, running

SPACE, GENERAL, EVENTS = (f"!{name}:{SERVER}" for name in ("space", "general", "events"))
TOKEN = "guild-token-0123456789"
KEY = "admin-key-0123456789abcdef"
HOUR = 3600.0


def guild_file(tmp_path: Path) -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(
        f'[doors.guild]\nroom = "{SPACE}"\nrooms = ["{GENERAL}", "{EVENTS}"]\n'
        f'welcome_room = "{GENERAL}"\ninvite_ttl = "1d"\nwebhook_token = "{TOKEN}"\n'
    )
    return path


async def test_an_invite_to_a_room_not_joined_expires_after_the_doors_invite_ttl_from_its_sending(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    for room in (SPACE, GENERAL, EVENTS):
        homeserver.create_room(BOT, room_id=room)
    person = homeserver.add_user(f"@guest:{SERVER}")
    changes = {"doors_file": guild_file(tmp_path), "api_key": SecretStr(KEY)}
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        services = runtime.services
        knock_id = (await deliver(http, "/doors/guild/invite_from_form", person, TOKEN)).json()[
            "knock_id"
        ]
        # The space's invite goes out; the rooms' invites an hour later (as after a retry).
        while (await runtime.store.get_knock(knock_id)).state is not State.INVITED:  # type: ignore[union-attr]
            assert await services.worker.run_once()
        clock.advance(HOUR)
        while await services.worker.run_once():
            pass
        assert [homeserver.membership(room, person) for room in (SPACE, GENERAL, EVENTS)] == [
            "invite"
        ] * 3
        homeserver.join(person, SPACE)
        homeserver.join(person, GENERAL)
        await services.follower.check_invites()
        assert (await runtime.store.get_knock(knock_id)).state is State.JOINED  # type: ignore[union-attr]

        # A day after the space's invite: the room's invite, sent an hour later, still stands.
        clock.advance(24 * HOUR - HOUR + 60)
        await services.follower.check_invites()
        assert homeserver.membership(EVENTS, person) == "invite"

        # A day after the room's own invite: withdrawn; the rooms joined are left alone.
        clock.advance(HOUR)
        await services.follower.check_invites()
        assert homeserver.membership(EVENTS, person) == "leave"
        assert homeserver.membership(SPACE, person) == "join"
        assert homeserver.membership(GENERAL, person) == "join"
        await services.follower.check_invites()
        assert len(homeserver.calls("kick")) == 1

        answer = await http.get(f"/knocks/{knock_id}", headers={"Authorization": f"Bearer {KEY}"})
        assert answer.json()["state"] == "joined"
        expired = [
            line["detail"]
            for line in answer.json()["history"]
            if line["event"] == "room_invite_expired"
        ]
        assert expired == [EVENTS]


async def test_an_invite_to_a_room_someone_else_sent_is_not_withdrawn(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    for room in (SPACE, GENERAL, EVENTS):
        homeserver.create_room(BOT, room_id=room)
    person, other = (homeserver.add_user(f"@{name}:{SERVER}") for name in ("guest", "friend"))
    changes = {"doors_file": guild_file(tmp_path)}
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        services = runtime.services
        await deliver(http, "/doors/guild/invite_from_form", person, TOKEN)
        while await services.worker.run_once():
            pass
        homeserver.join(person, GENERAL)
        # Invited into the events room by a member, not by Knock: not Knock's to withdraw.
        homeserver.set_membership(EVENTS, other, "invite", by=BOT)
        await services.follower.check_invites()
        clock.advance(2 * 24 * HOUR)
        await services.follower.check_invites()
        assert homeserver.membership(EVENTS, person) == "leave"
        assert homeserver.membership(SPACE, person) == "leave"  # the space's too: not joined
        assert homeserver.membership(EVENTS, other) == "invite"


async def test_a_moderators_new_invite_to_a_room_is_not_withdrawn_as_knocks_old_one(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    moderator = f"@moderator:{SERVER}"
    for room in (SPACE, GENERAL, EVENTS):
        homeserver.create_room(BOT, room_id=room, power={moderator: 50})
    person = homeserver.add_user(f"@guest:{SERVER}")
    changes = {"doors_file": guild_file(tmp_path)}
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        services = runtime.services
        await deliver(http, "/doors/guild/invite_from_form", person, TOKEN)
        while await services.worker.run_once():
            pass
        homeserver.join(person, SPACE)
        homeserver.join(person, GENERAL)
        # They decline Knock's invite to the events room; later a moderator invites them again.
        homeserver.set_membership(EVENTS, person, "leave")
        homeserver.set_membership(EVENTS, person, "invite", by=moderator)
        clock.advance(2 * 24 * HOUR)
        await services.follower.check_invites()

        assert homeserver.membership(EVENTS, person) == "invite"
        assert homeserver.calls("kick") == []
