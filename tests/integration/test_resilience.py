"""Knocks survive homeserver outages, rate limits, crashes and a busy database."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote as _quote

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.clock import FakeClock
from tests.conftest import MakeUser
from tests.integration.harness import (
    DATABASE,
    FIXTURE_SECRET,
    eventually,
    invite_count,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
)


@pytest.mark.slow
async def test_knocks_taken_while_the_homeserver_is_down_are_invited_once_it_is_back(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    people = [make_user("outage") for _ in range(3)]
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET, job_retry_cap=1
    )
    knock = await start_knock(settings)
    try:
        synapse.stop()
        answers = []
        for number, person in enumerate(people):
            body, headers = tally_delivery(person.user_id, submission_id=f"outage-{number}")
            answers.append(
                await knock.http.post("/invite_from_form", content=body, headers=headers)
            )
        assert [a.status_code for a in answers] == [202, 202, 202]
        ready = await knock.http.get("/readyz")
        assert ready.status_code == 200  # knocks are still committed: stay in the balancer
        assert ready.json()["checks"]["homeserver"] is False

        synapse.start()

        for person in people:
            await eventually(
                lambda p=person: invited(synapse, bot, private_room, p.user_id),
                timeout=60,
                what=f"{person.user_id} to be invited after the outage",
            )
    finally:
        if not synapse.running:
            synapse.start()
        await knock.stop()


class SimulatedCrash(BaseException):
    """Stands for the process dying: a BaseException, so no `except Exception` swallows it."""


class CrashAfterInvite(httpx.AsyncBaseTransport):
    """Pass requests to the real homeserver, then "die" right after the first invite succeeds.

    A fake, because a real process cannot be made to die at exactly this instruction; the
    invite itself really reaches Synapse.
    """

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.crashed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if (
            not self.crashed
            and request.url.path.endswith("/invite")
            and response.status_code == 200
        ):
            self.crashed = True
            raise SimulatedCrash
        return response

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_a_crash_between_invite_and_record_leaves_exactly_one_invite(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    person = make_user("crash")
    clock = FakeClock()
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    first = await start_knock(settings, background=False, clock=clock, transport=CrashAfterInvite())
    body, headers = tally_delivery(person.user_id, submission_id="crash")
    knock_id = (await first.http.post("/invite_from_form", content=body, headers=headers)).json()[
        "knock_id"
    ]
    with pytest.raises(SimulatedCrash):
        await first.runtime.services.worker.run_once()
    await first.stop()
    assert invited(synapse, bot, private_room, person.user_id)

    # A new process on the same database; the dead worker's lease runs out.
    clock.advance(settings.lease_ttl + 1)
    second = await start_knock(settings, background=False, clock=clock)
    try:
        assert await second.knock_state(knock_id) == (State.QUEUED, None)
        assert await second.runtime.services.worker.run_once()
        assert await second.knock_state(knock_id) == (State.INVITED, None)
    finally:
        await second.stop()
    assert invite_count(synapse, bot, private_room, person.user_id) == 1


class CountRateLimits(httpx.AsyncBaseTransport):
    """Pass everything to the real homeserver and count the 429 answers it gives (observe only)."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.limited = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if response.status_code == 429:
            self.limited += 1
        return response

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.mark.slow
async def test_a_homeserver_429_is_waited_out_and_every_invite_still_happens(
    tmp_path: Path, rate_limited_synapse: Sandbox
) -> None:
    synapse = rate_limited_synapse
    limited_bot = synapse.register(f"limitedbot{tmp_path.name[-6:].lower()}")
    room = synapse.create_room(limited_bot)
    people = [synapse.register(f"person{n}{tmp_path.name[-6:].lower()}") for n in range(5)]
    counter = CountRateLimits()
    settings = knock_settings(
        tmp_path, synapse, limited_bot, room, tally_signing_secret=FIXTURE_SECRET
    )
    knock = await start_knock(settings, transport=counter)
    try:
        for number, person in enumerate(people):
            body, headers = tally_delivery(person.user_id, submission_id=f"limit-{number}")
            answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
            assert answer.status_code == 202
        for person in people:
            await eventually(
                lambda p=person: invited(synapse, limited_bot, room, p.user_id),
                timeout=90,
                what=f"{person.user_id} to be invited despite rate limits",
            )
    finally:
        await knock.stop()
    assert counter.limited >= 1, (
        "the homeserver never rate-limited the bot: the test proves nothing"
    )
    assert all(invite_count(synapse, limited_bot, room, p.user_id) == 1 for p in people)


@asynccontextmanager
async def _held_by_another_client() -> AsyncIterator[None]:
    """Another client holds the knocks table (a long write, a migration) until the block ends."""
    if DATABASE.url.startswith("sqlite"):
        blocker = sqlite3.connect(DATABASE.url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    conn = await asyncpg.connect(DATABASE.url)
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute("LOCK TABLE knocks IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await conn.close()


async def test_a_locked_database_gets_503_with_retry_after_and_loses_nothing(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    person = make_user("busy")
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        database_timeout=0.2,
    )
    knock = await start_knock(settings, background=False)
    body, headers = tally_delivery(person.user_id, submission_id="busy")
    try:
        async with _held_by_another_client():
            refused = await knock.http.post("/invite_from_form", content=body, headers=headers)
        accepted = await knock.http.post("/invite_from_form", content=body, headers=headers)
        stored = await knock.knock_state(accepted.json()["knock_id"])
    finally:
        await knock.stop()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    assert "Traceback" not in refused.text
    assert accepted.status_code == 202
    assert stored == (State.QUEUED, None)


async def test_an_invite_the_homeserver_keeps_refusing_ends_failed_after_invite_retry_for(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, make_user: MakeUser
) -> None:
    owner, person = make_user("owner"), make_user("refused")
    room = synapse.create_room(owner, power_users={bot.user_id: 50})
    synapse.invite(owner, room, bot.user_id)
    synapse.join(bot, room)
    clock = FakeClock()
    settings = knock_settings(tmp_path, synapse, bot, room, tally_signing_secret=FIXTURE_SECRET)
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        # After start-up, the owner takes the bot's right to invite away: every invite is a 403.
        path = f"/_matrix/client/v3/rooms/{_q(room)}/state/m.room.power_levels/"
        levels = synapse.api("GET", path, user=owner).json()
        synapse.api("PUT", path, user=owner, json={**levels, "invite": 100}).raise_for_status()
        body, headers = tally_delivery(person.user_id, submission_id="refused")
        knock_id = (
            await knock.http.post("/invite_from_form", content=body, headers=headers)
        ).json()["knock_id"]

        assert await knock.runtime.services.worker.run_once()
        assert await knock.knock_state(knock_id) == (State.QUEUED, None)  # retried later
        clock.advance(settings.invite_retry_for + 1)
        assert await knock.runtime.services.worker.run_once()
        state = await knock.knock_state(knock_id)
        history = await knock.runtime.store.history(knock_id)
    finally:
        await knock.stop()

    assert state == (State.FAILED, "homeserver_error")
    assert history[-1].event == "failed" and "M_FORBIDDEN" in (history[-1].detail or "")
    assert person.user_id not in synapse.members(owner, room)


def _q(room_id: str) -> str:
    return _quote(room_id, safe="")
