"""Signing the bot in: Beeper's email-code flow (fake Beeper API, real Synapse JWT login)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from knock.services.homeserver.login import interactive_login
from knock.services.runtime import Runtime
from knock_testing.synapse import Sandbox, SandboxUser
from tests.integration.harness import knock_settings

BEEPER_EMAIL = "moderator@example.org"


class FakeBeeper:
    """Beeper's login API as its clients see it; its JWTs are signed with the test Synapse's key.

    A fake because Beeper's real API cannot be reached from the test machine.
    """

    def __init__(self, jwt_secret: str, localpart: str) -> None:
        self.jwt_secret = jwt_secret
        self.localpart = localpart
        self.codes: dict[str, str] = {}  # login request -> the code "emailed" for it
        self.refuse_all = False
        self.app = FastAPI()
        self.app.post("/user/login")(self.start)
        self.app.post("/user/login/email")(self.email)
        self.app.post("/user/login/response")(self.response)

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("Bearer BEEPER-PRIVATE-API")

    async def start(self, request: Request) -> JSONResponse:
        if self.refuse_all or not self._authorised(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        login_request = secrets.token_hex(8)
        self.codes[login_request] = ""
        return JSONResponse({"request": login_request, "type": ["email"], "expires": "soon"})

    async def email(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("request") not in self.codes or body.get("email") != BEEPER_EMAIL:
            return JSONResponse({"error": "unknown request"}, status_code=400)
        self.codes[body["request"]] = f"{secrets.randbelow(10**6):06d}"
        return JSONResponse({})

    async def response(self, request: Request) -> JSONResponse:
        body = await request.json()
        expected = self.codes.get(body.get("request"), "")
        if not expected or body.get("response") != expected:
            return JSONResponse({"retries": 2}, status_code=403)
        token = jwt.encode({"sub": self.localpart}, self.jwt_secret, algorithm="HS256")
        return JSONResponse({"token": token})

    def last_code(self) -> str:
        return list(self.codes.values())[-1]

    def emails(self) -> int:
        """How many codes were emailed."""
        return sum(1 for code in self.codes.values() if code)


@pytest.fixture
def fake_beeper(synapse: Sandbox) -> Iterator[tuple[FakeBeeper, str]]:
    """Serve a FakeBeeper on a loopback port for one test."""
    beeper = FakeBeeper(synapse.jwt_secret, f"beeperbot{secrets.token_hex(3)}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(beeper.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake Beeper API did not start"
        time.sleep(0.01)
    yield beeper, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _room_for(synapse: Sandbox, owner: SandboxUser, beeper: FakeBeeper) -> str:
    # Power for the bot account that the JWT login will create, before it exists.
    bot_id = f"@{beeper.localpart}:{synapse.server_name}"
    return synapse.create_room(owner, power_users={bot_id: 100})


async def test_beeper_email_code_login_yields_a_working_token_cached_at_0600(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, fake_beeper: tuple[FakeBeeper, str]
) -> None:
    beeper, beeper_url = fake_beeper
    room = _room_for(synapse, bot, beeper)
    settings: dict[str, Any] = {
        "matrix_access_token": None,
        "beeper_api_base": beeper_url,
        "beeper_login_email": BEEPER_EMAIL,
    }

    # First start: Beeper emails a code; Knock serves and says, in one line, what to do with it.
    first = Runtime(knock_settings(tmp_path, synapse, bot, room, **settings))
    await first.start(background=False)
    waiting = first.services.link.waiting_for
    await first.stop()
    assert "BEEPER_LOGIN_CODE" in waiting and "\n" not in waiting
    assert beeper.emails() == 1
    code = beeper.last_code()

    # A restart before the code is set emails nothing more: the code sent still matches.
    again = Runtime(knock_settings(tmp_path, synapse, bot, room, **settings))
    await again.start(background=False)
    assert not again.services.link.signed_in
    await again.stop()
    assert beeper.emails() == 1

    # The moderator sets the code; Knock logs in and says the bot has not joined the room yet.
    synapse.api(
        "POST",
        f"/_matrix/client/v3/rooms/{room}/invite",
        user=bot,
        json={"user_id": f"@{beeper.localpart}:{synapse.server_name}"},
    )
    runtime = Runtime(
        knock_settings(tmp_path, synapse, bot, room, beeper_login_code=code, **settings)
    )
    await runtime.start(background=False)
    link = runtime.services.link
    assert link.signed_in and link.problems[room].startswith("the bot ")
    await runtime.stop()
    tokens_file = tmp_path / "tokens.json"
    cached = json.loads(tokens_file.read_text())
    joined = synapse.api(
        "POST",
        f"/_matrix/client/v3/rooms/{room}/join",
        user=SandboxUser(cached["user_id"], cached["access_token"], ""),
        json={},
    )
    assert joined.status_code == 200

    runtime = Runtime(
        knock_settings(tmp_path, synapse, bot, room, beeper_login_code=code, **settings)
    )
    await runtime.start(background=False)
    try:
        assert runtime.bot_id == f"@{beeper.localpart}:{synapse.server_name}"
        assert runtime.services.link.rooms_ready()
        who = await runtime.matrix.whoami()
        assert who["user_id"] == runtime.bot_id
    finally:
        await runtime.stop()
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    assert json.loads(tokens_file.read_text())["user_id"] == runtime.bot_id


async def test_knock_login_runs_the_flow_interactively(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, fake_beeper: tuple[FakeBeeper, str]
) -> None:
    beeper, beeper_url = fake_beeper
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        "!room:localhost",
        matrix_access_token=None,
        beeper_api_base=beeper_url,
    )

    status = await interactive_login(settings, BEEPER_EMAIL, beeper.last_code)

    assert status == 0
    cached = json.loads((tmp_path / "tokens.json").read_text())
    assert cached["user_id"] == f"@{beeper.localpart}:{synapse.server_name}"
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600


async def test_a_wrong_code_and_a_closed_flow_are_each_explained_in_one_line(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    fake_beeper: tuple[FakeBeeper, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    beeper, beeper_url = fake_beeper
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        "!room:localhost",
        matrix_access_token=None,
        beeper_api_base=beeper_url,
    )

    wrong = await interactive_login(settings, BEEPER_EMAIL, lambda: "000000x")
    beeper.refuse_all = True
    closed = await interactive_login(settings, BEEPER_EMAIL, beeper.last_code)

    errors = capsys.readouterr().err.strip().splitlines()
    assert (wrong, closed) == (1, 1)
    assert "wrong" in errors[0] and "2 tries left" in errors[0]
    assert "MATRIX_USER_ID and MATRIX_PASSWORD" in errors[1]
    assert not (tmp_path / "tokens.json").exists()


async def test_knock_login_says_in_one_line_that_the_homeserver_cannot_be_reached(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    fake_beeper: tuple[FakeBeeper, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    beeper, beeper_url = fake_beeper
    with socket.socket() as unused:  # a loopback port nothing listens on
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        "!room:localhost",
        matrix_access_token=None,
        matrix_base_url=nowhere,
        beeper_api_base=beeper_url,
    )

    status = await interactive_login(settings, BEEPER_EMAIL, beeper.last_code)

    (said,) = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert said.startswith(f"knock: MATRIX_BASE_URL {nowhere} cannot be reached")
    assert "refused" not in said


async def test_password_login_works_on_any_homeserver_and_reuses_the_device(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    overrides = {
        "matrix_access_token": None,
        "matrix_user_id": bot.user_id,
        "matrix_password": bot.password,
    }
    devices, tokens = [], []
    for _ in range(2):
        runtime = Runtime(knock_settings(tmp_path, synapse, bot, private_room, **overrides))
        await runtime.start(background=False)
        devices.append((await runtime.matrix.whoami())["device_id"])
        # Forget every cached token so that the second start must log in again.
        await runtime.store.set_value("matrix.access_token", "", 0)
        await runtime.stop()
        tokens.append(json.loads((tmp_path / "tokens.json").read_text())["access_token"])
        (tmp_path / "tokens.json").unlink()

    assert tokens[0] != tokens[1], "the second start did not log in again"
    assert devices[0] == devices[1]
