"""From knock to invite: intake commits the knock, the worker checks the room and invites once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store import Store
from tests.clock import FakeClock
from tests.services.conftest import BOT, BOT_PASSWORD, BOT_TOKEN, ROOM, KnockState, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
API_ACTOR = Actor.api("mod")


async def test_a_knock_is_committed_queued_and_invited_exactly_once(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    homeserver.add_user(ALICE, "Alice")

    outcome = await submit(ALICE)
    queued = await knock_state(outcome.knock_id)
    await drain(services)

    assert queued == (State.QUEUED, None)
    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    invites = homeserver.calls("invite", status=None)
    assert [(i.args["room"], i.body["user_id"]) for i in invites] == [(ROOM, ALICE)]
    assert invites[0].body["reason"] == services.settings.invite_reason
    assert homeserver.membership(ROOM, ALICE) == "invite"


async def test_a_user_the_homeserver_does_not_know_is_rejected_without_an_invite(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    outcome = await submit(f"@ghost:{SERVER}")

    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REJECTED, "unknown_user")
    assert homeserver.calls("invite", status=None) == []


async def test_someone_already_in_the_room_is_dropped_as_a_duplicate(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    homeserver.add_user(ALICE)
    homeserver.join(ALICE, ROOM)  # let in by a moderator, past Knock

    outcome = await submit(ALICE)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.DROPPED, "duplicate")
    assert homeserver.calls("invite", status=None) == []


async def test_someone_banned_from_the_room_is_rejected_without_an_invite(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    homeserver.add_user(ALICE)
    homeserver.set_membership(ROOM, ALICE, "ban", by=BOT)

    outcome = await submit(ALICE)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REJECTED, "banned")
    assert homeserver.calls("invite", status=None) == []
    assert homeserver.membership(ROOM, ALICE) == "ban"


async def test_someone_blocked_after_knocking_is_rejected_when_the_worker_gets_to_them(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)

    await services.blocklist.add(services.blocklist.entry_for(ALICE, reason="spam"))
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REJECTED, "blocked")
    assert homeserver.calls("invite", status=None) == []


async def test_a_long_rate_limit_on_the_invite_retries_the_job_when_it_runs_out(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)
    homeserver.fail_next(1, 429, retry_after_ms=120_000, endpoint="invite")

    assert await services.worker.run_once()
    waiting = await knock_state(outcome.knock_id)
    clock.advance(119)
    too_early = await services.worker.run_once()
    clock.advance(2)
    await drain(services)

    assert waiting == (State.QUEUED, None)
    assert too_early is False
    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert [i.status for i in homeserver.calls("invite", status=None)] == [429, 200]
    assert homeserver.membership(ROOM, ALICE) == "invite"


async def test_a_short_rate_limit_is_waited_out_within_the_same_attempt(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)
    homeserver.fail_next(1, 429, retry_after_ms=1500, endpoint="invite")
    before = clock.now()

    assert await services.worker.run_once()

    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert [i.status for i in homeserver.calls("invite", status=None)] == [429, 200]
    assert clock.now() - before >= 1.5


async def test_while_the_homeserver_is_down_the_knock_stays_queued_and_is_invited_after(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)

    homeserver.down()
    assert await services.worker.run_once()
    during = await knock_state(outcome.knock_id)
    homeserver.up()
    clock.advance(60)
    await drain(services)

    assert during == (State.QUEUED, None)
    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert len(homeserver.calls("invite")) == 1
    assert homeserver.calls("profile", status=0), "the connection failures were not seen"


@pytest.mark.parametrize("knock_options", [{"invite_retry_for": "1h"}], ids=["retry_for_1h"])
async def test_a_knock_fails_once_the_homeserver_stayed_down_past_invite_retry_for(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)
    homeserver.down()

    assert await services.worker.run_once()
    clock.advance(3601)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.FAILED, "homeserver_error")
    assert homeserver.calls("invite", status=None) == []


async def test_an_invite_whose_answer_was_lost_is_found_in_the_room_and_not_sent_again(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)
    # The invites go through, but every answer is a gateway timeout: the worker gives up.
    homeserver.fail_next(4, 504, endpoint="invite", answer_lost=True)

    assert await services.worker.run_once()
    after_failure = await knock_state(outcome.knock_id)
    sent = len(homeserver.calls("invite", status=None))
    clock.advance(60)
    await drain(services)

    assert after_failure == (State.QUEUED, None)
    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert len(homeserver.calls("invite", status=None)) == sent  # none after the retry
    details = [h.detail for h in await store.history(outcome.knock_id) if h.event == "invited"]
    assert details == ["invite found in the room after a retry"]


RELOGIN: dict[str, Any] = {"matrix_user_id": BOT, "matrix_password": BOT_PASSWORD}


@pytest.mark.parametrize("knock_options", [RELOGIN], ids=["password"])
async def test_a_revoked_token_is_replaced_by_logging_in_again_and_the_invite_goes_out(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    homeserver.add_user(ALICE)
    outcome = await submit(ALICE)
    homeserver.revoke(BOT_TOKEN)

    assert await services.worker.run_once()

    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert len(homeserver.calls("login")) == 1
    assert [r.status for r in homeserver.calls("profile", status=None)] == [401, 200]
    assert len(homeserver.calls("invite")) == 1


async def test_a_job_running_when_knock_stops_is_handed_back_at_once(
    settings: Any, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    """Stopping Knock mid-invite frees the job for the next Knock now, not after LEASE_TTL.

    The invite is held at the transport (a fake, only to stop the job at a known step).
    """
    homeserver.add_user(ALICE, "Alice")
    reached, release = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/invite"):
            reached.set()
            await release.wait()
        return homeserver.transport.handler(request)  # type: ignore[no-any-return]

    runtime = Runtime(settings, clock=clock, transport=httpx.MockTransport(held))
    await runtime.start(background=False)
    outcome = await runtime.services.intake.knock(
        Submission("tally", "stop-1", (Field("Matrix ID", "m", None, ALICE),)), ALICE, None
    )
    running = asyncio.create_task(runtime.services.worker.run_once())
    await asyncio.wait_for(reached.wait(), timeout=10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    job = await runtime.store.claim_job("next-knock", clock.now(), lease=30)
    await runtime.stop()

    assert job is not None and job.knock_id == outcome.knock_id


# Historical user ids (upper case and other printable ASCII in the localpart) are real accounts
# on old homeservers: tried as typed first, lower-cased only when the homeserver does not know
# them.


async def test_a_historical_id_the_homeserver_knows_is_invited_as_typed(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    old = f"@Alice:{SERVER}"
    homeserver.add_user(old, "Alice of old")
    homeserver.add_user(ALICE, "Another Alice")

    outcome = await submit(old)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert [c.body["user_id"] for c in homeserver.calls("invite")] == [old]
    assert homeserver.membership(ROOM, ALICE) is None


async def test_an_unknown_historical_id_falls_back_to_its_lower_case_written_as_a_repair(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    store: Store,
) -> None:
    homeserver.add_user(ALICE, "Alice")

    outcome = await submit(ALICE, typed="Alice")  # a phone capitalised the bare name
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert [c.body["user_id"] for c in homeserver.calls("invite")] == [ALICE]
    knock = await store.get_knock(outcome.knock_id)
    assert knock is not None and knock.user_id == ALICE
    lines = [(e.event, e.detail) for e in await store.history(outcome.knock_id)]
    assert ("repaired", f"lower-cased: @Alice:{SERVER} is unknown to its homeserver") in lines


async def test_a_historical_id_unknown_in_both_cases_is_rejected_without_an_invite(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    outcome = await submit(f"@Ghost:{SERVER}")
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REJECTED, "unknown_user")
    assert homeserver.calls("invite", status=None) == []


async def test_when_the_homeserver_will_not_say_the_lower_cased_id_it_knows_is_invited(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    # A fault (a homeserver limiting profile lookups) a real Synapse shows only once configured.
    homeserver.add_user(ALICE, "Alice")
    homeserver.fail_next(1, 403, errcode="M_FORBIDDEN", endpoint="profile")

    outcome = await submit(f"@Alice:{SERVER}")
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.INVITED, None)
    assert [c.body["user_id"] for c in homeserver.calls("invite")] == [ALICE]


@pytest.mark.parametrize("knock_options", [{"repair_action": "review"}])
async def test_with_repair_action_review_the_fallback_is_held_for_a_moderator(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    store: Store,
) -> None:
    homeserver.add_user(ALICE, "Alice")

    outcome = await submit(f"@Alice:{SERVER}")
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")
    knock = await store.get_knock(outcome.knock_id)
    assert knock is not None and knock.user_id == ALICE  # what the moderator would approve
    assert homeserver.calls("invite", status=None) == []


async def test_text_longer_than_any_id_is_refused_as_it_is_and_never_matched(
    services: Runtime, submit: Submit, knock_state: KnockState, store: Store
) -> None:
    troll = f"@troll:{SERVER}"
    await services.blocking.block(services.blocklist.entry_for(troll, reason="spam"), API_ACTOR)
    padded = "@troll" + "\u200b" * 100 + f":{SERVER}"  # 100 zero-width spaces: 314 bytes

    outcome = await submit(troll, typed=padded)

    assert await knock_state(outcome.knock_id) == (State.REJECTED, "invalid_id")
    assert outcome.problem == "a Matrix ID is at most 255 bytes long, this one has 314"
    history = await store.history(outcome.knock_id)
    assert [entry.event for entry in history] == ["received", "rejected"]  # no repair, no match
