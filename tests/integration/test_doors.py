"""Doors on a real Synapse: one Knock at the door of two rooms, each door with its own token and
windows, the block-list shared (on both databases)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    WITH_TOKEN,
    KnockUnderTest,
    eventually,
    invite_count,
    invited,
    knock_settings,
    start_knock,
)

CLUB_TOKEN = "club-webhook-token-of-its-own"
AT_CLUB = {"Authorization": f"Bearer {CLUB_TOKEN}"}
BOTH_DOORS = (("/invite_from_form", WITH_TOKEN), ("/doors/club/invite_from_form", AT_CLUB))
CLUB_WELCOME = "Welcome to the club, {display_name}!"


def doors_file(tmp_path: Path, club_room: str, limit_per_user: str = "1/1h") -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(
        f"""
[doors.club]
room = "{club_room}"
webhook_token = "{CLUB_TOKEN}"
limit_per_user = "{limit_per_user}"
welcome_message = "{CLUB_WELCOME}"
""",
        encoding="utf-8",
    )
    return path


async def knock_at(
    knock: KnockUnderTest, path: str, user_id: str, headers: dict[str, str]
) -> httpx.Response:
    body = json.dumps({"matrix_id": user_id}).encode()
    return await knock.http.post(
        path, content=body, headers={**headers, "Content-Type": "application/json"}
    )


async def settled(knock: KnockUnderTest, knock_id: str, state: State) -> None:
    async def there() -> bool:
        return (await knock.knock_state(knock_id))[0] is state

    await eventually(there, what=f"knock {knock_id} to be {state.value}")


async def test_each_door_invites_into_its_own_room_with_its_own_token_and_windows(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    club_room = synapse.create_room(bot, name="The club")
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, doors_file=doors_file(tmp_path, club_room)
    )
    knock = await start_knock(settings)
    try:
        member, clubber, both = make_user("member"), make_user("clubber"), make_user("both")

        answer = await knock_at(knock, "/invite_from_form", member.user_id, WITH_TOKEN)
        assert answer.status_code == 202, answer.text
        at_default = answer.json()["knock_id"]
        answer = await knock_at(knock, "/doors/club/invite_from_form", clubber.user_id, AT_CLUB)
        assert answer.status_code == 202, answer.text
        at_club = answer.json()["knock_id"]
        await settled(knock, at_default, State.INVITED)
        await settled(knock, at_club, State.INVITED)
        assert invited(synapse, bot, private_room, member.user_id)
        assert not invited(synapse, bot, club_room, member.user_id)
        assert invited(synapse, bot, club_room, clubber.user_id)
        assert not invited(synapse, bot, private_room, clubber.user_id)

        # Each door's JSON names it; the list narrows by door.
        found = await knock.http.get(f"/knocks/{at_club}", headers=knock.admin)
        assert found.json()["door"] == "club"
        listed = await knock.http.get("/knocks", params={"door": "club"}, headers=knock.admin)
        assert [k["knock_id"] for k in listed.json()["knocks"]] == [at_club]

        # Another door's token is refused at this door, both ways; an unknown door is 404.
        refused = await knock_at(knock, "/doors/club/invite_from_form", both.user_id, WITH_TOKEN)
        assert refused.status_code == 401
        refused = await knock_at(knock, "/invite_from_form", both.user_id, AT_CLUB)
        assert refused.status_code == 401
        missing = await knock_at(knock, "/doors/nope/invite_from_form", both.user_id, AT_CLUB)
        assert missing.status_code == 404

        # The club's window (1 an hour) counts the club's knocks only.
        first = await knock_at(knock, "/doors/club/invite_from_form/", both.user_id, AT_CLUB)
        await settled(knock, first.json()["knock_id"], State.INVITED)
        leave = f"/_matrix/client/v3/rooms/{quote(club_room, safe='')}/leave"
        assert synapse.api("POST", leave, user=both, json={}).status_code == 200  # declined
        await settled(knock, first.json()["knock_id"], State.DECLINED)
        again = await knock_at(knock, "/doors/club/invite_from_form", both.user_id, AT_CLUB)
        assert again.status_code == 202
        assert (await knock.knock_state(again.json()["knock_id"]))[0] is State.DROPPED
        elsewhere = await knock_at(knock, "/invite_from_form", both.user_id, WITH_TOKEN)
        await settled(knock, elsewhere.json()["knock_id"], State.INVITED)
        assert invited(synapse, bot, private_room, both.user_id)
        assert invite_count(synapse, bot, club_room, both.user_id) == 1
    finally:
        await knock.stop()


async def joined_at_both_doors(
    knock: KnockUnderTest, synapse: Sandbox, person: SandboxUser, rooms: tuple[str, str]
) -> None:
    """Knock at the default door and at the club, be invited by each, and join both rooms."""
    for path, headers in BOTH_DOORS:
        answer = await knock_at(knock, path, person.user_id, headers)
        await settled(knock, answer.json()["knock_id"], State.INVITED)
    for room in rooms:
        synapse.join(person, room)


async def test_a_global_block_refuses_at_every_door_and_removes_from_every_room(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    club_room = synapse.create_room(bot, name="The club")
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, doors_file=doors_file(tmp_path, club_room, "off")
    )
    knock = await start_knock(settings)
    try:
        troll, newcomer = make_user("troll"), make_user("newcomer")
        await joined_at_both_doors(knock, synapse, troll, (private_room, club_room))

        blocked = await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": troll.user_id, "reason": "spam"}
        )
        assert blocked.status_code == 200, blocked.text
        assert blocked.json()["actions"]["removed"] == [troll.user_id]
        members = [synapse.members(bot, room) for room in (private_room, club_room)]
        assert [m.get(troll.user_id) for m in members] == ["leave", "leave"]

        # Knocking again at either door is refused, silently.
        for path, headers in BOTH_DOORS:
            answer = await knock_at(knock, path, troll.user_id, headers)
            assert answer.status_code == 202
            state = await knock.knock_state(answer.json()["knock_id"])
            assert state == (State.REJECTED, "blocked")

        # The club's welcome lands in the club's room, in the club's words.
        answer = await knock_at(knock, "/doors/club/invite_from_form", newcomer.user_id, AT_CLUB)
        await settled(knock, answer.json()["knock_id"], State.INVITED)
        synapse.join(newcomer, club_room)
        await settled(knock, answer.json()["knock_id"], State.JOINED)

        def welcomed() -> bool:
            path = f"/_matrix/client/v3/rooms/{quote(club_room, safe='')}/messages"
            params = {"dir": "b", "limit": "20"}
            chunk = synapse.api("GET", path, user=newcomer, params=params).json()["chunk"]
            return any(
                e["sender"] == bot.user_id and "Welcome to the club" in e["content"].get("body", "")
                for e in chunk
                if e["type"] == "m.room.message"
            )

        await eventually(welcomed, what="the club's welcome in the club's room")
    finally:
        await knock.stop()


async def test_a_doors_own_block_refuses_and_removes_at_that_door_only(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    club_room = synapse.create_room(bot, name="The club")
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, doors_file=doors_file(tmp_path, club_room, "off")
    )
    knock = await start_knock(settings)
    try:
        troll = make_user("troll")
        await joined_at_both_doors(knock, synapse, troll, (private_room, club_room))

        blocked = await knock.http.post(
            "/block_user",
            headers=knock.admin,
            json={"user_id": troll.user_id, "reason": "club rules", "door": "club"},
        )
        assert blocked.status_code == 200, blocked.text
        assert blocked.json()["entry"]["door"] == "club"
        members = [synapse.members(bot, room) for room in (private_room, club_room)]
        assert [m.get(troll.user_id) for m in members] == ["join", "leave"]

        # Refused again at the club, silently; the list says whose entry it is.
        at_club = await knock_at(knock, "/doors/club/invite_from_form", troll.user_id, AT_CLUB)
        assert at_club.status_code == 202
        assert await knock.knock_state(at_club.json()["knock_id"]) == (State.REJECTED, "blocked")
        listing = (await knock.http.get("/blocklist", headers=knock.admin)).json()
        assert [(e["user_id"], e["door"]) for e in listing["blocked_users"]] == [
            (troll.user_id, "club")
        ]
    finally:
        await knock.stop()
