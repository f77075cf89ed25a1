"""Session-wide fixtures over a real, throwaway Synapse (see knock_testing/synapse.py), and
the environment the Docker image installs.

Synapse is only started when a test asks for one of these fixtures, so unit tests
pay nothing for them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knock_testing.synapse import Sandbox, SandboxUser
from tests.dockerfile import image_python, pip_installs
from tests.unit.test_packaging import NOT_COPIED

ROOT = Path(__file__).resolve().parents[1]
MakeUser = Callable[..., SandboxUser]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A running Synapse (rate limits relaxed), shared by the whole session."""
    with Sandbox(tmp_path_factory.mktemp("synapse")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def synapse_admin(synapse: Sandbox) -> SandboxUser:
    """A server admin on ``synapse``."""
    return synapse.register("admin", admin=True)


@pytest.fixture(scope="session")
def bot(synapse: Sandbox, synapse_admin: SandboxUser) -> SandboxUser:
    """The Knock bot account, "@knockbot:localhost", exempt from rate limits."""
    user = synapse.register("knockbot")
    synapse.lift_rate_limits(synapse_admin, user.user_id)
    return user


@pytest.fixture
def make_user(synapse: Sandbox) -> MakeUser:
    """Factory: ``make_user(prefix="user")`` registers a fresh, uniquely named user."""

    def make(prefix: str = "user") -> SandboxUser:
        return synapse.register(f"{prefix}-{uuid.uuid4().hex[:12]}".lower())

    return make


@pytest.fixture
def private_room(synapse: Sandbox, bot: SandboxUser) -> str:
    """A fresh invite-only room created by ``bot`` (so the bot may invite/kick/ban)."""
    return synapse.create_room(bot)


@pytest.fixture(scope="session")
def rate_limited_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A second Synapse whose rc_message and rc_invites.per_issuer limits are tight
    (0.2/s, burst 3): a user without lifted limits gets 429 M_LIMIT_EXCEEDED after
    a few quick invites.  Started only by tests that ask for it."""
    with Sandbox(tmp_path_factory.mktemp("synapse-rl"), rate_limited=True) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def image_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment installed as the Docker image is: the image's Python minor
    version and the Dockerfile's `pip install` lines (requirements.lock with `--require-hashes`,
    then Knock with `--no-deps`), run in a copy of the repository; its directory.

    pip keeps its own settings (index, mirrors, find-links); the caller's Python path is left out.
    """
    base = tmp_path_factory.mktemp("image")
    venv = base / "venv"
    subprocess.run([image_python(), "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    tree = base / "knock"
    shutil.copytree(ROOT, tree, ignore=NOT_COPIED)  # no build output lands in the repository
    # The Dockerfile's own `pip install` lines, run where the image has the same files.
    installs = pip_installs()
    assert installs, "the Dockerfile installs nothing with pip"
    for args in installs:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", *args],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"pip install {args}\n{done.stdout}\n{done.stderr}"
    return venv
