"""After the invite: joins, declines, welcomes, reminders, expiry, native knocks, the watchdog."""

from __future__ import annotations

import pytest

from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store import Store
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM, KnockState, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
MALLORY = f"@mallory:{SERVER}"
MODERATOR = f"@moderator:{SERVER}"


async def invite(services: Runtime, homeserver: FakeHomeserver, submit: Submit, user: str) -> str:
    homeserver.add_user(user, user[1:].split(":")[0].title())
    outcome = await submit(user)
    await drain(services)
    assert homeserver.membership(ROOM, user) == "invite"
    return outcome.knock_id


def welcomes(homeserver: FakeHomeserver, room: str, user: str) -> list[dict[str, object]]:
    return [m for m in homeserver.messages(room) if user in str(m["content"])]


async def test_a_join_seen_by_the_live_view_is_recorded_and_welcomed_once(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    await services.live.run_once(timeout_ms=0)  # the first sync only takes a starting point

    homeserver.join(ALICE, ROOM)
    seen = await services.live.run_once(timeout_ms=0)
    joined = await knock_state(knock_id)
    await drain(services)
    await drain(services)

    assert seen == 1
    assert joined == (State.JOINED, None)
    [welcome] = welcomes(homeserver, ROOM, ALICE)
    assert welcome["sender"] == BOT
    assert welcome["content"]["m.mentions"] == {"user_ids": [ALICE]}  # type: ignore[index]
    assert "Welcome, Alice!" in welcome["content"]["body"]  # type: ignore[index]
    history = [h.event for h in await store.history(knock_id)]
    assert history.count("welcomed") == 1


async def test_the_first_sync_only_takes_a_starting_point(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    homeserver.join(ALICE, ROOM)  # before Knock's live view started: the scans catch it

    seen = await services.live.run_once(timeout_ms=0)

    assert seen == 0
    assert await knock_state(knock_id) == (State.INVITED, None)
    assert "since" not in homeserver.calls("sync")[0].params


async def test_a_welcome_whose_answers_were_lost_is_sent_once_when_its_job_runs_again(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    store: Store,
    submit: Submit,
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    homeserver.join(ALICE, ROOM)
    await services.follower.membership_changed(ALICE, "join", ALICE)
    # Each send goes through but its answer is lost: the job fails and runs again later.
    homeserver.fail_next(4, 504, endpoint="send", answer_lost=True)

    assert await services.worker.run_once()
    clock.advance(60)
    await drain(services)

    assert len(homeserver.calls("send", status=None)) == 5
    assert len(welcomes(homeserver, ROOM, ALICE)) == 1  # one transaction id, one message
    history = [h.event for h in await store.history(knock_id)]
    assert history.count("welcomed") == 1


async def test_an_invite_the_person_turns_down_is_recorded_as_declined(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    await services.live.run_once(timeout_ms=0)

    homeserver.leave(ALICE, ROOM)
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    assert await knock_state(knock_id) == (State.DECLINED, None)
    assert welcomes(homeserver, ROOM, ALICE) == []


async def test_a_member_who_leaves_keeps_their_knock_and_the_leaving_is_in_its_history(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    await services.follower.membership_changed(ALICE, "join", ALICE)

    await services.follower.membership_changed(ALICE, "leave", ALICE)

    assert await knock_state(knock_id) == (State.JOINED, None)
    assert [h.event for h in await store.history(knock_id)][-1] == "left"


async def test_a_join_cut_from_a_long_sync_timeline_is_found_by_reading_the_members(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    await services.live.run_once(timeout_ms=0)

    homeserver.join(ALICE, ROOM)
    for n in range(100):  # more events than the timeline limit: Alice's join is left out
        homeserver.join(f"@crowd{n}:{SERVER}", ROOM)
    await services.live.run_once(timeout_ms=0)

    assert homeserver.calls("members"), "the room's members were not read"
    assert await knock_state(knock_id) == (State.JOINED, None)


async def test_one_reminder_by_direct_message_then_the_invite_expires_and_is_revoked(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knock_id = await invite(services, homeserver, submit, ALICE)
    settings = services.settings

    clock.advance(settings.reminder_after - 60)
    await services.follower.check_invites()
    early = len(homeserver.calls("createRoom"))
    clock.advance(120)
    await services.follower.check_invites()
    await services.follower.check_invites()
    [dm] = homeserver.account_data[(BOT, "m.direct")][ALICE]
    clock.advance(settings.invite_ttl)
    await services.follower.check_invites()

    assert early == 0
    assert homeserver.membership(dm, ALICE) == "invite"
    [reminder] = homeserver.messages(dm)
    assert "your invite is still waiting" in reminder["content"]["body"]
    assert await knock_state(knock_id) == (State.EXPIRED, None)
    assert homeserver.membership(ROOM, ALICE) == "leave"
    [kick] = homeserver.calls("kick")
    assert kick.body == {"user_id": ALICE, "reason": settings.kick_reason}


async def test_a_native_knock_goes_through_intake_and_is_invited(
    services: Runtime, homeserver: FakeHomeserver, store: Store
) -> None:
    homeserver.add_user(ALICE)
    await services.live.run_once(timeout_ms=0)

    homeserver.knock(ALICE, ROOM)
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    [knock] = await store.list_knocks(user_id=ALICE)
    assert (knock.source, knock.state) == ("native", State.INVITED)
    assert homeserver.membership(ROOM, ALICE) == "invite"


async def test_the_same_native_knock_seen_twice_is_one_knock(
    services: Runtime, homeserver: FakeHomeserver, store: Store
) -> None:
    homeserver.add_user(ALICE)
    event = homeserver.knock(ALICE, ROOM)

    for _ in range(2):  # a sync replayed after a restart
        await services.follower.membership_changed(ALICE, "knock", ALICE, event["event_id"])
    await drain(services)

    assert len(await store.list_knocks(user_id=ALICE)) == 1
    assert len(homeserver.calls("invite")) == 1


async def test_a_block_listed_native_knock_is_rejected_and_declined_in_the_room(
    services: Runtime, homeserver: FakeHomeserver, store: Store
) -> None:
    homeserver.add_user(MALLORY)
    await services.blocklist.add(services.blocklist.entry_for(MALLORY, reason="spam"))
    await services.live.run_once(timeout_ms=0)

    homeserver.knock(MALLORY, ROOM)
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    [knock] = await store.list_knocks(user_id=MALLORY)
    assert (knock.state, knock.reason) == (State.REJECTED, "blocked")
    assert homeserver.membership(ROOM, MALLORY) == "leave"
    [kick] = homeserver.calls("kick")
    assert kick.body == {"user_id": MALLORY, "reason": services.settings.kick_reason}
    assert homeserver.calls("invite", status=None) == []


@pytest.mark.parametrize(
    ("knock_options", "membership", "removal"),
    [({}, "invite", "kick"), ({"ban_on_block": True}, "join", "ban")],
    ids=["invited-kicked", "joined-banned"],
)
async def test_the_watchdog_removes_a_block_listed_person_let_in_past_knock(
    services: Runtime, homeserver: FakeHomeserver, membership: str, removal: str
) -> None:
    homeserver.add_user(MALLORY)
    await services.blocklist.add(services.blocklist.entry_for(MALLORY, reason="spam"))
    await services.live.run_once(timeout_ms=0)

    homeserver.set_membership(
        ROOM, MALLORY, membership, by=MODERATOR if membership == "invite" else None
    )
    await services.live.run_once(timeout_ms=0)

    [removed] = homeserver.calls(removal)
    assert removed.body == {"user_id": MALLORY, "reason": services.settings.kick_reason}
    assert homeserver.membership(ROOM, MALLORY) == ("ban" if removal == "ban" else "leave")
