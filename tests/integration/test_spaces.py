"""A door into a space, on a real Synapse (both databases): the invite goes to the space and to
each of its rooms, the welcome to the welcome room; a rescind withdraws all of them and a block
removes the person from all of them."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.clock import FakeClock
from tests.conftest import MakeUser
from tests.integration.harness import (
    WITH_TOKEN,
    KnockUnderTest,
    eventually,
    invited,
    knock_settings,
    start_knock,
)

CLIENT = "/_matrix/client/v3"


def make_space(synapse: Sandbox, bot: SandboxUser, children: dict[str, bool]) -> str:
    """A private space made by the bot, holding `children` (room id -> suggested)."""
    body = {
        "preset": "private_chat",
        "name": "The guild",
        "creation_content": {"type": "m.space"},
    }
    answer = synapse.api("POST", f"{CLIENT}/createRoom", user=bot, json=body)
    assert answer.status_code == 200, answer.text
    space = str(answer.json()["room_id"])
    for child, suggested in children.items():
        path = f"{CLIENT}/rooms/{quote(space, safe='')}/state/m.space.child/{quote(child, safe='')}"
        content = {"via": ["localhost"], "suggested": suggested}
        assert synapse.api("PUT", path, user=bot, json=content).status_code == 200
    return space


def doors_file(tmp_path: Path, space: str, rooms: str, welcome: str | None) -> Path:
    path = tmp_path / "doors.toml"
    lines = ["[doors.guild]", f'room = "{space}"', f"rooms = {rooms}"]
    if welcome:
        lines.append(f'welcome_room = "{welcome}"')
    lines.append('welcome_message = "Welcome to the guild, {display_name}!"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def knock_at_guild(knock: KnockUnderTest, user_id: str) -> str:
    answer = await knock.http.post(
        "/doors/guild/invite_from_form",
        content=json.dumps({"matrix_id": user_id}).encode(),
        headers={**WITH_TOKEN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["knock_id"])


async def settled(knock: KnockUnderTest, knock_id: str, state: State) -> None:
    async def there() -> bool:
        return (await knock.knock_state(knock_id))[0] is state

    await eventually(there, what=f"knock {knock_id} to be {state.value}")


def membership(synapse: Sandbox, bot: SandboxUser, room: str, user_id: str) -> str | None:
    return synapse.members(bot, room).get(user_id)


async def test_a_space_door_invites_into_the_space_and_its_rooms_and_welcomes_in_one(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    general = synapse.create_room(bot, name="General")
    events = synapse.create_room(bot, name="Events")
    space = make_space(synapse, bot, {general: True, events: False})
    rooms = json.dumps([general, events])
    path = doors_file(tmp_path, space, rooms, general)
    knock = await start_knock(knock_settings(tmp_path, synapse, bot, private_room, doors_file=path))
    try:
        member, doubter, troll = make_user("member"), make_user("doubter"), make_user("troll")
        ids = {
            person.user_id: await knock_at_guild(knock, person.user_id)
            for person in (member, doubter, troll)
        }
        for person in (member, doubter, troll):
            await settled(knock, ids[person.user_id], State.INVITED)

            def everywhere(user_id: str = person.user_id) -> bool:
                return all(
                    invited(synapse, bot, room, user_id) for room in (space, general, events)
                )

            await eventually(everywhere, what=f"{person.user_id}'s invites to the space and rooms")
        assert not invited(synapse, bot, private_room, member.user_id)
        history = await knock.http.get(f"/knocks/{ids[member.user_id]}", headers=knock.admin)
        invited_to = [
            line["detail"]
            for line in history.json()["history"]
            if line["event"] == "invited_to_room"
        ]
        assert sorted(invited_to) == sorted([general, events])

        # Joining the space is not yet joining: the welcome room is.
        synapse.join(member, space)
        assert (await knock.knock_state(ids[member.user_id]))[0] is State.INVITED
        synapse.join(member, general)
        await settled(knock, ids[member.user_id], State.JOINED)

        def welcomed() -> bool:
            path = f"{CLIENT}/rooms/{quote(general, safe='')}/messages"
            chunk = synapse.api("GET", path, user=member, params={"dir": "b"}).json()["chunk"]
            return any(
                e["sender"] == bot.user_id
                and "Welcome to the guild" in e["content"].get("body", "")
                for e in chunk
            )

        await eventually(welcomed, what="the guild's welcome in its welcome room")

        # A rescind withdraws all three invites.
        rescinded = await knock.http.post(
            "/rescind_invite", headers=knock.admin, json={"user_id": doubter.user_id}
        )
        assert rescinded.status_code == 200, rescinded.text
        for room in (space, general, events):
            assert membership(synapse, bot, room, doubter.user_id) == "leave", room

        # A block removes a member from every room of the door.
        for room in (space, general, events):
            synapse.join(troll, room)
        blocked = await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": troll.user_id, "reason": "spam"}
        )
        assert blocked.status_code == 200, blocked.text
        for room in (space, general, events):
            assert membership(synapse, bot, room, troll.user_id) == "leave", room
    finally:
        await knock.stop()


async def test_suggested_rooms_are_read_from_the_space_when_the_knock_is_invited(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    suggested, other = synapse.create_room(bot, name="Lobby"), synapse.create_room(bot)
    space = make_space(synapse, bot, {suggested: True, other: False})
    path = doors_file(tmp_path, space, '"suggested"', None)
    knock = await start_knock(knock_settings(tmp_path, synapse, bot, private_room, doors_file=path))
    try:
        person = make_user("maker")
        knock_id = await knock_at_guild(knock, person.user_id)
        await settled(knock, knock_id, State.INVITED)
        await eventually(
            lambda: invited(synapse, bot, suggested, person.user_id), what="the suggested room"
        )
        assert invited(synapse, bot, space, person.user_id)
        assert not invited(synapse, bot, other, person.user_id)
        # Without a welcome room, joining the space is joining.
        synapse.join(person, space)
        await settled(knock, knock_id, State.JOINED)
    finally:
        await knock.stop()


async def test_an_invite_to_a_room_not_joined_is_withdrawn_after_invite_ttl_the_rooms_joined_kept(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    general = synapse.create_room(bot, name="General")
    events = synapse.create_room(bot, name="Events")
    space = make_space(synapse, bot, {general: True, events: False})
    path = doors_file(tmp_path, space, json.dumps([general, events]), general)
    clock = FakeClock()
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        doors_file=path,
        invite_check_interval=0,
        blocklist_scan_interval=0,
    )
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        person = make_user("browser")
        knock_id = await knock_at_guild(knock, person.user_id)
        while await knock.runtime.services.worker.run_once():
            pass
        for room in (space, general, events):
            assert invited(synapse, bot, room, person.user_id), room
        synapse.join(person, space)
        synapse.join(person, general)
        follower = knock.runtime.services.follower
        await follower.check_invites()
        assert (await knock.knock_state(knock_id))[0] is State.JOINED

        clock.advance(settings.invite_ttl - 60)
        await follower.check_invites()
        assert membership(synapse, bot, events, person.user_id) == "invite"
        clock.advance(120)
        await follower.check_invites()

        assert membership(synapse, bot, events, person.user_id) == "leave"
        assert membership(synapse, bot, space, person.user_id) == "join"
        assert membership(synapse, bot, general, person.user_id) == "join"
        answer = await knock.http.get(f"/knocks/{knock_id}", headers=knock.admin)
        assert answer.json()["state"] == "joined"
        assert [
            line["detail"]
            for line in answer.json()["history"]
            if line["event"] == "room_invite_expired"
        ] == [events]
    finally:
        await knock.stop()
