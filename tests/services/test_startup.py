"""Knock starts whatever the homeserver's state; only a settings mistake stops it.

A room the bot cannot work in, a homeserver that is down, a sign-in still to come: each is said in
one line, shown by `/readyz`, and its knocks are committed and wait until it is fixed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from knock.config import Settings
from knock.core.forms import Field, Submission
from knock.core.lifecycle import State
from knock.services.compose import Services
from knock.services.runtime import Runtime, StartupError
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MOD_ROOM = f"!moderators:{SERVER}"
# Start-up's warnings about settings (no webhook secret here) are another test's subject.
SETTINGS_LOGGER = "knock.services.runtime"
PERSON = f"@person:{SERVER}"
ADMIN_KEY = "an-admin-key-long-enough"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": ADMIN_KEY}


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client


async def test_a_bot_without_kick_and_ban_power_is_told_and_invites_once_it_has_them(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    homeserver.add_user(PERSON, "Person")
    homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", {"users": {BOT: 10}})
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING):
        await runtime.start(background=False)
    try:
        services = runtime.services
        said = (
            f"the bot {BOT} has power level 10 in {ROOM} but cannot kick (needs 50), "
            "ban (needs 50): raise its power level"
        )
        assert [r.getMessage() for r in caplog.records if ROOM in r.getMessage()] == [
            f"Room {ROOM} is not ready: {said}"
        ]
        knock = await _knock(services, PERSON)
        await drain(services)
        assert homeserver.calls("invite") == []
        assert await _state(runtime, knock) == (State.QUEUED, None)

        homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", {"users": {BOT: 100}})
        await services.link.check_rooms()  # what the minute's re-check or a power event does
        await drain(services)

        assert [c.body["user_id"] for c in homeserver.calls("invite")] == [PERSON]
    finally:
        await runtime.stop()


async def _state(runtime: Runtime, knock_id: str) -> tuple[State, str | None]:
    knock = await runtime.store.get_knock(knock_id)
    assert knock is not None, f"knock {knock_id} is not stored"
    return knock.state, knock.reason


async def _knock(services: Services, user_id: str) -> str:
    fields = (Field("Matrix ID", "matrix_id", None, user_id),)
    outcome = await services.intake.knock(Submission("tally", user_id, fields), user_id, None)
    return str(outcome.knock_id)


async def test_a_bot_that_is_not_in_the_room_waits_until_it_joins(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(PERSON, "Person")
    homeserver.leave(BOT, ROOM)
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    await runtime.start(background=False)
    try:
        link = runtime.services.link
        assert link.problems[ROOM].startswith(f"the bot {BOT} has not joined NEW_ROOM_ID {ROOM}")
        await _knock(runtime.services, PERSON)
        await drain(runtime.services)
        assert homeserver.calls("invite") == []

        homeserver.join(BOT, ROOM)
        await link.check_rooms()
        await drain(runtime.services)

        assert [c.body["user_id"] for c in homeserver.calls("invite")] == [PERSON]
        assert link.problems == {}
    finally:
        await runtime.stop()


MODERATED: dict[str, Any] = {"moderation_room_id": MOD_ROOM, "repair_action": "review"}


@pytest.mark.parametrize("knock_options", [MODERATED], ids=["moderation_room"])
async def test_an_encrypted_moderation_room_switches_review_posts_off(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=MOD_ROOM, encrypted=True)
    homeserver.add_user(f"@mixedcase:{SERVER}", "Mixed")
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    await runtime.start(background=False)
    try:
        assert runtime.services.link.problems[MOD_ROOM].startswith(
            f"MODERATION_ROOM_ID {MOD_ROOM} is encrypted"
        )
        held = await _knock(runtime.services, f"@MixedCase:{SERVER}")  # repaired: review
        await drain(runtime.services)
        assert await _state(runtime, held) == (State.REVIEW, "repaired_id")
        assert homeserver.messages(MOD_ROOM) == []  # nothing posted into an encrypted room
    finally:
        await runtime.stop()


async def test_knock_starts_and_takes_knocks_while_the_homeserver_is_down(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(PERSON, "Person")
    homeserver.down()
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    await runtime.start(background=False)
    try:
        transport = httpx.ASGITransport(app=KnockApp(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://knock") as api:
            ready = await api.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": True, "homeserver": False, "rooms": False},
            }
            knock = await _knock(runtime.services, PERSON)

            homeserver.up()
            await runtime.services.link.connect()  # what the background re-check does
            await drain(runtime.services)
            clock.advance(10)  # past the cached probe

            assert [c.body["user_id"] for c in homeserver.calls("invite")] == [PERSON]
            assert await _state(runtime, knock) == (State.INVITED, None)
            again = await api.get("/readyz")
            assert again.json()["checks"] == {"database": True, "homeserver": True, "rooms": True}
    finally:
        await runtime.stop()


PASSWORD_ONLY: dict[str, Any] = {
    "matrix_access_token": None,
    "matrix_user_id": BOT,
    "matrix_password": "bot-password",
}


@pytest.mark.parametrize("knock_options", [PASSWORD_ONLY], ids=["password"])
async def test_without_a_token_knock_signs_in_when_the_homeserver_answers(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(PERSON, "Person")
    homeserver.down()
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    await runtime.start(background=False)
    try:
        link = runtime.services.link
        assert not link.signed_in and not link.can_call()
        await _knock(runtime.services, PERSON)
        assert not await runtime.services.worker.run_once()  # nothing can go out yet

        homeserver.up()
        await link.connect()
        await drain(runtime.services)

        assert link.signed_in
        assert [c.body["user_id"] for c in homeserver.calls("invite")] == [PERSON]
    finally:
        await runtime.stop()


async def test_a_refused_access_token_still_stops_start_up_in_one_line(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    homeserver.revoke("bot-token")
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING), pytest.raises(StartupError) as failed:
        await runtime.start(background=False)
    assert str(failed.value) == (
        "the homeserver refused the bot's access token (401 M_UNKNOWN_TOKEN: Unknown access "
        "token); set a valid MATRIX_ACCESS_TOKEN, or MATRIX_USER_ID and MATRIX_PASSWORD to log "
        "in again"
    )
    # That line is all: no "logging in again" before it, nor "logging in again failed".
    assert [r.getMessage() for r in caplog.records if r.name != SETTINGS_LOGGER] == []


STALE_TOKEN_AND_PASSWORD: dict[str, Any] = {
    "matrix_access_token": "a-stale-token",
    "matrix_user_id": BOT,
    "matrix_password": "bot-password",
}


@pytest.mark.parametrize("knock_options", [STALE_TOKEN_AND_PASSWORD], ids=["password"])
async def test_a_refused_token_with_a_password_to_log_in_with_starts_signed_in(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING):
        await runtime.start(background=False)
    try:
        assert runtime.services.link.signed_in
        assert [c.body["type"] for c in homeserver.calls("login")] == ["m.login.password"]
        assert [r.getMessage() for r in caplog.records if r.name != SETTINGS_LOGGER] == [
            "The homeserver refused the bot's access token (401 M_UNKNOWN_TOKEN: Unknown access "
            "token); it has a new one"
        ]
    finally:
        await runtime.stop()


@pytest.mark.parametrize("knock_options", [PASSWORD_ONLY], ids=["password"])
@pytest.mark.parametrize("status", [429, 500])
async def test_a_homeserver_too_busy_for_the_login_is_not_said_to_refuse_it(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    # 429 asking for a wait longer than RATE_LIMIT_WAIT_CAP; 500 an error of the homeserver's own.
    homeserver.fail_next(1, status, retry_after_ms=3_600_000, endpoint="login")
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING):
        await runtime.start(background=False)  # not a settings mistake: Knock starts
    try:
        said = [r.getMessage() for r in caplog.records if "signed in" in r.getMessage()]
        assert len(said) == 1
        assert said[0].startswith("Not signed in yet: the homeserver could not take the login now")
        assert "refused" not in said[0]

        await runtime.services.link.connect()  # the background re-check, once it answers

        assert runtime.services.link.signed_in
    finally:
        await runtime.stop()


@pytest.mark.parametrize("knock_options", [PASSWORD_ONLY], ids=["password"])
async def test_an_unreachable_homeserver_during_password_login_is_said_to_be_unreachable(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    homeserver.down()
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING, logger="knock"):
        await runtime.start(background=False)
    try:
        (said,) = [r.getMessage() for r in caplog.records if "signed in" in r.getMessage()]
        assert said.startswith(f"Not signed in yet: MATRIX_BASE_URL {settings.matrix_base_url}")
        assert "cannot be reached" in said and "refused" not in said
    finally:
        await runtime.stop()


async def test_readyz_names_rooms_and_warnings_only_for_the_api_key(
    runtime: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", {"users": {BOT: 10}})
    await runtime.services.link.check_rooms()

    public = await api.get("/readyz")
    keyed = await api.get("/readyz", headers={"Authorization": f"Bearer {ADMIN_KEY}"})

    assert public.json() == {
        "status": "ready",
        "checks": {"database": True, "homeserver": True, "rooms": False},
    }
    assert ROOM not in public.text and "API_KEY" not in public.text
    details = keyed.json()["details"]
    assert details["rooms"][ROOM].endswith("raise its power level")
    assert [w["code"] for w in details["warnings"]] == ["unsigned_intake"]


@pytest.mark.parametrize("knock_options", [{"api_key": ADMIN_KEY, "request_delay": 5}])
async def test_readiness_probes_neither_pace_the_bot_nor_hammer_the_homeserver(
    runtime: Runtime, homeserver: FakeHomeserver, api: httpx.AsyncClient
) -> None:
    async def next_slot() -> float:
        async with runtime.store.engine.connect() as conn:
            row = (await conn.execute(text("SELECT next_at FROM pacing"))).first()
        return float(row[0]) if row else 0.0

    before = await next_slot()
    whoami_before = len(homeserver.calls("whoami"))

    answers = [await api.get("/readyz") for _ in range(12)]

    assert {a.status_code for a in answers} == {200}
    assert await next_slot() == before  # no REQUEST_DELAY slot was booked by a probe
    assert len(homeserver.calls("whoami")) - whoami_before <= 1  # one probe, then its answer


@pytest.mark.parametrize(
    "knock_options",
    [{"api_key": "short-key", "webhook_token": "short-token", "allow_unsigned_webhooks": True}],
)
async def test_every_start_logs_what_to_change_without_the_secrets(
    settings: Settings,
    clock: FakeClock,
    homeserver: FakeHomeserver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with caplog.at_level(logging.WARNING):
        await runtime.start(background=False)
    await runtime.stop()

    said = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(m.startswith("ALLOW_UNSIGNED_WEBHOOKS=true") for m in said)
    assert any(m.startswith("API_KEY is shorter than 16") for m in said)
    assert any(m.startswith("WEBHOOK_TOKEN is shorter than 16") for m in said)
    assert "short-key" not in caplog.text and "short-token" not in caplog.text


async def test_a_sqlite_file_that_cannot_be_opened_stops_start_up_naming_its_path(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-directory" / "knock.db"
    runtime = Runtime(
        settings.model_copy(update={"database_url": SecretStr(f"sqlite:///{missing}")}),
        clock=clock,
        transport=homeserver.transport,
    )

    with pytest.raises(StartupError) as failed:
        await runtime.start(background=False)

    assert str(failed.value) == (
        f"DATABASE_URL cannot be opened (the SQLite file {missing}): No such file or directory"
    )


async def test_a_postgresql_server_that_cannot_be_reached_is_named_without_its_password(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    with socket.socket() as unused:  # a loopback port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"postgresql://knock:hunter2@127.0.0.1:{port}/knock?password=hunter3"
    runtime = Runtime(
        settings.model_copy(update={"database_url": SecretStr(url), "database_timeout": 2}),
        clock=clock,
        transport=homeserver.transport,
    )

    with pytest.raises(StartupError) as failed:
        await runtime.start(background=False)

    said = str(failed.value)
    assert said.startswith(
        f"DATABASE_URL cannot be opened (postgresql://knock@127.0.0.1:{port}/knock)"
    )
    assert "hunter2" not in said and "hunter3" not in said
    assert "\n" not in said
