"""On the real Synapse: a knock held for review gets its person's name and avatar cached, and the
console serves the avatar to a signed-in moderator from that cache."""

from __future__ import annotations

from pathlib import Path

from knock.core.lifecycle import State
from knock.services.console.profiles import Avatar, Profile
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.images import PNG, SVG
from tests.integration.harness import (
    ADMIN_KEY,
    eventually,
    knock_settings,
    start_knock,
    tally_delivery,
)


async def test_a_held_knocks_name_and_avatar_are_cached_and_the_console_serves_the_avatar(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("avatar")
    avatar = synapse.upload_media(person, PNG, "image/png", "me.png")
    synapse.set_profile(person, displayname="Ada Lovelace", avatar_url=avatar)
    settings = knock_settings(tmp_path, synapse, bot, private_room, repair_action="review")
    knock = await start_knock(settings)
    try:
        # Typed without "@": repaired, and with REPAIR_ACTION=review held for a moderator.
        typed = person.user_id.removeprefix("@")
        body, headers = tally_delivery(typed, "held-with-avatar")
        answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
        knock_id = answer.json()["knock_id"]
        profiles = knock.runtime.services.profiles

        async def cached() -> Profile | None:
            return (await profiles.of([person.user_id])).get(person.user_id)

        profile = await eventually(cached, what="the profile to be cached")
        state = await knock.knock_state(knock_id)
        kept = await profiles.avatar(person.user_id)
        unsigned = await knock.http.get(f"/console/avatars/{person.user_id}")
        signed = await knock.http.post("/console/sign-in", data={"api_key": ADMIN_KEY})
        served = await knock.http.get(f"/console/avatars/{person.user_id}")
    finally:
        await knock.stop()

    assert state == (State.REVIEW, "repaired_id")
    assert profile == Profile("Ada Lovelace", True)
    assert kept == Avatar(PNG, "image/png")
    assert unsigned.status_code == 401
    assert signed.status_code == 303
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'"
    assert served.headers["cache-control"] == "private, max-age=3600"


async def test_an_svg_avatar_on_synapse_is_not_kept(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("svg")
    # Labelled a PNG: Knock reads the bytes, not the label.
    synapse.set_profile(person, avatar_url=synapse.upload_media(person, SVG, "image/png"))
    knock = await start_knock(knock_settings(tmp_path, synapse, bot, private_room))
    try:
        body, headers = tally_delivery(person.user_id, "svg-avatar")
        await knock.http.post("/invite_from_form", content=body, headers=headers)
        profiles = knock.runtime.services.profiles

        async def cached() -> Profile | None:
            return (await profiles.of([person.user_id])).get(person.user_id)

        profile = await eventually(cached, what="the profile to be cached")
        kept = await profiles.avatar(person.user_id)
        await knock.http.post("/console/sign-in", data={"api_key": ADMIN_KEY})
        served = await knock.http.get(f"/console/avatars/{person.user_id}")
    finally:
        await knock.stop()

    assert profile == Profile(person.user_id[1:].split(":")[0], False)
    assert kept is None
    assert served.status_code == 404
