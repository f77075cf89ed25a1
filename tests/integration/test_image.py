"""The Docker image's install, command and health check, run without a container engine.

Neither this machine nor CI runs containers, so the image is never built. What it does is done
here from the Dockerfile's own lines instead: the session's `image_environment` (tests/conftest.py)
is a fresh virtual environment of the image's Python minor version, installed by the Dockerfile's
`pip install` lines (requirements.lock with `--require-hashes` from the package index, then Knock
with `--no-deps`); its CMD starts Knock with the image's ENV and the compose service's environment
(secrets as files), in a working directory of its own, against a real Synapse, on each engine;
its HEALTHCHECK is then run as Docker would run it, and must pass while Knock serves and fail once
it has stopped. Two things differ from the image, both said where they happen: a free port takes
the place of 8000 (in CMD and in the health check alike), and /data and /run/secrets become
temporary directories. The base image itself, Docker's handling of HEALTHCHECK's timings and
Compose's own behaviour are not exercised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests import dockerfile
from tests.conftest import MakeUser
from tests.integration.harness import DATABASE

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_TOKEN = "image-webhook-token-of-decent-length"
API_KEY = "image-api-key-of-decent-length"


@dataclass
class Image:
    """The image's process environment here, and how to run its commands in it."""

    env: dict[str, str]
    workdir: Path
    port: int

    def run(self, command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The HEALTHCHECK's command, on this run's port instead of the image's."""
        _, command = dockerfile.healthcheck()
        image_port = f":{dockerfile.exposed_port()}/"
        assert sum(image_port in word for word in command) == 1, command
        return self.run([word.replace(image_port, f":{self.port}/") for word in command], 10)


def compose_environment(data: Path, secrets: Path) -> dict[str, str]:
    """The knock service's `environment:` from compose.yaml, its paths made local."""
    service = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    environment: dict[str, str] = service["knock"]["environment"]
    moved = {"/run/secrets": secrets, dockerfile.every("WORKDIR")[-1]: data}

    def local(value: str) -> str:
        for directory, here in moved.items():
            if value.startswith(directory + "/"):
                return str(here) + value.removeprefix(directory)
        return value

    return {name: local(value) for name, value in environment.items()}


@pytest.fixture
def image(
    image_environment: Path,
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
) -> Image:
    data, secrets = tmp_path / "data", tmp_path / "secrets"
    data.mkdir()
    secrets.mkdir()
    for name, value in (
        ("api_key", API_KEY),
        ("webhook_token", WEBHOOK_TOKEN),
        ("database_url", DATABASE.url),
    ):
        (secrets / name).write_text(value + "\n", encoding="utf-8")
    # Only the system's basics from here; `python` and `knock` are the image's own.
    path = f"{image_environment / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env = {"PATH": path, "HOME": str(data), "LANG": os.environ.get("LANG", "C.UTF-8")}
    env |= dockerfile.environment()
    env |= compose_environment(data, secrets)
    # What .env holds (compose's env_file).
    env |= {
        "NEW_ROOM_ID": private_room,
        "MATRIX_BASE_URL": synapse.base_url,
        "MATRIX_ACCESS_TOKEN": bot.access_token,
        "REQUEST_DELAY": "0",
    }
    return Image(env=env, workdir=data, port=free_port())


@pytest.fixture
def serving(image: Image) -> Iterator[subprocess.Popen[str]]:
    """The image's CMD running, on this run's port instead of the image's."""
    command = dockerfile.command()
    at = command.index("--port") + 1
    assert command[at] == str(dockerfile.exposed_port())
    command[at] = str(image.port)
    log = image.workdir.parent / "knock.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=image.env, cwd=image.workdir, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{image.port}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "Knock did not start: " + log.read_text()
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # what `docker stop` sends
            process.wait(timeout=15)


@pytest.mark.slow
def test_the_images_command_serves_and_its_health_check_follows_it(
    image: Image,
    serving: subprocess.Popen[str],
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    url = f"http://127.0.0.1:{image.port}"
    person = make_user("imaged")

    healthy = image.healthcheck()
    answer = httpx.post(
        f"{url}/invite_from_form", json={"matrix_id": person.user_id}, params={"token": "wrong"}
    )
    accepted = httpx.post(
        f"{url}/invite_from_form",
        json={"matrix_id": person.user_id},
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )
    keyed = httpx.get(f"{url}/readyz", headers={"Authorization": f"Bearer {API_KEY}"})
    deadline = time.monotonic() + 30
    while synapse.members(bot, private_room, "invite").get(person.user_id) != "invite":
        assert time.monotonic() < deadline, "the image's Knock never invited"
        time.sleep(0.1)
    serving.send_signal(signal.SIGTERM)  # what `docker stop` sends
    stopped = serving.wait(timeout=15)
    unhealthy = image.healthcheck()

    assert healthy.returncode == 0, healthy.stderr
    # The secrets came from their files: the token refuses a wrong one and admits its own,
    # the API key opens /readyz's details, the database URL is the test's own.
    assert answer.status_code == 401
    assert accepted.status_code == 202
    assert "details" in keyed.json()
    # Shut down in good order (uvicorn then ends by the signal it was sent, as Docker expects).
    assert stopped in (0, -signal.SIGTERM)
    assert "Application shutdown complete." in (image.workdir.parent / "knock.log").read_text()
    assert unhealthy.returncode != 0
    assert "Connection refused" in unhealthy.stderr


@pytest.mark.slow
def test_a_knock_command_in_place_of_the_images_runs_on_the_same_settings_and_database(
    image: Image, serving: subprocess.Popen[str], make_user: MakeUser
) -> None:
    person = make_user("listed")
    accepted = httpx.post(
        f"http://127.0.0.1:{image.port}/invite_from_form",
        json={"matrix_id": person.user_id},
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )

    # `docker compose run --rm knock knock doctor` (or `knock login`): the service's environment
    # and working directory, `knock` from the image's PATH, while the service runs.
    doctor = image.run(["knock", "doctor"])
    listed = image.run(["knock", "knocks", "--user-id", person.user_id])

    assert accepted.status_code == 202
    assert doctor.returncode == 0, doctor.stderr
    assert doctor.stdout.startswith("OK: signed in as @knockbot:")
    assert listed.returncode == 0, listed.stderr
    assert person.user_id in listed.stdout  # the knock the service committed
