"""The original admin routes: authentication, shapes, and rescinding an invite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    KnockUnderTest,
    eventually,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
)

ADMIN_ROUTES = [
    ("GET", "/pending_invites"),
    ("GET", "/room_members"),
    ("GET", "/room_state"),
    ("POST", "/rescind_invite"),
]


@pytest.fixture
async def knock(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> AsyncIterator[KnockUnderTest]:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    instance = await start_knock(settings)
    yield instance
    await instance.stop()


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_answer_403_naming_the_setting_when_api_key_is_unset(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, method: str, path: str
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room, api_key=None)
    knock = await start_knock(settings, background=False)
    try:
        answer = await knock.http.request(
            method, path, headers={"Authorization": "Bearer anything"}, json={"user_id": "@a:b"}
        )
    finally:
        await knock.stop()
    assert answer.status_code == 403
    assert "API_KEY" in answer.json()["detail"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic dGVzdA=="])
async def test_admin_routes_answer_401_with_a_bearer_challenge_without_the_right_key(
    knock: KnockUnderTest, method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    answer = await knock.http.request(method, path, headers=headers, json={"user_id": "@a:b"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_pending_invites_room_members_and_rescind(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("pending")
    body, headers = tally_delivery(person.user_id, submission_id="pending")
    knock_id = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()[
        "knock_id"
    ]
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")

    async def listed() -> dict[str, object] | None:
        rows = (await knock.http.get("/pending_invites", headers=knock.admin)).json()
        return rows if rows["count"] == 1 else None

    pending = await eventually(listed, what="the invite to be listed")
    row = pending["pending_invites"][0]  # type: ignore[index]
    assert row["user_id"] == person.user_id and row["knock_id"] == knock_id
    assert isinstance(row["invite_time"], int) and row["age_seconds"] >= 0

    members = (await knock.http.get("/room_members", headers=knock.admin)).json()
    assert members == {"joined_members": [bot.user_id], "count": 1}
    state = (await knock.http.get("/room_state", headers=knock.admin)).json()
    assert any(event["type"] == "m.room.create" for event in state["state"])

    rescinded = await knock.http.post(
        "/rescind_invite",
        headers=knock.admin,
        json={"user_id": person.user_id, "reason": "changed our minds"},
    )
    assert rescinded.status_code == 200
    assert rescinded.json()["was"] == "invited"
    assert synapse.members(bot, private_room).get(person.user_id) == "leave"
    assert await knock.knock_state(knock_id) == (State.RESCINDED, None)
    history = await knock.runtime.store.history(knock_id)
    assert (history[-1].event, history[-1].actor, history[-1].detail) == (
        "rescinded",
        "api:admin",
        "changed our minds",
    )
    leave = synapse.member_events(bot, private_room, person.user_id)[-1]
    assert "changed our minds" not in str(leave["content"])  # the reason stays with moderators
    after = (await knock.http.get("/pending_invites", headers=knock.admin)).json()
    assert after["count"] == 0


async def test_rescinding_a_member_removes_them(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("member")
    body, headers = tally_delivery(person.user_id, submission_id="member")
    await knock.http.post("/invite_from_form", content=body, headers=headers)
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
    synapse.join(person, private_room)

    answer = await knock.http.post(
        "/rescind_invite", headers=knock.admin, json={"user_id": person.user_id}
    )

    assert answer.status_code == 200 and answer.json()["was"] == "member"
    assert synapse.members(bot, private_room).get(person.user_id) == "leave"


async def test_rescinding_someone_unknown_or_malformed_is_a_clear_4xx(
    knock: KnockUnderTest, synapse: Sandbox
) -> None:
    unknown = await knock.http.post(
        "/rescind_invite", headers=knock.admin, json={"user_id": f"@nobody:{synapse.server_name}"}
    )
    malformed = await knock.http.post(
        "/rescind_invite", headers=knock.admin, json={"user_id": "@bad id:"}
    )
    missing = await knock.http.post("/rescind_invite", headers=knock.admin, json={})

    assert unknown.status_code == 404 and "no pending invite" in unknown.json()["detail"]
    assert malformed.status_code == 422 and "not a valid Matrix ID" in malformed.json()["detail"]
    assert missing.status_code == 422


async def test_openapi_lists_the_original_routes(knock: KnockUnderTest) -> None:
    paths = (await knock.http.get("/openapi.json")).json()["paths"]
    for _, path in ADMIN_ROUTES:
        assert path in paths
    assert "/invite_from_form" in paths
