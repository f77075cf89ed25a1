"""Session-wide fixtures over a real, throwaway Synapse (see knock_testing/synapse.py).

Synapse is only started when a test asks for one of these fixtures, so unit tests
pay nothing for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from knock_testing.synapse import Sandbox, SandboxUser

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
