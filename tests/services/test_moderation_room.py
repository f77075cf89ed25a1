"""Review in the moderation room: knocks held for review are posted, moderators answer there."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.matrix.client import HomeserverUnavailable
from knock.services.runtime import Runtime
from knock.store import Store
from knock.store.audit import AuditFilter
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM, KnockState, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MOD_ROOM = f"!moderators:{SERVER}"
MODERATOR = f"@moderator:{SERVER}"
BYSTANDER = f"@bystander:{SERVER}"
ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
TYPED = f"alice@{SERVER}"  # repaired to ALICE, and with REPAIR_ACTION=review held for review


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"moderation_room_id": MOD_ROOM, "repair_action": "review"}


@pytest.fixture
def homeserver(homeserver: FakeHomeserver) -> Iterator[FakeHomeserver]:
    """The fake homeserver with a moderation room: the bot, a moderator and a bystander."""
    homeserver.create_room(BOT, room_id=MOD_ROOM, power={MODERATOR: 50})
    for user in (MODERATOR, BYSTANDER, ALICE, BOB):
        homeserver.add_user(user)
    homeserver.join(MODERATOR, MOD_ROOM)
    homeserver.join(BYSTANDER, MOD_ROOM)
    yield homeserver


async def held_and_announced(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> tuple[str, str]:
    """Knock as TYPED, let the worker post the review, and start the live view after it."""
    outcome = await submit(ALICE, typed=TYPED)
    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")
    await drain(services)
    await services.live.run_once(timeout_ms=0)
    [announcement] = homeserver.messages(MOD_ROOM)
    return outcome.knock_id, str(announcement["event_id"])


def replies_to(homeserver: FakeHomeserver, event_id: str) -> list[str]:
    """The bodies of the bot's answers in the thread of `event_id`."""
    return [
        m["content"]["body"]
        for m in homeserver.messages(MOD_ROOM)
        if m["sender"] == BOT and m["content"].get("m.relates_to", {}).get("event_id") == event_id
    ]


async def test_a_knock_held_for_review_is_announced_once_with_how_to_answer(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    await held_and_announced(services, homeserver, submit, knock_state)
    await drain(services)

    [announcement] = homeserver.messages(MOD_ROOM)
    body = announcement["content"]["body"]
    assert announcement["sender"] == BOT
    assert f"Knock from {ALICE} is held for review (repaired_id)" in body
    assert f"!approve {ALICE}" in body
    assert homeserver.calls("invite", status=None) == []


async def test_a_review_post_shows_the_forms_answers_kept_short(
    services: Runtime, homeserver: FakeHomeserver, knock_state: KnockState
) -> None:
    long_answer = "I <b>love</b> books\nand long walks " + "x" * 400
    fields = (
        Field("Matrix ID", "matrix_id", None, TYPED),
        Field("Why do you want to join?", "question_why", None, long_answer),
        *(Field(f"Question {n}", f"q{n}", None, f"answer {n}") for n in range(2, 8)),
    )
    submission = Submission("tally", "with-answers", fields)
    outcome = await services.intake.knock(submission, TYPED, None)
    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")

    await drain(services)

    [announcement] = homeserver.messages(MOD_ROOM)
    content = announcement["content"]
    lines = content["body"].split("\n")
    assert lines[0] == f"Knock from {ALICE} is held for review (repaired_id)."
    answers = lines[lines.index("Answers:") + 1 :]
    assert answers[0] == f"- Matrix ID: {TYPED}"  # once, by its label
    why = answers[1]
    assert why.startswith("- Why do you want to join?: I <b>love</b> books and long walks xxx")
    assert why.endswith("… (cut)") and len(why) <= len("- Why do you want to join?: ") + 200
    assert answers[2:6] == [f"- Question {n}: answer {n}" for n in range(2, 6)]
    assert answers[6] == f"(and 2 more answers: GET /knocks/{outcome.knock_id} shows all)"
    assert answers[7].startswith("React ✅ to invite")
    assert "Question 6" not in content["body"]
    # The formatted body says the same, every answer escaped.
    html = content["formatted_body"]
    assert content["format"] == "org.matrix.custom.html"
    assert "<li><b>Why do you want to join?</b>: I &lt;b&gt;love&lt;/b&gt; books" in html
    assert "<b>love</b>" not in html and "… (cut)" in html
    assert f"GET /knocks/{outcome.knock_id} shows all" in html
    assert content["m.mentions"] == {}


@pytest.mark.parametrize(
    "knock_options",
    [{"moderation_room_id": MOD_ROOM, "repair_action": "review", "store_form_answers": False}],
)
async def test_without_kept_answers_a_review_post_has_no_answers(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    await held_and_announced(services, homeserver, submit, knock_state)

    [announcement] = homeserver.messages(MOD_ROOM)
    assert "Answers" not in announcement["content"]["body"]
    assert "Answers" not in announcement["content"]["formatted_body"]


async def test_approve_from_a_moderator_queues_the_knock_replies_in_thread_and_invites(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id, _ = await held_and_announced(services, homeserver, submit, knock_state)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!approve {ALICE}")
    await services.live.run_once(timeout_ms=0)
    approved = await knock_state(knock_id)
    await drain(services)

    assert approved == (State.QUEUED, None)
    assert replies_to(homeserver, command) == [f"Approved: {ALICE} will be invited."]
    assert await knock_state(knock_id) == (State.INVITED, None)
    assert homeserver.membership(ROOM, ALICE) == "invite"


async def test_deny_from_a_moderator_rejects_the_knock_without_an_invite(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id, _ = await held_and_announced(services, homeserver, submit, knock_state)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!deny {ALICE}")
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    assert await knock_state(knock_id) == (State.REJECTED, "denied")
    assert replies_to(homeserver, command) == [f"Denied: {ALICE} will not be invited."]
    assert homeserver.calls("invite", status=None) == []


async def test_block_from_a_moderator_blocks_the_person_and_closes_their_knock(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id, _ = await held_and_announced(services, homeserver, submit, knock_state)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!block {ALICE} spam wave")
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    assert await knock_state(knock_id) == (State.BLOCKED, None)
    assert replies_to(homeserver, command) == [f"Blocked {ALICE}; 1 removed or turned down."]
    assert services.blocklist.check(ALICE).verdict == "block"
    assert homeserver.calls("invite", status=None) == []


@pytest.mark.parametrize(
    "knock_options",
    [{"moderation_room_id": MOD_ROOM, "block_confirm_threshold": 1}],
    ids=["threshold_1"],
)
async def test_confirming_a_held_block_is_in_the_console_audit_as_the_moderator(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    pattern = f"@spam-*:{SERVER}"
    crowd = [f"@spam-{n}:{SERVER}" for n in range(2)]
    for user in crowd:
        homeserver.join(homeserver.add_user(user), ROOM)
    await services.live.run_once(timeout_ms=0)

    held = homeserver.send(MODERATOR, MOD_ROOM, f"!block {pattern} spam wave")
    await services.live.run_once(timeout_ms=0)
    confirmed = homeserver.send(MODERATOR, MOD_ROOM, f"!block {pattern} confirm")
    await services.live.run_once(timeout_ms=0)
    audit = await services.console_audit.actions(AuditFilter(action="confirm_block"))

    assert "send !block" in replies_to(homeserver, held)[0]
    assert replies_to(homeserver, confirmed) == [f"Blocked {pattern}; 2 removed or turned down."]
    assert [homeserver.membership(ROOM, user) for user in crowd] == ["leave", "leave"]
    assert [(row.actor, row.target, row.detail) for row in audit.rows] == [
        (f"matrix:{MODERATOR}", pattern, f"blocked by matrix:{MODERATOR}: spam wave")
    ]


async def test_approving_someone_with_nothing_in_review_says_so(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    await services.live.run_once(timeout_ms=0)

    command = homeserver.send(MODERATOR, MOD_ROOM, f"!approve {BOB}")
    await services.live.run_once(timeout_ms=0)

    assert replies_to(homeserver, command) == [f"{BOB} has no knock waiting for review."]


@pytest.mark.parametrize(
    ("key", "expected", "said"),
    [("✅", (State.QUEUED, None), "Approved"), ("❌", (State.REJECTED, "denied"), "Denied")],
    ids=["approve", "deny"],
)
async def test_a_moderators_reaction_decides_the_knock_and_is_answered_in_thread(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    key: str,
    expected: tuple[State, str | None],
    said: str,
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)

    homeserver.react(MODERATOR, MOD_ROOM, announcement, key)
    await services.live.run_once(timeout_ms=0)

    assert await knock_state(knock_id) == expected
    [reply] = replies_to(homeserver, announcement)
    assert reply.startswith(said)


async def test_reactions_and_commands_from_someone_without_power_change_nothing(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)

    homeserver.react(BYSTANDER, MOD_ROOM, announcement, "✅")
    homeserver.send(BYSTANDER, MOD_ROOM, f"!approve {ALICE}")
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    assert await knock_state(knock_id) == (State.REVIEW, "repaired_id")
    assert len(homeserver.messages(MOD_ROOM)) == 2  # the announcement and the bystander's
    assert homeserver.calls("invite", status=None) == []


async def test_a_second_decision_on_a_decided_knock_is_refused_politely(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)
    await services.moderation.deny(knock_id, Actor.api("moderator"))

    homeserver.react(MODERATOR, MOD_ROOM, announcement, "✅")
    await services.live.run_once(timeout_ms=0)

    assert await knock_state(knock_id) == (State.REJECTED, "denied")
    [reply] = replies_to(homeserver, announcement)
    assert reply.startswith("Nothing done: that knock is not waiting for review")


async def test_an_event_that_cannot_be_handled_is_logged_and_the_live_view_goes_on(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)
    bob = (await submit(BOB)).knock_id
    await drain(services)
    # Months later the decided knock is erased; its announcement stays in the room.
    await services.moderation.deny(knock_id, Actor.api("moderator"))
    clock.advance(services.settings.retention + 1)
    assert await store.purge_closed(clock.now() - services.settings.retention) == 1

    since = await store.get_value("sync.since")

    # The review post went with the knock: the reaction is to a post like any other.
    homeserver.react(MODERATOR, MOD_ROOM, announcement, "✅")
    homeserver.join(BOB, ROOM)
    await services.live.run_once(timeout_ms=0)

    assert await knock_state(bob) == (State.JOINED, None)
    assert await store.get_value("sync.since") != since
    assert await store.knock_for_review_post(announcement) is None
    assert replies_to(homeserver, announcement) == []


async def test_a_decision_on_a_knock_erased_meanwhile_is_answered_in_thread(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)
    await services.moderation.deny(knock_id, Actor.api("moderator"))
    clock.advance(services.settings.retention + 1)
    approve = services.moderation.approve

    # A fake, for a race no test can time: the retention duty erases the knock after the
    # moderation room found it from the review post, before the decision.
    async def erased_first(knock_id: str, actor: Actor, note: str | None = None) -> Any:
        assert await store.purge_closed(clock.now() - services.settings.retention) == 1
        return await approve(knock_id, actor, note)

    monkeypatch.setattr(services.moderation, "approve", erased_first)
    homeserver.react(MODERATOR, MOD_ROOM, announcement, "✅")
    await services.live.run_once(timeout_ms=0)

    assert await store.get_knock(knock_id) is None
    assert replies_to(homeserver, announcement) == [
        "Nothing done: that knock no longer exists (erased after RETENTION)."
    ]


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_an_event_that_raises_is_logged_once_with_its_id_and_the_next_events_are_handled(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bob = (await submit(BOB)).knock_id
    await drain(services)
    await services.live.run_once(timeout_ms=0)
    since = await store.get_value("sync.since")
    # A real path to an unexpected error: a moderator's reaction whose m.relates_to is not an
    # object. Homeservers pass such an event on (the spec treats it as having no relation);
    # the moderation room trips over it.
    malformed = homeserver.send_event(MODERATOR, MOD_ROOM, "m.reaction", {"m.relates_to": "✅"})
    command = homeserver.send(MODERATOR, MOD_ROOM, f"!approve {ALICE}")
    homeserver.join(BOB, ROOM)

    with caplog.at_level(logging.ERROR):
        await services.live.run_once(timeout_ms=0)
        await services.live.run_once(timeout_ms=0)

    [error] = errors_logged(caplog)
    assert malformed in error.getMessage()
    assert "m.reaction" in error.getMessage() and MOD_ROOM in error.getMessage()
    assert error.exc_info is not None
    # The events after it, in its room and in the members' room, were handled.
    assert replies_to(homeserver, command) == [f"{ALICE} has no knock waiting for review."]
    assert await knock_state(bob) == (State.JOINED, None)
    assert await store.get_value("sync.since") != since


async def test_a_homeserver_refusal_while_handling_an_event_is_logged_not_retried_forever(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)
    since = await store.get_value("sync.since")

    reaction = homeserver.react(MODERATOR, MOD_ROOM, announcement, "✅")
    # The bot may no longer post in the moderation room: the reply is refused, and would be
    # refused again on every retry of the batch.
    homeserver.fail_next(status=403, errcode="M_FORBIDDEN", endpoint="send")
    with caplog.at_level(logging.ERROR):
        await services.live.run_once(timeout_ms=0)

    [error] = errors_logged(caplog)
    assert reaction in error.getMessage()
    assert await knock_state(knock_id) == (State.QUEUED, None)
    assert await store.get_value("sync.since") != since


async def test_a_homeserver_outage_during_a_batch_keeps_since_and_the_batch_is_handled_later(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knock_id, announcement = await held_and_announced(services, homeserver, submit, knock_state)
    since = await store.get_value("sync.since")
    homeserver.react(MODERATOR, MOD_ROOM, announcement, "✅")

    homeserver.down("state")  # who is a moderator cannot be read
    with pytest.raises(HomeserverUnavailable):
        await services.live.run_once(timeout_ms=0)
    kept = await store.get_value("sync.since")
    homeserver.up()
    await services.live.run_once(timeout_ms=0)

    assert kept == since
    assert await knock_state(knock_id) == (State.QUEUED, None)
    assert replies_to(homeserver, announcement) == [f"Approved: {ALICE} will be invited."]


@pytest.mark.parametrize(
    "outage",
    [
        OperationalError("UPDATE knocks", {}, sqlite3.OperationalError("database is locked")),
        # What PostgreSQL's driver raises when the server cannot be reached.
        ConnectionRefusedError(111, "Connect call failed"),
    ],
    ids=["locked", "unreachable"],
)
async def test_a_database_outage_during_a_batch_keeps_since_and_the_event_is_handled_later(
    services: Runtime,
    homeserver: FakeHomeserver,
    store: Store,
    submit: Submit,
    knock_state: KnockState,
    monkeypatch: pytest.MonkeyPatch,
    outage: Exception,
) -> None:
    bob = (await submit(BOB)).knock_id
    await drain(services)
    await services.live.run_once(timeout_ms=0)
    since = await store.get_value("sync.since")
    homeserver.join(BOB, ROOM)

    # A fake outage, of the one write that records the join: a real lock on the SQLite file
    # would also stop `since` from being written, and could not tell an outage retried from
    # one swallowed.
    async def unavailable(*args: object, **kwargs: object) -> bool:
        raise outage

    with monkeypatch.context() as patch:
        patch.setattr(store, "move", unavailable)
        with pytest.raises(type(outage)):
            await services.live.run_once(timeout_ms=0)
    kept = await store.get_value("sync.since")
    missed = await knock_state(bob)
    await services.live.run_once(timeout_ms=0)

    assert kept == since
    assert missed == (State.INVITED, None)
    assert await knock_state(bob) == (State.JOINED, None)


async def test_a_catch_all_block_is_refused_with_a_hint_to_name_a_server(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.join(ALICE, ROOM)
    await services.live.run_once(timeout_ms=0)

    command = homeserver.send(MODERATOR, MOD_ROOM, "!block @*:* everyone out")
    await services.live.run_once(timeout_ms=0)

    [reply] = replies_to(homeserver, command)
    assert reply.startswith("Nothing done: @*:* would match anyone on any server; name a server")
    assert homeserver.membership(ROOM, ALICE) == "join"
    assert await services.blocklist.entries() == []


# Only people's messages are commands, and posts ping nobody.


async def test_a_notice_from_a_bot_with_moderator_power_is_not_obeyed(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    bridge = homeserver.add_user(f"@bridge:{SERVER}")
    homeserver.set_state(
        MOD_ROOM, BOT, "m.room.power_levels", "", {"users": {BOT: 100, MODERATOR: 50, bridge: 50}}
    )
    homeserver.join(bridge, MOD_ROOM)
    knock_id, _ = await held_and_announced(services, homeserver, submit, knock_state)

    notice = {"msgtype": "m.notice", "body": f"!approve {ALICE}"}
    relayed = homeserver.send_event(bridge, MOD_ROOM, "m.room.message", notice)
    emote = {"msgtype": "m.emote", "body": f"!deny {ALICE}"}
    homeserver.send_event(MODERATOR, MOD_ROOM, "m.room.message", emote)
    await services.live.run_once(timeout_ms=0)
    await drain(services)

    assert await knock_state(knock_id) == (State.REVIEW, "repaired_id")
    assert replies_to(homeserver, relayed) == []
    assert [m["sender"] for m in homeserver.messages(MOD_ROOM)] == [BOT, bridge, MODERATOR]


async def test_review_posts_and_replies_carry_empty_mentions_so_ids_in_them_ping_nobody(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, knock_state: KnockState
) -> None:
    loud = f"@room:{SERVER}"
    homeserver.add_user(loud)
    outcome = await submit(loud, typed=f"@Room:{SERVER}")
    await drain(services)
    await services.live.run_once(timeout_ms=0)
    command = homeserver.send(MODERATOR, MOD_ROOM, f"!deny {loud}")
    await services.live.run_once(timeout_ms=0)

    mine = [m for m in homeserver.messages(MOD_ROOM) if m["sender"] == BOT]
    [post] = [m for m in mine if "m.relates_to" not in m["content"]]
    [reply] = [m for m in mine if m["content"].get("m.relates_to", {}).get("event_id") == command]
    assert f"Knock from {loud}" in post["content"]["body"]
    assert post["content"]["m.mentions"] == {}
    assert reply["content"]["body"] == f"Denied: {loud} will not be invited."
    assert reply["content"]["m.mentions"] == {}
    assert await knock_state(outcome.knock_id) == (State.REJECTED, "denied")


# A join wave: one summary post, and moderators answer it in bulk.

WAVE = pytest.mark.parametrize(
    "knock_options",
    [{"moderation_room_id": MOD_ROOM, "join_wave_threshold": 2, "max_requests_per_window": 50}],
    ids=["wave_of_3"],
)
FLOOD = [f"@flood-{n}:{SERVER}" for n in range(7)]


async def flood(services: Runtime, homeserver: FakeHomeserver, submit: Submit) -> list[str]:
    """Seven knocks at once: two go ahead, the third trips the breaker, five are held."""
    knocks = []
    for user in FLOOD:
        homeserver.add_user(user)
        knocks.append((await submit(user)).knock_id)
    await drain(services)
    return knocks


async def leader_tick(services: Runtime) -> None:
    services.duties.force()
    await services.duties.run_once()


@WAVE
async def test_a_join_wave_gets_one_summary_post_instead_of_one_post_per_knock(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    knocks = await flood(services, homeserver, submit)

    with caplog.at_level(logging.WARNING):
        await leader_tick(services)
        await leader_tick(services)
    await drain(services)

    states = [await knock_state(knock_id) for knock_id in knocks]
    assert states == [(State.INVITED, None)] * 2 + [(State.REVIEW, "join_wave")] * 5
    [post] = [m["content"] for m in homeserver.messages(MOD_ROOM) if m["sender"] == BOT]
    assert post["body"].startswith("Join wave: 7 knocks within JOIN_WAVE_WINDOW")
    assert "5 held for review so far" in post["body"]
    assert all(user in post["body"] for user in sorted(FLOOD[2:])[:5])
    assert "!approve wave" in post["body"] and "!deny wave" in post["body"]
    assert post["m.mentions"] == {}
    assert [r.getMessage() for r in caplog.records if "Join wave" in r.getMessage()] == [
        post["body"]
    ]


@WAVE
@pytest.mark.parametrize(
    ("command", "expected"), [("!approve wave", State.QUEUED), ("!deny wave", State.REJECTED)]
)
async def test_a_moderator_answers_a_join_wave_in_bulk(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    command: str,
    expected: State,
) -> None:
    knocks = await flood(services, homeserver, submit)
    held = [k for k in knocks if (await knock_state(k))[0] is State.REVIEW]
    await services.live.run_once(timeout_ms=0)

    homeserver.send(BYSTANDER, MOD_ROOM, command)  # no power: ignored
    await services.live.run_once(timeout_ms=0)
    untouched = [await knock_state(k) for k in held]
    sent = homeserver.send(MODERATOR, MOD_ROOM, command)
    await services.live.run_once(timeout_ms=0)

    assert untouched == [(State.REVIEW, "join_wave")] * 5
    assert [(await knock_state(k))[0] for k in held] == [expected] * 5
    verb = "Approved" if expected is State.QUEUED else "Denied"
    assert replies_to(homeserver, sent) == [f"{verb} 5 knocks held by the join wave."]
