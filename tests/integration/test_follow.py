"""Following invites on the real test Synapse: welcome, reminders, expiry, the watchdog."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from knock.core.lifecycle import State
from knock.sandbox import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    FakeClock,
    KnockUnderTest,
    eventually,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
)

SCANS_OFF = {"invite_check_interval": 0, "blocklist_scan_interval": 0}


def _messages(synapse: Sandbox, viewer: SandboxUser, room: str) -> list[dict[str, object]]:
    params = {"dir": "b", "limit": "100", "filter": json.dumps({"types": ["m.room.message"]})}
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages"
    return list(synapse.api("GET", path, user=viewer, params=params).json()["chunk"])


async def _knock_and_invite(knock: KnockUnderTest, person: SandboxUser, submission: str) -> str:
    body, headers = tally_delivery(person.user_id, submission)
    knock_id = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()[
        "knock_id"
    ]

    async def recorded() -> bool:
        return (await knock.knock_state(knock_id))[0] is State.INVITED

    await eventually(recorded, what="the invite to be recorded")
    return str(knock_id)


async def test_a_person_who_accepts_is_welcomed_once_also_after_a_restart(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET, **SCANS_OFF
    )
    person = make_user("welcome")
    knock = await start_knock(settings)
    try:
        knock_id = await _knock_and_invite(knock, person, "welcome")
        synapse.join(person, private_room)

        def welcomed() -> list[dict[str, object]]:
            return [
                m
                for m in _messages(synapse, person, private_room)
                if person.user_id in json.dumps(m.get("content", {}))
            ]

        messages = await eventually(welcomed, what="the welcome message")
        assert (await knock.knock_state(knock_id))[0] is State.JOINED
    finally:
        await knock.stop()
    content = messages[0]["content"]
    assert content["m.mentions"] == {"user_ids": [person.user_id]}  # type: ignore[index]
    assert f"https://matrix.to/#/{person.user_id}" in content["formatted_body"]  # type: ignore[index]

    again = await start_knock(settings)
    try:
        await again.runtime.follower.check_invites()
        while await again.runtime.worker.run_once():
            pass
        history = await again.runtime.store.history(knock_id)
    finally:
        await again.stop()
    assert len(welcomed()) == 1
    assert [h.event for h in history].count("welcomed") == 1


async def test_one_reminder_after_reminder_after_and_expiry_after_invite_ttl(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    clock = FakeClock()
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET, **SCANS_OFF
    )
    person = make_user("dawdler")
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        body, headers = tally_delivery(person.user_id, "dawdle")
        knock_id = (
            await knock.http.post("/invite_from_form", content=body, headers=headers)
        ).json()["knock_id"]
        await knock.runtime.worker.run_once()
        follower = knock.runtime.follower

        clock.advance(settings.reminder_after - 60)
        await follower.check_invites()
        early = [h.event for h in await knock.runtime.store.history(knock_id)]
        clock.advance(120)
        await follower.check_invites()
        await follower.check_invites()
        dm = await follower.direct_room(person.user_id)
        clock.advance(settings.invite_ttl)
        await follower.check_invites()
        state = await knock.knock_state(knock_id)
        history = [h.event for h in await knock.runtime.store.history(knock_id)]
    finally:
        await knock.stop()

    assert "reminded" not in early
    assert history.count("reminded") == 1
    synapse.join(person, dm)
    reminders = [m for m in _messages(synapse, person, dm) if m["sender"] == bot.user_id]
    assert len(reminders) == 1
    assert state == (State.EXPIRED, None)
    assert not invited(synapse, bot, private_room, person.user_id)


async def test_a_block_listed_person_who_gets_in_another_way_is_removed(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room, **SCANS_OFF)
    intruder = make_user("intruder")
    knock = await start_knock(settings)
    try:
        answer = await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": intruder.user_id}
        )
        assert answer.status_code == 200

        # A moderator (here: the bot account, by hand) invites them past Knock.
        synapse.api(
            "POST",
            f"/_matrix/client/v3/rooms/{quote(private_room, safe='')}/invite",
            user=bot,
            json={"user_id": intruder.user_id},
        ).raise_for_status()

        def removed() -> bool:
            return synapse.members(bot, private_room).get(intruder.user_id) == "leave"

        await eventually(removed, what="the watchdog to remove the intruder")
    finally:
        await knock.stop()


async def test_native_knocks_are_invited_or_declined_by_the_same_checks(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, make_user: MakeUser
) -> None:
    room = synapse.create_room(bot, join_rule="knock", name="Knock-rule room")
    settings = knock_settings(tmp_path, synapse, bot, room, **SCANS_OFF)
    welcome, unwelcome = make_user("native"), make_user("nativetroll")
    knock = await start_knock(settings)
    try:
        await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": unwelcome.user_id}
        )
        for person in (welcome, unwelcome):
            synapse.api(
                "POST",
                f"/_matrix/client/v3/knock/{quote(room, safe='')}",
                user=person,
                json={"reason": "let me in"},
            ).raise_for_status()

        await eventually(lambda: invited(synapse, bot, room, welcome.user_id), what="the invite")

        def declined() -> bool:
            return synapse.members(bot, room).get(unwelcome.user_id) == "leave"

        await eventually(declined, what="the blocked knock to be declined")
        knocks = (await knock.http.get("/knocks", headers=knock.admin)).json()["knocks"]
    finally:
        await knock.stop()
    by_user = {k["user_id"]: k for k in knocks}
    assert by_user[welcome.user_id]["source"] == "native"
    assert (by_user[unwelcome.user_id]["state"], by_user[unwelcome.user_id]["reason"]) == (
        "rejected",
        "blocked",
    )
    leave = synapse.member_events(bot, room, unwelcome.user_id)[-1]
    assert leave["content"].get("reason") == settings.kick_reason
