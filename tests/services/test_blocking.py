"""Blocking acts at once on everyone covered; unblocking lifts the bans Knock placed."""

from __future__ import annotations

import logging

import httpx
import pytest

from knock.core.blocklist import Entry
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.blocklist.actions import NeedsConfirmation
from knock.services.blocklist.policy_rooms import PolicyRooms
from knock.services.runtime import Runtime
from knock.store import Store, StoredEntry
from knock.web.app import KnockApp
from tests.services.conftest import BOT, ROOM, KnockState, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MEMBER = f"@spam-member:{SERVER}"  # joined
INVITEE = f"@spam-invitee:{SERVER}"  # invited by Knock, not yet joined
WAITING = f"@spam-waiting:{SERVER}"  # knocked, not yet invited
HONEST = f"@honest:{SERVER}"  # invited, not covered
PATTERN = f"@spam-*:{SERVER}"
BAN_ON_BLOCK = pytest.mark.parametrize(
    "knock_options", [{"ban_on_block": True}], ids=["ban_on_block"]
)

MOD = Actor.api("mod")


def entry(services: Runtime, pattern: str) -> Entry:
    return services.blocklist.entry_for(pattern, reason="spam wave")


async def room_with_everyone(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit
) -> dict[str, str]:
    """Knock ids by person: a member, two invitees (one honest) and one knock still queued."""
    knocks = {}
    for user in (MEMBER, INVITEE, HONEST):
        homeserver.add_user(user)
        knocks[user] = (await submit(user)).knock_id
    await drain(services)
    homeserver.join(MEMBER, ROOM)
    await services.follower.membership_changed(MEMBER, "join", MEMBER)
    homeserver.add_user(WAITING)
    knocks[WAITING] = (await submit(WAITING)).knock_id
    return knocks


async def test_blocking_a_pattern_kicks_members_revokes_invites_and_closes_knocks(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knocks = await room_with_everyone(services, homeserver, submit)

    answer = (await services.blocking.block(entry(services, PATTERN), MOD)).as_dict()
    await drain(services)

    assert answer["actions"] == {
        "removed": [MEMBER],
        "rescinded": [INVITEE],
        "declined": [WAITING],
    }
    reason = services.settings.kick_reason
    kicks = [(k.body["user_id"], k.body["reason"]) for k in homeserver.calls("kick")]
    assert sorted(kicks) == [(INVITEE, reason), (MEMBER, reason)]
    assert homeserver.calls("ban", status=None) == []
    room = {user: homeserver.membership(ROOM, user) for user in knocks}
    assert room == {MEMBER: "leave", INVITEE: "leave", HONEST: "invite", WAITING: None}
    states = {user: (await knock_state(knock_id))[0] for user, knock_id in knocks.items()}
    assert states == {
        MEMBER: State.BLOCKED,
        INVITEE: State.BLOCKED,
        WAITING: State.BLOCKED,
        HONEST: State.INVITED,
    }
    assert [i.body["user_id"] for i in homeserver.calls("invite")] == [MEMBER, INVITEE, HONEST]


async def test_a_dry_run_tells_what_blocking_would_do_and_does_nothing(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knocks = await room_with_everyone(services, homeserver, submit)

    answer = (await services.blocking.block(entry(services, PATTERN), MOD, dry_run=True)).as_dict()

    assert answer["dry_run"] is True
    assert answer["actions"]["removed"] == [MEMBER]
    assert homeserver.calls("kick", status=None) == []
    assert homeserver.membership(ROOM, MEMBER) == "join"
    assert await knock_state(knocks[WAITING]) == (State.QUEUED, None)
    assert services.blocklist.check(MEMBER).verdict != "block"


@pytest.mark.parametrize("knock_options", [{"block_confirm_threshold": 1}], ids=["threshold_1"])
async def test_removing_more_members_than_the_threshold_needs_confirmation(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    crowd = [f"@spam-{n}:{SERVER}" for n in range(2)]
    for user in crowd:
        homeserver.join(user, ROOM)

    with pytest.raises(NeedsConfirmation):
        await services.blocking.block(entry(services, PATTERN), MOD)
    still_in = [homeserver.membership(ROOM, user) for user in crowd]
    await services.blocking.block(entry(services, PATTERN), MOD, confirm=True)

    assert still_in == ["join", "join"]
    assert [homeserver.membership(ROOM, user) for user in crowd] == ["leave", "leave"]


async def test_a_removal_the_homeserver_refuses_is_reported_and_the_entry_still_holds(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.join(MEMBER, ROOM)
    homeserver.fail_next(1, 403, errcode="M_FORBIDDEN", endpoint="kick")

    answer = (await services.blocking.block(entry(services, MEMBER), MOD)).as_dict()

    assert answer["failed"] == [MEMBER]
    assert homeserver.membership(ROOM, MEMBER) == "join"
    assert services.blocklist.check(MEMBER).verdict == "block"


@BAN_ON_BLOCK
async def test_with_ban_on_block_members_are_banned_and_unblocking_lifts_the_ban(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.join(MEMBER, ROOM)
    homeserver.add_user(INVITEE)
    homeserver.set_membership(ROOM, INVITEE, "invite", by=BOT)

    await services.blocking.block(entry(services, PATTERN), MOD)
    banned = homeserver.membership(ROOM, MEMBER)
    answer = (await services.blocking.unblock(PATTERN, MOD)).as_dict()

    assert banned == "ban"
    assert [k.body["user_id"] for k in homeserver.calls("kick")] == [INVITEE]  # only revoked
    assert answer == {"status": "unblocked", "entry": PATTERN, "unbanned": [MEMBER], "door": None}
    assert [u.body["user_id"] for u in homeserver.calls("unban")] == [MEMBER]
    assert homeserver.membership(ROOM, MEMBER) == "leave"
    assert services.blocklist.check(MEMBER).verdict == "allow"


@BAN_ON_BLOCK
async def test_unblocking_leaves_alone_a_ban_someone_lifted_meanwhile(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.join(MEMBER, ROOM)
    await services.blocking.block(entry(services, MEMBER), MOD)
    homeserver.set_membership(ROOM, MEMBER, "leave", by=BOT)  # a moderator unbanned by hand

    answer = (await services.blocking.unblock(MEMBER, MOD)).as_dict()

    assert answer["unbanned"] == []
    assert homeserver.calls("unban", status=None) == []


@BAN_ON_BLOCK
async def test_unblocking_does_not_lift_a_ban_knock_did_not_place(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.set_membership(ROOM, MEMBER, "ban", by=BOT)  # banned by a moderator
    await services.blocking.block(entry(services, MEMBER), MOD)

    answer = (await services.blocking.unblock(MEMBER, MOD)).as_dict()

    assert answer["unbanned"] == []
    assert homeserver.membership(ROOM, MEMBER) == "ban"


# No catch-alls: an entry that would match anyone on any server is refused everywhere.

CATCH_ALLS = ["*", "@*:*", "@*:*.org", "@?:*"]


@pytest.mark.parametrize("knock_options", [{"api_key": "an-admin-key-long-enough"}], ids=["api"])
async def test_the_api_refuses_a_catch_all_and_says_to_name_a_server(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    headers = {"Authorization": "Bearer an-admin-key-long-enough"}
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as api:
        answers = [
            await api.post(route, headers=headers, json={"user_id": pattern})
            for route in ("/block_user", "/allow_user")
            for pattern in CATCH_ALLS
        ]
        kept = await api.post("/block_user", headers=headers, json={"user_id": "@spam*:*"})

    assert [answer.status_code for answer in answers] == [422] * 8
    assert all("name a server instead" in answer.json()["detail"] for answer in answers)
    assert kept.status_code == 200
    assert [e.pattern for e in await runtime.services.blocklist.entries()] == ["@spam*:*"]


async def test_a_policy_rooms_catch_all_rules_are_skipped_and_said_once(
    runtime: Runtime, store: Store, homeserver: FakeHomeserver, caplog: pytest.LogCaptureFixture
) -> None:
    curator = homeserver.add_user(f"@curator:{SERVER}")
    policy = homeserver.create_room(curator, join_rule="public")
    rules = [
        ("m.policy.rule.user", "r1", "@*:*"),
        ("m.policy.rule.user", "r2", "@?:*"),
        ("m.policy.rule.server", "r3", "*"),
        ("m.policy.rule.server", "r4", "*.org"),
        ("m.policy.rule.user", "r5", "@spam*:*"),
        ("m.policy.rule.server", "r6", "evil.example"),
    ]
    for kind, key, entity in rules:
        content = {"entity": entity, "recommendation": "m.ban", "reason": "spam"}
        homeserver.set_state(policy, curator, kind, key, content)
    policy_rooms = PolicyRooms([policy], store, runtime.matrix, runtime.clock)

    with caplog.at_level(logging.WARNING):
        await policy_rooms.refresh()
        await policy_rooms.refresh()

    stored = sorted(e.pattern for e in await store.blocklist.entries())
    assert stored == ["@spam*:*", "evil.example"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 4
    assert all(policy in line and "name a server instead" in line for line in warned)


async def test_a_catch_all_stored_before_this_check_existed_is_not_loaded(
    services: Runtime, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    now = services.clock.now()
    for pattern in ("@*:*", "@spam*:*"):
        await store.blocklist.add(StoredEntry(pattern, False, "moderator", "file", None, now))

    with caplog.at_level(logging.WARNING):
        await services.blocklist.load()

    assert services.blocklist.check(f"@anyone:{SERVER}").verdict == "allow"
    assert services.blocklist.check(f"@spammer:{SERVER}").verdict == "block"
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "@*:*" in warning and "unblock it" in warning
