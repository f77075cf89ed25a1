"""A form delivery becomes a knock and then an invite, on the real test Synapse."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from knock.core.lifecycle import State
from knock_testing.synapse import HISTORICAL_PREFIX, Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    KnockUnderTest,
    eventually,
    invite_count,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
    typeform_delivery,
)


@pytest.fixture
async def knock(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> AsyncIterator[KnockUnderTest]:
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        typeform_secret=FIXTURE_SECRET,
        webhook_token="generic-token",
        job_retry_cap=1,
    )
    instance = await start_knock(settings)
    yield instance
    await instance.stop()


async def test_tally_delivery_invites_the_person(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("tally")
    body, headers = tally_delivery(person.user_id)

    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
    knock_id = answer.json()["knock_id"]

    async def recorded() -> bool:
        return await knock.knock_state(knock_id) == (State.INVITED, None)

    await eventually(recorded, what="the invite to be recorded")


async def test_typeform_delivery_invites_the_person(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("typeform")
    body, headers = typeform_delivery(person.user_id)

    answer = await knock.http.post("/invite_from_form/", content=body, headers=headers)

    assert answer.status_code == 202
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")


async def test_the_same_delivery_three_times_gives_one_knock_and_one_invite(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("retry")
    body, headers = tally_delivery(person.user_id, submission_id="same-submission")

    answers = [
        await knock.http.post("/invite_from_form", content=body, headers=headers) for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["knock_id"] for a in answers}) == 1
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")

    async def drained() -> bool:
        return await knock.runtime.store.count_jobs() == 0

    await eventually(drained, what="the queue to drain")
    assert invite_count(synapse, bot, private_room, person.user_id) == 1


async def test_a_user_the_homeserver_does_not_know_is_rejected_and_not_invited(
    knock: KnockUnderTest, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    ghost = f"@nobody-{private_room[1:9].lower()}:{synapse.server_name}"
    body, headers = tally_delivery(ghost, submission_id="ghost")

    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

    assert answer.status_code == 202  # a platform is never told why
    knock_id = answer.json()["knock_id"]

    async def settled() -> bool:
        return (await knock.knock_state(knock_id))[0] is not State.QUEUED

    await eventually(settled, what="the knock to be decided")
    assert await knock.knock_state(knock_id) == (State.REJECTED, "unknown_user")
    assert ghost not in synapse.members(bot, private_room)


async def test_an_unsigned_generic_body_is_refused_when_tally_signing_is_on(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    knock = await start_knock(settings, background=False)
    try:
        person = make_user("sneaky")
        generic = await knock.http.post("/invite_from_form", json={"matrix_id": person.user_id})
        body, headers = tally_delivery(person.user_id)
        headers["Tally-Signature"] = "AAAA" + headers["Tally-Signature"][4:]
        forged = await knock.http.post("/invite_from_form", content=body, headers=headers)
        stored = await _knock_count(knock)
    finally:
        await knock.stop()

    assert generic.status_code == 401
    assert forged.status_code == 401
    assert stored == 0


async def test_a_generic_caller_with_the_token_is_accepted(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("generic")

    answer = await knock.http.post(
        "/invite_from_form?token=generic-token", json={"matrix_id": person.user_id}
    )

    assert answer.status_code == 202
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")


async def test_a_repaired_id_is_invited_and_the_repair_is_in_the_history(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person = make_user("repair")
    localpart = person.user_id[1:].split(":")[0]
    typed = f" {localpart.upper()}@{synapse.server_name} "
    body, headers = tally_delivery(typed, submission_id="repair-me")

    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

    assert answer.status_code == 202
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
    history = await knock.runtime.store.history(answer.json()["knock_id"])
    repaired = [entry.detail or "" for entry in history if entry.event == "repaired"]
    # The id as typed was tried first; Synapse did not know it, so it was lower-cased.
    assert (
        repaired[-1]
        == f"lower-cased: @{localpart.upper()}:{synapse.server_name} is unknown to its homeserver"
    )


async def test_words_with_spaces_are_refused_never_glued_into_a_strangers_id(
    knock: KnockUnderTest, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    words = f"not an id at all {uuid.uuid4().hex[:6]}"
    stranger = synapse.register(words.replace(" ", ""))  # the id a repair used to make of it
    body, headers = tally_delivery(words, submission_id=f"words-{uuid.uuid4().hex[:6]}")

    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

    assert answer.status_code == 202  # a platform hears the same, whatever is decided
    assert await knock.knock_state(answer.json()["knock_id"]) == (State.REJECTED, "invalid_id")
    await _drained(knock)
    assert stranger.user_id not in synapse.members(bot, private_room, "invite")


async def test_a_real_historical_account_is_invited_under_its_own_name(
    knock: KnockUnderTest, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    name = f"{HISTORICAL_PREFIX}Alice{uuid.uuid4().hex[:6]}"
    namesake = synapse.register(name.lower())  # someone on today's grammar
    old = synapse.register_historical(name)  # an old account: @HistAlice1a2b3c:localhost
    body, headers = tally_delivery(old, submission_id=f"historical-{name}")

    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)

    assert answer.status_code == 202
    knock_id = answer.json()["knock_id"]

    async def recorded() -> bool:
        return await knock.knock_state(knock_id) == (State.INVITED, None)

    await eventually(recorded, what="the invite to be recorded")
    assert invited(synapse, bot, private_room, old)
    assert namesake.user_id not in synapse.members(bot, private_room, "invite")


async def _drained(knock: KnockUnderTest) -> None:
    async def settled() -> bool:
        return not await knock.runtime.store.knocks_in([State.QUEUED], limit=1)

    await eventually(settled, what="every queued knock to be decided")


async def _knock_count(knock: KnockUnderTest) -> int:
    async with knock.runtime.store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM knocks"))).scalar_one())
