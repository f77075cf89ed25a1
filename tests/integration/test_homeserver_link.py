"""Knock on a real Synapse that is down at start, or where the bot lacks a power: it serves."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    eventually,
    knock_settings,
    start_knock,
    tally_delivery,
)


def _invites(synapse: Sandbox, viewer: SandboxUser, room: str, user_id: str) -> int:
    events = synapse.member_events(viewer, room, user_id)
    return sum(1 for event in events if event["content"].get("membership") == "invite")


@pytest.mark.slow
async def test_started_while_synapse_is_stopped_knock_serves_and_invites_each_once_later(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    people = [make_user("early") for _ in range(3)]
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET, job_retry_cap=1
    )
    synapse.stop()
    try:
        began = time.monotonic()
        knock = await start_knock(settings)
        try:
            root = await knock.http.get("/")
            ready = await knock.http.get("/readyz")
            took = time.monotonic() - began
            assert (root.status_code, ready.status_code) == (200, 200)
            assert ready.json()["checks"]["homeserver"] is False
            assert took < 15, f"Knock took {took:.1f}s to answer while the homeserver was down"
            for number, person in enumerate(people):
                body, headers = tally_delivery(person.user_id, submission_id=f"early-{number}")
                answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
                assert answer.status_code == 202

            synapse.start()

            for person in people:
                await eventually(
                    lambda p=person: _invites(synapse, bot, private_room, p.user_id) == 1,
                    timeout=90,
                    what=f"{person.user_id} to be invited once Synapse answers",
                )
            assert [_invites(synapse, bot, private_room, p.user_id) for p in people] == [1, 1, 1]
        finally:
            await knock.stop()
    finally:
        if not synapse.running:
            synapse.start()


@pytest.mark.slow
async def test_a_bot_without_ban_power_serves_says_so_and_invites_once_granted(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = make_user("owner")
    room = synapse.create_room(owner, power_users={bot.user_id: 50})
    levels = synapse.api(
        "GET", f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/", user=owner
    ).json()
    synapse.api(
        "PUT",
        f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/",
        user=owner,
        json={**levels, "ban": 75},
    ).raise_for_status()
    synapse.invite(owner, room, bot.user_id)
    synapse.join(bot, room)
    person = make_user("patient")
    settings = knock_settings(tmp_path, synapse, bot, room, tally_signing_secret=FIXTURE_SECRET)

    with caplog.at_level(logging.WARNING):
        knock = await start_knock(settings)
    try:
        said = [r.getMessage() for r in caplog.records if "not ready" in r.getMessage()]
        public = await knock.http.get("/readyz")
        keyed = await knock.http.get("/readyz", headers=knock.admin)
        body, headers = tally_delivery(person.user_id, submission_id="patient")
        answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

        assert said == [
            f"Room {room} is not ready: the bot {bot.user_id} has power level 50 in {room} "
            "but cannot ban (needs 75): raise its power level"
        ]
        assert public.status_code == 200
        assert public.json()["checks"] == {"database": True, "homeserver": True, "rooms": False}
        assert room not in public.text
        assert keyed.json()["details"]["rooms"][room].endswith("raise its power level")
        assert answer.status_code == 202
        assert _invites(synapse, bot, room, person.user_id) == 0

        levels["users"][bot.user_id] = 100
        synapse.api(
            "PUT",
            f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/",
            user=owner,
            json={**levels, "ban": 75},
        ).raise_for_status()

        await eventually(
            lambda: _invites(synapse, bot, room, person.user_id) == 1,
            timeout=60,
            what="the invite once the bot may ban",
        )
        ready = await knock.http.get("/readyz")
        assert ready.json()["checks"]["rooms"] is True
    finally:
        await knock.stop()
