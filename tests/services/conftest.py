"""The services on a fake homeserver and a SQLite file: no Synapse, no waiting.

Tests reach the services through the `services` fixture only (`services.worker.run_once()`)
and the database through `store`, so that moving the services inside the runtime changes one
line here. Settings a module needs differently go in an overridden `knock_options` fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from knock.config import Settings, load_settings
from knock.core.forms import Field, Submission
from knock.core.lifecycle import State
from knock.services.compose import Services
from knock.services.invites.intake import Outcome
from knock.services.runtime import Runtime
from knock.store import Store
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.fake_homeserver import BASE_URL, SERVER, FakeHomeserver

BOT = f"@knock:{SERVER}"
BOT_TOKEN = "bot-token"
BOT_PASSWORD = "bot-password"
ROOM = f"!members:{SERVER}"

Submit = Callable[..., Awaitable[Outcome]]
KnockState = Callable[[str], Awaitable[tuple[State, str | None]]]


async def drain(services: Runtime) -> None:
    """Run the worker until no job is due."""
    while await services.worker.run_once():
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def homeserver() -> Iterator[FakeHomeserver]:
    """A homeserver with the bot, and the members' room where the bot has power 100."""
    server = FakeHomeserver()
    server.add_user(BOT, "Knock", token=BOT_TOKEN, password=BOT_PASSWORD)
    server.create_room(BOT, room_id=ROOM)
    yield server
    unknown = [r.args["path"] for r in server.requests if r.endpoint == "unknown"]
    assert not unknown, f"Knock called endpoints the fake homeserver does not model: {unknown}"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    """Settings a test module changes: override this fixture there."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, knock_options: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "new_room_id": ROOM,
        "matrix_base_url": BASE_URL,
        "matrix_access_token": BOT_TOKEN,
        "database_url": f"sqlite:///{tmp_path}/knock.db",
        "tokens_file": tmp_path / "tokens.json",
        "blocklist_file": tmp_path / "blocked_users.txt",
        "allowlist_file": tmp_path / "allowed_users.txt",
        "request_delay": 0,
        "invite_check_interval": 0,
        "blocklist_scan_interval": 0,
    }
    return load_settings(env_file=None, **{**values, **knock_options})


@pytest.fixture
async def runtime(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> AsyncIterator[Runtime]:
    """Knock started on the fake homeserver, without its background tasks."""
    started = Runtime(settings, clock=clock, transport=homeserver.transport)
    await started.start(background=False)
    yield started
    await started.stop()


@pytest.fixture
def services(runtime: Runtime) -> Services:
    """Where the tests find intake, worker, follower, live, blocking, blocklist, moderation..."""
    return runtime.services


@pytest.fixture
def store(runtime: Runtime) -> Store:
    return runtime.store


@pytest.fixture
def submit(services: Runtime) -> Submit:
    """Knock as a form would: `await submit("@alice:hs.test")`, or with the id as typed."""
    count = 0

    async def knock(user_id: str, *, typed: str | None = None) -> Outcome:
        nonlocal count
        count += 1
        typed = typed or user_id
        fields = (Field("Matrix ID", "matrix_id", None, typed),)
        return await services.intake.knock(Submission("tally", f"s{count}", fields), typed, None)

    return knock


@pytest.fixture
def knock_state(store: Store) -> KnockState:
    async def state(knock_id: str) -> tuple[State, str | None]:
        knock = await store.get_knock(knock_id)
        assert knock is not None, f"knock {knock_id} is not stored"
        return knock.state, knock.reason

    return state


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Knock's HTTP app in-process, called from one browser-like address."""
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client
