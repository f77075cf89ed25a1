"""Following invites on the real test Synapse: welcome, reminders, expiry, the watchdog."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import httpx
import pytest

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.clock import FakeClock
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    KnockUnderTest,
    database_rows,
    eventually,
    invited,
    knock_settings,
    process_env,
    start_knock,
    start_processes,
    tally_delivery,
    wait_for,
)

T = TypeVar("T")

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

        async def recorded() -> bool:  # sent, then written down: stop only after both
            history = await knock.runtime.store.history(knock_id)
            return any(entry.event == "welcomed" for entry in history)

        await eventually(recorded, what="the welcome in the knock's history")
    finally:
        await knock.stop()
    content = messages[0]["content"]
    assert content["m.mentions"] == {"user_ids": [person.user_id]}  # type: ignore[index]
    assert f"https://matrix.to/#/{person.user_id}" in content["formatted_body"]  # type: ignore[index]

    again = await start_knock(settings)
    try:
        await again.runtime.services.follower.check_invites()
        while await again.runtime.services.worker.run_once():
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
        await knock.runtime.services.worker.run_once()
        follower = knock.runtime.services.follower

        clock.advance(settings.reminder_after - 60)
        await follower.check_invites()
        early = [h.event for h in await knock.runtime.store.history(knock_id)]
        clock.advance(120)
        await follower.check_invites()
        await follower.check_invites()
        dm = await knock.runtime.services.direct_chats.room_with(person.user_id)
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
        synapse.invite(bot, private_room, intruder.user_id)

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


def _lease_holder() -> str | None:
    rows = database_rows("SELECT holder FROM leases WHERE name = 'singleton'")
    return str(rows[0][0]) if rows else None


@pytest.mark.slow
def test_when_the_leader_dies_another_process_takes_over_without_a_second_welcome(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    env = process_env(
        tmp_path,
        synapse,
        bot,
        private_room,
        WEBHOOK_TOKEN="t",
        LEASE_TTL="3s",
        INVITE_CHECK_INTERVAL="0",
        BLOCKLIST_SCAN_INTERVAL="0",
    )
    processes = start_processes(tmp_path, env, 2)
    first, second = make_user("before"), make_user("after")
    try:
        by_pid = {str(p.process.pid): p for p in processes}
        leader = wait_for(lambda: _lease_holder(), "a leader")
        assert leader is not None
        leader_process = by_pid[leader.split(":")[1]]
        survivor = next(p for p in processes if p is not leader_process)

        _knock_join_and_wait_for_welcome(synapse, bot, private_room, survivor.url, first)
        leader_process.process.kill()  # dies without a word: its lease must run out
        wait_for(
            lambda: (_lease_holder() or "").split(":")[1] == str(survivor.process.pid),
            "the survivor to take the lease",
        )
        _knock_join_and_wait_for_welcome(synapse, bot, private_room, survivor.url, second)
    finally:
        for process in processes:
            process.stop()
    assert len(_welcomes(synapse, first, private_room)) == 1
    assert len(_welcomes(synapse, second, private_room)) == 1


def _welcomes(synapse: Sandbox, person: SandboxUser, room: str) -> list[dict[str, object]]:
    return [
        m
        for m in _messages(synapse, person, room)
        if person.user_id in json.dumps(m.get("content", {}))
    ]


def _knock_join_and_wait_for_welcome(
    synapse: Sandbox, bot: SandboxUser, room: str, url: str, person: SandboxUser
) -> None:
    answer = httpx.post(
        f"{url}/invite_from_form?token=t", json={"matrix_id": person.user_id}, timeout=30
    )
    assert answer.status_code == 202
    wait_for(lambda: invited(synapse, bot, room, person.user_id), "the invite")
    synapse.join(person, room)
    wait_for(lambda: _welcomes(synapse, person, room), "the welcome")


async def test_a_moderators_reaction_approves_a_reviewed_knock_and_others_are_ignored(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    moderator, bystander, person = make_user("mod"), make_user("bystander"), make_user("review")
    mod_room = synapse.create_room(bot, name="Moderators", power_users={moderator.user_id: 50})
    for member in (moderator, bystander):
        synapse.invite(bot, mod_room, member.user_id)
        synapse.join(member, mod_room)
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        repair_action="review",
        moderation_room_id=mod_room,
        **SCANS_OFF,
    )
    knock = await start_knock(settings)
    try:
        # Unknown as typed, so lower-cased to the real id at invite time, then held for review.
        local, _, server = person.user_id.partition(":")
        typed = f"{local.upper()}:{server}"
        body, headers = tally_delivery(typed, "to-review")
        knock_id = (
            await knock.http.post("/invite_from_form", content=body, headers=headers)
        ).json()["knock_id"]

        def announcement() -> str | None:
            for message in _messages(synapse, moderator, mod_room):
                if person.user_id in str(message["content"]) and message["sender"] == bot.user_id:
                    return str(message["event_id"])
            return None

        event_id = await eventually(announcement, what="the review to be posted")
        for reactor in (bystander, moderator):
            synapse.api(
                "PUT",
                f"/_matrix/client/v3/rooms/{quote(mod_room, safe='')}/send/m.reaction/"
                f"r{reactor.user_id[1:8]}",
                user=reactor,
                json={
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "✅"}
                },
            ).raise_for_status()

        await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
        history = await knock.runtime.store.history(knock_id)
        replies = [
            m
            for m in _messages(synapse, moderator, mod_room)
            if m["content"].get("m.relates_to", {}).get("event_id") == event_id  # type: ignore[union-attr]
            and m["sender"] == bot.user_id
        ]
    finally:
        await knock.stop()
    approvals = [(h.event, h.actor) for h in history if h.event == "approved"]
    assert approvals == [("approved", f"matrix:{moderator.user_id}")]
    assert replies and "Approved" in str(replies[0]["content"])


async def test_an_encrypted_moderation_room_is_said_in_one_line_and_review_posts_wait(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mod_room = synapse.create_room(bot, name="Encrypted moderators")
    synapse.api(
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(mod_room, safe='')}/state/m.room.encryption/",
        user=bot,
        json={"algorithm": "m.megolm.v1.aes-sha2"},
    ).raise_for_status()
    settings = knock_settings(tmp_path, synapse, bot, private_room, moderation_room_id=mod_room)

    with caplog.at_level(logging.WARNING):
        knock = await start_knock(settings, background=False)
    try:
        said = [r.getMessage() for r in caplog.records if mod_room in r.getMessage()]
        keyed = await knock.http.get("/readyz", headers=knock.admin)
    finally:
        await knock.stop()

    assert len(said) == 1
    assert f"MODERATION_ROOM_ID {mod_room} is encrypted" in said[0]
    assert keyed.status_code == 200
    assert keyed.json()["checks"]["rooms"] is False
    assert keyed.json()["details"]["rooms"][mod_room].startswith("MODERATION_ROOM_ID")


async def test_a_ban_the_watchdog_placed_is_lifted_by_unblocking(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room, ban_on_block=True, **SCANS_OFF)
    intruder = make_user("banned")
    knock = await start_knock(settings)
    try:
        await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": intruder.user_id}
        )
        synapse.invite(bot, private_room, intruder.user_id)  # past Knock

        def banned() -> bool:
            return synapse.members(bot, private_room).get(intruder.user_id) == "ban"

        await eventually(banned, what="the watchdog to ban the intruder")
        unblocked = await knock.http.post(
            "/unblock_user", headers=knock.admin, json={"user_id": intruder.user_id}
        )
    finally:
        await knock.stop()
    assert unblocked.json()["unbanned"] == [intruder.user_id]
    assert synapse.members(bot, private_room).get(intruder.user_id) == "leave"


async def test_a_join_wave_is_summarised_once_answered_in_bulk_and_a_notice_is_no_command(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    moderator, relay = make_user("mod"), make_user("relay")  # a bridge's bot, at power 50 too
    mod_room = synapse.create_room(
        bot, name="Moderators", power_users={moderator.user_id: 50, relay.user_id: 50}
    )
    for member in (moderator, relay):
        synapse.invite(bot, mod_room, member.user_id)
        synapse.join(member, mod_room)
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        moderation_room_id=mod_room,
        join_wave_threshold=1,  # the second knock trips the breaker
        **SCANS_OFF,
    )
    people = [make_user("wave") for _ in range(3)]
    knock = await start_knock(settings)
    try:
        for n, person in enumerate(people):
            body, headers = tally_delivery(person.user_id, f"wave-{n}")
            answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
            assert answer.status_code == 202

        def summaries() -> list[dict[str, object]]:
            return [
                m
                for m in _messages(synapse, moderator, mod_room)
                if m["sender"] == bot.user_id and "Join wave" in str(m["content"])
            ]

        [summary] = await eventually(summaries, what="the join wave's summary")

        def send(user: SandboxUser, msgtype: str, body: str, txn: str) -> str:
            path = f"/_matrix/client/v3/rooms/{quote(mod_room, safe='')}/send/m.room.message/{txn}"
            content = {"msgtype": msgtype, "body": body}
            answer = synapse.api("PUT", path, user=user, json=content)
            answer.raise_for_status()
            return str(answer.json()["event_id"])

        relayed = send(relay, "m.notice", "!approve wave", "relayed")
        command = send(moderator, "m.text", "!approve wave", "typed")

        def replies(event_id: str) -> list[str]:
            return [
                str(m["content"]["body"])  # type: ignore[index]
                for m in _messages(synapse, moderator, mod_room)
                if m["content"].get("m.relates_to", {}).get("event_id") == event_id  # type: ignore[union-attr]
            ]

        said = await eventually(lambda: replies(command), what="the answer to !approve wave")
        for person in people:
            await eventually(
                lambda p=person: invited(synapse, bot, private_room, p.user_id), what="invites"
            )
        after = summaries()
    finally:
        await knock.stop()

    body = str(summary["content"]["body"])  # type: ignore[index]
    assert "2 held for review so far" in body and "!approve wave" in body
    assert all(person.user_id in body for person in people[1:])
    assert summary["content"]["m.mentions"] == {}  # type: ignore[index]
    assert said == ["Approved 2 knocks held by the join wave."]  # the notice approved nothing
    assert replies(relayed) == []
    assert len(after) == 1
