"""Knock deployed as the notes say, in real processes: `uvicorn mknock:app` and `knock serve`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests.conftest import MakeUser
from tests.integration.harness import DATABASE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_KEY = "deploy-key-of-decent-length"


def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {**keep, **values}


def _env(tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room: str) -> dict[str, str]:
    return _clean_env(
        tmp_path,
        NEW_ROOM_ID=room,
        MATRIX_BASE_URL=synapse.base_url,
        MATRIX_ACCESS_TOKEN=bot.access_token,
        DATABASE_URL=DATABASE.url,
        TOKENS_FILE=str(tmp_path / "tokens.json"),
        WEBHOOK_TOKEN="s3cret-webhook-token",
        API_KEY=DEPLOY_KEY,
        REQUEST_DELAY="0",
    )


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


@contextmanager
def _launched(
    command: list[str], env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """Run `command` (given `--port N` last) until it answers /readyz; yield its URL and log."""
    port = free_port()
    log = tmp_path / "knock.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "Knock did not become ready: " + log.read_text()
            time.sleep(0.05)
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


LAUNCHES = {
    "uvicorn mknock:app": [sys.executable, "-m", "uvicorn", "mknock:app"],
    "knock serve": [sys.executable, "-m", "knock", "serve"],
}


@pytest.fixture
def served(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> Iterator[tuple[str, Path]]:
    """Run `uvicorn mknock:app` as a deployment would; yield its URL and its log file."""
    env = _env(tmp_path, synapse, bot, private_room)
    with _launched(LAUNCHES["uvicorn mknock:app"], env, tmp_path) as running:
        yield running


@pytest.mark.slow
def test_uvicorn_mknock_app_accepts_a_knock_and_keeps_the_token_out_of_its_logs(
    served: tuple[str, Path],
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    url, log = served
    person = make_user("deployed")

    answer = httpx.post(
        f"{url}/invite_from_form?token=s3cret-webhook-token", json={"matrix_id": person.user_id}
    )

    assert answer.status_code == 202
    assert httpx.get(url + "/").json()["status"] == "running"
    deadline = time.monotonic() + 30
    while synapse.members(bot, private_room, "invite").get(person.user_id) != "invite":
        assert time.monotonic() < deadline, "the deployed Knock never invited"
        time.sleep(0.1)
    text = log.read_text()
    assert "/invite_from_form?token=REDACTED" in text
    assert "s3cret-webhook-token" not in text
    assert bot.access_token not in text


@pytest.mark.no_database  # stops at the settings, before any database
def test_a_missing_setting_stops_knock_serve_with_one_line(tmp_path: Path) -> None:
    result = _run([sys.executable, "-m", "knock", "serve"], _clean_env(tmp_path), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "knock: NEW_ROOM_ID is required (a room id like !abc:example.org)"
    )


@pytest.mark.no_database  # stops at the settings, before any database
def test_a_malformed_setting_stops_uvicorn_with_one_line_naming_it(tmp_path: Path) -> None:
    env = _clean_env(
        tmp_path, NEW_ROOM_ID="!room:example.org", REQUEST_DELAY="soon", PYTHONPATH=str(ROOT)
    )
    result = _run([sys.executable, "-m", "uvicorn", "mknock:app"], env, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "knock: REQUEST_DELAY='soon' is not valid: must be a duration like 90s, 15m, 48h or 7d"
    ]


@pytest.mark.slow
def test_a_bot_outside_the_room_serves_says_so_in_one_line_and_in_readyz(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, make_user: MakeUser
) -> None:
    stranger = make_user("owner")
    room = synapse.create_room(stranger)  # the bot was never invited
    env = _env(tmp_path, synapse, bot, room)
    with _launched(LAUNCHES["uvicorn mknock:app"], env, tmp_path) as (url, log):
        public = httpx.get(url + "/readyz").json()
        keyed = httpx.get(url + "/readyz", headers={"Authorization": f"Bearer {DEPLOY_KEY}"}).json()
        answer = httpx.post(
            f"{url}/invite_from_form?token=s3cret-webhook-token",
            json={"matrix_id": make_user("waiting").user_id},
        )
    assert public == {
        "status": "ready",
        "checks": {"database": True, "homeserver": True, "rooms": False},
    }
    assert keyed["details"]["rooms"][room].startswith(f"the bot {bot.user_id} has not joined")
    assert answer.status_code == 202  # committed; invited once the bot can work in the room
    said = [line for line in log.read_text().splitlines() if "not ready" in line]
    assert len(said) == 1 and f"has not joined NEW_ROOM_ID {room}" in said[0]
    assert "Traceback" not in log.read_text()


# `2026-01-31 12:00:00,123 INFO uvicorn.error: ...`, Knock's format (knock/web/logs.py).
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


@pytest.mark.slow
@pytest.mark.parametrize("launch", list(LAUNCHES))
def test_both_launches_log_uvicorns_lines_as_knocks_and_redact_the_access_log(
    launch: str, tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    env = _env(tmp_path, synapse, bot, private_room)
    with _launched(LAUNCHES[launch], env, tmp_path) as (url, log):
        assert httpx.get(f"{url}/?token=s3cret-webhook-token&x=1").status_code == 200
        # `%74oken` is `token` once decoded: the webhook takes it as the token, so it is one.
        encoded = httpx.post(
            f"{url}/invite_from_form?%74oken=s3cret-webhook-token", json={"name": "nobody"}
        )
        assert encoded.status_code == 422  # past the token check (401), to "no Matrix ID field"
    text = log.read_text()

    lines = text.splitlines()
    assert lines and [line for line in lines if not STAMPED.match(line)] == [], text
    for marker in (
        "INFO uvicorn.error: Uvicorn running on http://127.0.0.1:",
        "INFO uvicorn.error: Application startup complete.",
        "INFO knock.services.runtime: Knock is running as",
        "INFO uvicorn.access: 127.0.0.1:",
    ):
        assert sum(marker in line for line in lines) >= 1, f"{marker!r} not in\n{text}"
    assert sum("Application startup complete." in line for line in lines) == 1, text
    assert '"GET /?token=REDACTED&x=1 HTTP/1.1" 200' in text
    assert '"POST /invite_from_form?%74oken=REDACTED HTTP/1.1" 422' in text
    assert "s3cret-webhook-token" not in text


# Behind a reverse proxy. The test is the proxy: it connects from 127.0.0.1 and says for whom.
PROXIED = {
    "trusted proxy": ("127.0.0.1", True),
    "untrusted peer": ("10.9.9.9", False),  # a proxy elsewhere; this peer is not it
}


@pytest.mark.slow
@pytest.mark.no_database  # its own SQLite file: this is about addresses, not engines
@pytest.mark.parametrize("launch", list(LAUNCHES))
@pytest.mark.parametrize("case", list(PROXIED))
def test_x_forwarded_for_is_believed_from_exactly_trusted_proxies_by_both_launches(
    launch: str,
    case: str,
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
) -> None:
    trusted, believed = PROXIED[case]
    env = _env(tmp_path, synapse, bot, private_room)
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'knock.db'}",
        "TRUSTED_PROXIES": trusted,
        "LIMIT_PER_IP": "1/1h",
    }
    command = LAUNCHES[launch]
    if launch == "uvicorn mknock:app":  # as the README says to run it behind a proxy
        command = [*command, "--forwarded-allow-ips", trusted]

    with _launched(command, env, tmp_path) as (url, log):

        def knock(client: str, localpart: str) -> int:
            # A tokenless HTML form: a per-address caller, the kind LIMIT_PER_IP limits.
            answer = httpx.post(
                f"{url}/invite_from_form",
                data={"matrix_id": f"@{localpart}:{synapse.server_name}"},
                headers={"X-Forwarded-For": client},
            )
            return answer.status_code

        first = knock("203.0.113.7", "first")
        same_client = knock("203.0.113.7", "second")
        other_client = knock("198.51.100.4", "third")

    # LIMIT_PER_IP=1/1h: one knock per caller. Believed, the header names two callers;
    # otherwise every knock comes from the one peer, 127.0.0.1.
    assert (first, same_client) == (202, 429)
    assert other_client == (202 if believed else 429)
    callers = [
        line.split("uvicorn.access: ")[1].split(" ")[0]
        for line in log.read_text().splitlines()
        if "uvicorn.access: " in line and "/invite_from_form" in line
    ]
    if believed:
        assert callers == ["203.0.113.7:0", "203.0.113.7:0", "198.51.100.4:0"]
    else:
        assert [caller.split(":")[0] for caller in callers] == ["127.0.0.1"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("launch", list(LAUNCHES))
def test_a_refused_token_stops_both_launches_with_one_line_from_knock(
    launch: str, tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    env = _env(tmp_path, synapse, bot, private_room)
    env |= {"MATRIX_ACCESS_TOKEN": "syt_not_a_token_the_homeserver_knows", "PYTHONPATH": str(ROOT)}

    result = _run([*LAUNCHES[launch], "--port", str(free_port())], env, tmp_path)

    # Each line without its time stamp (`2026-01-31 12:00:00,123 `), warnings and errors only.
    said = [
        line[24:]
        for line in result.stderr.splitlines()
        if STAMPED.match(line) and line[24:].startswith(("WARNING", "ERROR"))
    ]
    assert result.returncode != 0
    assert said == [
        "ERROR uvicorn.error: the homeserver refused the bot's access token (401 "
        "M_UNKNOWN_TOKEN: Invalid access token passed.); set a valid MATRIX_ACCESS_TOKEN, or "
        "MATRIX_USER_ID and MATRIX_PASSWORD to log in again",
        "ERROR uvicorn.error: Application startup failed. Exiting.",  # uvicorn's own
    ], result.stderr
    assert "syt_not_a_token_the_homeserver_knows" not in result.stderr
