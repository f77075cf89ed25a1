"""Run Knock in-process against the test Synapse, and wait for outcomes with a deadline."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.config import Settings, load_settings
from knock.core.knocks import NewKnock
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store.engine import make_engine
from knock.store.writes import knock_row
from knock.web.app import KnockApp
from knock_testing.signing import sign_tally, sign_typeform
from knock_testing.synapse import Sandbox, SandboxUser, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forms"
FIXTURE_SECRET = "knock-fixture-secret"
ADMIN_KEY = "test-admin-key-long-enough"
# Every Knock the harness starts has a WEBHOOK_TOKEN (a test can override it, or set it to None).
WEBHOOK_TOKEN = "harness-webhook-token"
WITH_TOKEN = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
# What a browser sends with a form it posts: it makes the post a per-address caller's.
BROWSER = {"Origin": "https://forms.example.org"}


@dataclass
class Database:
    """The database the current test's Knocks share (set by the `database_url` fixture)."""

    url: str = ""


DATABASE = Database()

T = TypeVar("T")


def database_rows(sql: str) -> list[tuple[Any, ...]]:
    """Read the test's database directly, from a test not running in an event loop."""

    async def read() -> list[tuple[Any, ...]]:
        engine = make_engine(DATABASE.url)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(text(sql))]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def knock_settings(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room_id: str, **overrides: Any
) -> Settings:
    """Settings for a Knock that talks to the test Synapse, on the test's own database."""
    values: dict[str, Any] = {
        "new_room_id": room_id,
        "matrix_base_url": synapse.base_url,
        "matrix_access_token": bot.access_token,
        "database_url": DATABASE.url,
        "tokens_file": tmp_path / "tokens.json",
        "blocklist_file": tmp_path / "blocked_users.txt",
        "allowlist_file": tmp_path / "allowed_users.txt",
        "request_delay": 0,
        "api_key": ADMIN_KEY,
        "webhook_token": WEBHOOK_TOKEN,
        # The platforms that sign deliveries are set up to, as a deployment would be.
        "tally_signing_secret": FIXTURE_SECRET,
        "typeform_secret": FIXTURE_SECRET,
        "log_level": "INFO",
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


@dataclass
class KnockUnderTest:
    """A started Knock and an HTTP client that calls its API in-process."""

    runtime: Runtime
    http: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    async def knock_state(self, knock_id: str) -> tuple[State, str | None]:
        knock = await self.runtime.store.get_knock(knock_id)
        assert knock is not None, f"knock {knock_id} was not stored"
        return knock.state, knock.reason

    async def stop(self) -> None:
        await self.http.aclose()
        await self.runtime.stop()


async def start_knock(settings: Settings, **runtime_options: Any) -> KnockUnderTest:
    """Start a Knock runtime (worker included unless `background=False`) and its API."""
    background = runtime_options.pop("background", True)
    runtime = Runtime(settings, **runtime_options)
    await runtime.start(background=background)
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.7", 40000))
    http = httpx.AsyncClient(transport=transport, base_url="http://knock.test")
    return KnockUnderTest(runtime, http)


async def eventually(
    check: Callable[[], Awaitable[T] | T], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def wait_for(check: Callable[[], T], what: str | Callable[[], str], *, timeout: float = 30.0) -> T:
    """`eventually` for a test not running in an event loop (processes, threads)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            told = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {told}")
        time.sleep(0.1)
    return result


def tally_delivery(
    user_id: str, submission_id: str = "vNq8Ka", honeypot: str = ""
) -> tuple[bytes, dict[str, str]]:
    """The Tally sample with the Matrix ID, submission id and honeypot replaced, signed again."""
    sample = json.loads((FIXTURES / "tally.json").read_bytes())
    sample["data"]["submissionId"] = sample["data"]["responseId"] = submission_id
    for field in sample["data"]["fields"]:
        if field["label"] == "Matrix ID":
            field["value"] = user_id
        if field["label"] == "honeypot":
            field["value"] = honeypot
    body = json.dumps(sample).encode()
    headers = {
        "Content-Type": "application/json",
        "Tally-Signature": sign_tally(body, FIXTURE_SECRET),
    }
    return body, headers


def typeform_delivery(user_id: str, token: str = "9f8e7d6c") -> tuple[bytes, dict[str, str]]:
    """The Typeform sample with the Matrix ID (and response token) replaced, signed again."""
    sample = json.loads((FIXTURES / "typeform.json").read_bytes())
    sample["form_response"]["token"] = token
    for answer in sample["form_response"]["answers"]:
        if answer["field"]["ref"] == "matrix_id":
            answer["text"] = user_id
    body = json.dumps(sample).encode()
    signature = sign_typeform(body, FIXTURE_SECRET)
    return body, {"Content-Type": "application/json", "Typeform-Signature": signature}


def invited(synapse: Sandbox, viewer: SandboxUser, room_id: str, user_id: str) -> bool:
    """Tell whether `user_id` holds an invite to the room right now."""
    return synapse.members(viewer, room_id, "invite").get(user_id) == "invite"


def invite_count(synapse: Sandbox, viewer: SandboxUser, room_id: str, user_id: str) -> int:
    """Count the invite events for `user_id` in the room's whole timeline."""
    events = synapse.member_events(viewer, room_id, user_id)
    return sum(1 for event in events if event["content"].get("membership") == "invite")


ROOT = Path(__file__).resolve().parents[2]


@dataclass
class KnockProcess:
    """Knock served by `uvicorn mknock:app` in a real process of its own."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=15)


def process_env(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room_id: str, **extra: str
) -> dict[str, str]:
    """The environment of a deployed Knock on the test homeserver, sharing one database."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "NEW_ROOM_ID": room_id,
        "MATRIX_BASE_URL": synapse.base_url,
        "MATRIX_ACCESS_TOKEN": bot.access_token,
        "DATABASE_URL": DATABASE.url,
        "TOKENS_FILE": str(tmp_path / "tokens.json"),
        "BLOCKLIST_FILE": str(tmp_path / "blocked.txt"),
        "ALLOWLIST_FILE": str(tmp_path / "allowed.txt"),
        "REQUEST_DELAY": "0",
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        **extra,
    }


def start_processes(tmp_path: Path, env: dict[str, str], count: int) -> list[KnockProcess]:
    """Start `count` Knock processes and wait until each answers."""
    started = []
    for _ in range(count):
        port = free_port()
        log = tmp_path / f"knock-{port}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "mknock:app", "--port", str(port)],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(KnockProcess(f"http://127.0.0.1:{port}", process, log))
    deadline = time.monotonic() + 30
    for knock in started:
        while True:
            try:
                if httpx.get(knock.url + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert knock.process.poll() is None, knock.log.read_text()
            assert time.monotonic() < deadline, "a Knock process did not start"
            time.sleep(0.05)
    return started


def knock_row_before_doors(new: NewKnock, now: float) -> dict[str, object]:
    """A knocks row as a database from before doors (migration 11) holds it: no `door`."""
    row = knock_row(new, now)
    del row["door"]
    return row


async def migrate_to_before(engine: AsyncEngine, monkeypatch: Any, marker: str) -> int:
    """Migrate `engine`'s database as Knock did before the migration whose SQL contains
    `marker`; return that migration's number (the next `migrate` runs it and the later ones)."""
    from knock.store.migrate import migrate
    from knock.store.schema import MIGRATIONS

    version = next(
        number
        for number, statements in enumerate(MIGRATIONS, start=1)
        if any(marker in statement for statement in statements)
    )
    with monkeypatch.context() as before:
        # (`knock.store.migrate` is also the name of the function the package exports.)
        module = importlib.import_module("knock.store.migrate")
        before.setattr(module, "MIGRATIONS", MIGRATIONS[: version - 1])
        await migrate(engine)
    return version
