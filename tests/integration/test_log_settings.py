"""LOG_LEVEL and LOG_FORMAT govern Knock's and uvicorn's lines alike, however Knock is started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests.integration.harness import ROOT, WEBHOOK_TOKEN, process_env
from tests.integration.test_secrets_stay_out import launched

LAUNCHES = {
    # uvicorn's own --log-level says otherwise: LOG_LEVEL wins.
    "uvicorn mknock:app": [sys.executable, "-m", "uvicorn", "mknock:app", "--log-level", "debug"],
    "knock serve": [sys.executable, "-m", "knock", "serve"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launch", list(LAUNCHES))
def test_log_level_warning_quiets_uvicorn_too_and_every_line_is_json(
    launch: str, tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    env = process_env(tmp_path, synapse, bot, private_room, LOG_LEVEL="WARNING", LOG_FORMAT="json")
    port = free_port()
    with launched(LAUNCHES[launch], env, tmp_path, port) as log:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/").status_code == 200
        # From no trusted proxy: Knock warns once, while handling the delivery for its door.
        answer = httpx.post(
            url + "/invite_from_form",
            json={"matrix_id": f"@someone:{synapse.server_name}"},
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "X-Forwarded-For": "192.0.2.1"},
        )
        assert answer.status_code == 202
    text = log.read_text()

    lines = [json.loads(line) for line in text.splitlines()]
    assert {line["level"] for line in lines} <= {"WARNING", "ERROR"}, text
    assert not [line for line in lines if line["logger"].startswith("uvicorn")], text
    (warned,) = [line for line in lines if "X-Forwarded-For" in line["message"]]
    assert warned["logger"] == "knock.services.invites.reception"
    assert warned["door"] == "default"


@pytest.mark.no_database  # stops at the settings, before any database
@pytest.mark.parametrize("launch", list(LAUNCHES))
def test_a_bad_log_format_stops_start_up_with_one_line_naming_it(
    launch: str, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "NEW_ROOM_ID": "!room:example.org",
        "LOG_FORMAT": "JSON",
    }
    result = subprocess.run(
        LAUNCHES[launch], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "knock: LOG_FORMAT='JSON' is not valid: Input should be 'text' or 'json'"
    ]
