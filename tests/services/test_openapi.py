"""The OpenAPI description tells the truth: schemathesis calls every operation as it describes it.

Each operation gets a bounded number of generated requests, valid and invalid, sent with the
API key, and every answer must be one the description lists, with the headers and the body it
gives, never a 5xx; valid requests must be accepted and invalid ones refused, and an admin route
must refuse the same request without the key. The examples are the same on every run (a fixed
seed): a failure here is a change in Knock, not luck.

Knock runs as it is served: schemathesis calls the app from an event loop of its own, so the
app's lifespan starts the runtime there (as uvicorn does), without its background work, on the
fake homeserver and a SQLite file, and ends it when the test does.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from knock.config import Settings, load_settings
from knock.services.runtime import Runtime
from knock.web.app import KnockApp, create_api
from tests.clock import FakeClock
from tests.services.conftest import BOT, BOT_TOKEN, ROOM
from tests.services.fake_homeserver import BASE_URL, FakeHomeserver

API_KEY = "an-admin-key-long-enough"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
TROLL = "@troll:example.org"  # the user_id of the descriptions' examples
INVITEE = "@invitee:hs.test"


def _described_app() -> FastAPI:
    """The app whose /openapi.json is read (describing it starts nothing)."""
    described = load_settings(
        env_file=None,
        new_room_id=ROOM,
        matrix_base_url=BASE_URL,
        matrix_access_token=BOT_TOKEN,
        api_key=API_KEY,
    )
    return create_api(Runtime(described))


# These answer 422 to a request of the right shape whose content they cannot take: an id that
# is not a Matrix ID (nor a pattern or a server), a form without one. No JSON Schema says what a
# Matrix ID is, so a generated request may be refused there; field by field it never may be.
SAYS_WHAT_IT_REFUSES = [
    "/rescind_invite",
    "/block_user",
    "/unblock_user",
    "/allow_user",
    "/unallow_user",
    "/invite_from_form",
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 14,
        "generation": {
            # Knock ignores query parameters and headers it does not know, as HTTP APIs do.
            "allow-extra-parameters": False,
            # Every request carries the right key (what a wrong one or none gets is checked by
            # sending it again without).
            "with-security-parameters": False,
        },
        "operations": [
            {
                "include-path": SAYS_WHAT_IT_REFUSES,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx",
                            "3xx",
                            "401",
                            "403",
                            "404",
                            "409",
                            "422",
                            "429",
                        ]
                    }
                },
            }
        ],
    }
)

schema = schemathesis.openapi.from_asgi("/openapi.json", _described_app(), config=CONFIG)


def valid_requests_pass_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A request the description calls valid is never refused field by field (FastAPI's list
    of fields at fault): only for what it says, in a sentence."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422 and isinstance(response.json().get("detail"), list):
        raise AssertionError(f"A valid request was refused field by field: {response.text[:300]}")
    return None


class _Foreground(Runtime):
    """The runtime as the app's lifespan starts it, without the background loops (the fake
    clock would spin them)."""

    async def start(self, *, background: bool = True) -> None:
        await super().start(background=False)


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": API_KEY}


@pytest.fixture
def app(settings: Settings, clock: FakeClock, homeserver: FakeHomeserver) -> KnockApp:
    """Knock for a room with a member and an invitee: the descriptions' example id is the
    member, so blocking or rescinding it acts in the room."""
    homeserver.join(homeserver.add_user(TROLL, "Troll"), ROOM)
    homeserver.add_user(INVITEE)
    homeserver.set_membership(ROOM, INVITEE, "invite", by=BOT)
    return KnockApp(_Foreground(settings, clock=clock, transport=homeserver.transport))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    # One Knock serves every example of an operation, as a server serves every caller.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_answer_is_one_the_description_gives(case: schemathesis.Case, app: KnockApp) -> None:
    case.call_and_validate(
        app=app, headers=AUTH, additional_checks=[valid_requests_pass_validation]
    )
