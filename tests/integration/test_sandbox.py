"""The Synapse harness itself (knock_testing/synapse.py + tests/conftest.py) works."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest

import knock_testing.synapse
from knock_testing.synapse import CLIENT_V3, Sandbox, SandboxUser
from tests.conftest import MakeUser

pytestmark = pytest.mark.no_database  # Synapse only: no Knock, no store


def _room(room_id: str) -> str:
    return f"{CLIENT_V3}/rooms/{quote(room_id, safe='')}"


def _invite(hs: Sandbox, inviter: SandboxUser, room_id: str, user_id: str) -> httpx.Response:
    return hs.api("POST", f"{_room(room_id)}/invite", user=inviter, json={"user_id": user_id})


def _whoami(hs: Sandbox, user: SandboxUser) -> httpx.Response:
    return hs.api("GET", f"{CLIENT_V3}/account/whoami", user=user)


def test_health(synapse: Sandbox) -> None:
    assert synapse.running
    assert synapse.base_url.startswith("http://127.0.0.1:")
    resp = httpx.get(f"{synapse.base_url}/health", trust_env=False)
    assert resp.status_code == 200
    assert resp.text == "OK"


def test_registered_user_can_whoami(synapse: Sandbox, make_user: MakeUser) -> None:
    user = make_user("whoami")
    assert user.user_id.startswith("@whoami-")
    assert user.user_id.endswith(f":{synapse.server_name}")
    resp = _whoami(synapse, user)
    assert resp.status_code == 200, resp.text
    assert resp.json()["user_id"] == user.user_id


def test_make_user_names_are_unique(make_user: MakeUser) -> None:
    assert make_user().user_id != make_user().user_id


def test_password_login(synapse: Sandbox, make_user: MakeUser) -> None:
    user = make_user("login")
    localpart = user.user_id[1:].split(":", 1)[0]
    again = synapse.login(localpart, user.password)
    assert again.user_id == user.user_id
    assert again.access_token != user.access_token
    assert _whoami(synapse, again).json()["user_id"] == user.user_id


def test_jwt_login_uses_the_configured_secret(synapse: Sandbox, bot: SandboxUser) -> None:
    localpart = bot.user_id[1:].split(":", 1)[0]
    token = jwt.encode({"sub": localpart}, synapse.jwt_secret, algorithm="HS256")
    resp = synapse.api(
        "POST", f"{CLIENT_V3}/login", json={"type": "org.matrix.login.jwt", "token": token}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["user_id"] == bot.user_id

    forged = jwt.encode(
        {"sub": localpart}, "not-the-secret-but-just-as-long-as-it", algorithm="HS256"
    )
    resp = synapse.api(
        "POST", f"{CLIENT_V3}/login", json={"type": "org.matrix.login.jwt", "token": forged}
    )
    assert resp.status_code == 403


def test_private_room_is_invite_only(synapse: Sandbox, bot: SandboxUser, private_room: str) -> None:
    resp = synapse.api("GET", f"{_room(private_room)}/state/m.room.join_rules/", user=bot)
    assert resp.status_code == 200, resp.text
    assert resp.json()["join_rule"] == "invite"
    assert synapse.members(bot, private_room) == {bot.user_id: "join"}


def test_outsider_cannot_join_private_room(
    synapse: Sandbox, private_room: str, make_user: MakeUser
) -> None:
    resp = synapse.api("POST", f"{_room(private_room)}/join", user=make_user(), json={})
    assert resp.status_code == 403


def test_create_room_options(synapse: Sandbox, bot: SandboxUser, make_user: MakeUser) -> None:
    moderator = make_user("mod")
    room_id = synapse.create_room(
        bot, join_rule="public", name="Other", power_users={moderator.user_id: 50}
    )
    state = {
        ev["type"]: ev["content"]
        for ev in synapse.api("GET", f"{_room(room_id)}/state", user=bot).json()
    }
    assert state["m.room.join_rules"]["join_rule"] == "public"
    assert state["m.room.name"]["name"] == "Other"
    assert state["m.room.power_levels"]["users"] == {moderator.user_id: 50}
    synapse.join(moderator, room_id)
    assert synapse.members(bot, room_id, "join") == {bot.user_id: "join", moderator.user_id: "join"}


def test_one_invite_is_one_member_event(
    synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    guest = make_user("guest")
    bystander = make_user("bystander")
    assert synapse.member_events(bot, private_room, guest.user_id) == []

    for user in (guest, bystander):
        resp = _invite(synapse, bot, private_room, user.user_id)
        assert resp.status_code == 200, resp.text

    events = synapse.member_events(bot, private_room, guest.user_id)
    assert len(events) == 1
    assert events[0]["content"]["membership"] == "invite"
    assert events[0]["sender"] == bot.user_id
    assert synapse.members(bot, private_room, "invite") == {
        guest.user_id: "invite",
        bystander.user_id: "invite",
    }

    synapse.join(guest, private_room)
    memberships = [
        ev["content"]["membership"]
        for ev in synapse.member_events(bot, private_room, guest.user_id)
    ]
    assert memberships == ["invite", "join"]
    assert synapse.members(bot, private_room)[guest.user_id] == "join"


def test_member_events_paginates_to_the_start(
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(knock_testing.synapse, "_MESSAGES_PAGE", 3)
    guest = make_user("paged")
    assert _invite(synapse, bot, private_room, guest.user_id).status_code == 200
    # Bury the invite under several pages of other member events.
    churn = make_user("churn")
    for _ in range(5):
        assert _invite(synapse, bot, private_room, churn.user_id).status_code == 200
        kick = synapse.api(
            "POST", f"{_room(private_room)}/kick", user=bot, json={"user_id": churn.user_id}
        )
        assert kick.status_code == 200, kick.text
    assert len(synapse.member_events(bot, private_room, churn.user_id)) == 10
    events = synapse.member_events(bot, private_room, guest.user_id)
    assert [ev["content"]["membership"] for ev in events] == ["invite"]


def test_restart_keeps_users_and_rooms(
    synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    base_url = synapse.base_url
    try:
        synapse.restart()
    finally:
        if not synapse.running:  # never leave the session homeserver down
            synapse.start()
    assert synapse.running
    assert synapse.base_url == base_url
    assert _whoami(synapse, bot).json()["user_id"] == bot.user_id
    assert synapse.members(bot, private_room) == {bot.user_id: "join"}


def test_outage_refuses_connections(synapse: Sandbox, bot: SandboxUser) -> None:
    try:
        synapse.stop()
        synapse.stop()  # idempotent
        assert not synapse.running
        with pytest.raises(httpx.ConnectError):
            _whoami(synapse, bot)
    finally:
        synapse.start()
    assert _whoami(synapse, bot).status_code == 200


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, server_name="not a server name!")
    with pytest.raises(RuntimeError, match="Synapse exited with code") as excinfo:
        sandbox.start()
    assert "has an invalid format" in str(excinfo.value)  # the tail of Synapse's output
    assert not sandbox.running
    sandbox.stop()  # still idempotent


@pytest.mark.slow
def test_rate_limited_synapse_refuses_quick_invites(rate_limited_synapse: Sandbox) -> None:
    hs = rate_limited_synapse
    inviter = hs.register(f"inviter-{uuid.uuid4().hex[:12]}")
    room_id = hs.create_room(inviter)
    invitees = [hs.register(f"invitee-{uuid.uuid4().hex[:12]}") for _ in range(6)]

    responses = [_invite(hs, inviter, room_id, u.user_id) for u in invitees]

    statuses = [r.status_code for r in responses]
    assert statuses[0] == 200, responses[0].text
    assert set(statuses) <= {200, 429}, [r.text for r in responses]
    limited = [r.json() for r in responses if r.status_code == 429]
    assert limited, statuses
    for body in limited:
        assert body["errcode"] == "M_LIMIT_EXCEEDED"
        assert isinstance(body["retry_after_ms"], int)
        assert body["retry_after_ms"] > 0


@pytest.mark.slow
def test_lifted_rate_limits_allow_quick_invites(rate_limited_synapse: Sandbox) -> None:
    hs = rate_limited_synapse
    admin = hs.register(f"admin-{uuid.uuid4().hex[:12]}", admin=True)
    inviter = hs.register(f"lifted-{uuid.uuid4().hex[:12]}")
    hs.lift_rate_limits(admin, inviter.user_id)
    room_id = hs.create_room(inviter)
    invitees = [hs.register(f"invitee-{uuid.uuid4().hex[:12]}") for _ in range(6)]

    statuses = [_invite(hs, inviter, room_id, u.user_id).status_code for u in invitees]

    assert statuses == [200] * 6
