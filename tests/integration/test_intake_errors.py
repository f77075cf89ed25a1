"""Bad deliveries get a clear 4xx (never a 404, 410 or 500) and lose nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from knock.core.lifecycle import State
from knock_testing.signing import sign_typeform
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    BROWSER,
    FIXTURE_SECRET,
    FIXTURES,
    WITH_TOKEN,
    KnockUnderTest,
    knock_settings,
    start_knock,
    tally_delivery,
)

JSON_WITH_TOKEN = {"Content-Type": "application/json", **WITH_TOKEN}


@pytest.fixture
async def knock(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> AsyncIterator[KnockUnderTest]:
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        max_body_bytes=4096,
        form_redirect_url="https://example.org/thanks",
    )
    instance = await start_knock(settings, background=False)
    yield instance
    await instance.stop()


async def test_malformed_json_is_400(knock: KnockUnderTest) -> None:
    answer = await knock.http.post(
        "/invite_from_form", content=b'{"matrix_id": ', headers=JSON_WITH_TOKEN
    )
    assert answer.status_code == 400
    assert answer.json()["detail"]


async def test_an_unsupported_content_type_is_415(knock: KnockUnderTest) -> None:
    answer = await knock.http.post(
        "/invite_from_form", content=b"@a:b", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415


async def test_a_body_over_max_body_bytes_is_413(knock: KnockUnderTest) -> None:
    answer = await knock.http.post(
        "/invite_from_form", json={"matrix_id": "@a:example.org", "padding": "x" * 5000}
    )
    assert answer.status_code == 413
    assert "MAX_BODY_BYTES" in answer.json()["detail"]


async def test_a_form_without_a_matrix_id_field_is_422_saying_how_to_fix_it(
    knock: KnockUnderTest,
) -> None:
    answer = await knock.http.post(
        "/invite_from_form", json={"name": "Alice", "colour": "blue"}, headers=WITH_TOKEN
    )
    assert answer.status_code == 422
    assert "MATRIX_ID_FIELD" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("how", "headers"),
    [("a browser", BROWSER), ("an HTML form", {})],
)
async def test_a_per_address_caller_is_told_what_is_wrong_with_the_id(
    knock: KnockUnderTest, how: str, headers: dict[str, str]
) -> None:
    if how == "a browser":
        answer = await knock.http.post(
            "/invite_from_form", json={"matrix_id": "@alice:bad_server!"}, headers=headers
        )
    else:
        answer = await knock.http.post(
            "/invite_from_form", data={"matrix_id": "@alice:bad_server!"}
        )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("That Matrix ID is not valid:")
    assert await knock.knock_state(answer.json()["knock_id"]) == (State.REJECTED, "invalid_id")


async def test_a_script_with_the_token_gets_202_for_an_invalid_id_as_platforms_do(
    knock: KnockUnderTest,
) -> None:
    answer = await knock.http.post(
        "/invite_from_form", json={"matrix_id": "@alice:bad_server!"}, headers=WITH_TOKEN
    )
    assert answer.status_code == 202
    assert await knock.knock_state(answer.json()["knock_id"]) == (State.REJECTED, "invalid_id")


async def test_a_platform_gets_202_for_an_invalid_id_and_the_reason_is_recorded(
    knock: KnockUnderTest,
) -> None:
    body, headers = tally_delivery("@alice:bad_server!", submission_id="invalid")
    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202
    assert set(answer.json()) == {"status", "knock_id"}
    assert await knock.knock_state(answer.json()["knock_id"]) == (State.REJECTED, "invalid_id")


async def test_a_typeform_partial_response_is_acknowledged_and_ignored(
    knock: KnockUnderTest,
) -> None:
    sample = json.loads((FIXTURES / "typeform.json").read_bytes())
    sample["event_type"] = "form_response_partial"
    body = json.dumps(sample).encode()
    signature = sign_typeform(body, FIXTURE_SECRET)
    answer = await knock.http.post(
        "/invite_from_form",
        content=body,
        headers={"Content-Type": "application/json", "Typeform-Signature": signature},
    )
    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored"}


async def test_an_html_form_post_is_redirected_to_form_redirect_url(
    knock: KnockUnderTest, make_user: MakeUser
) -> None:
    person = make_user("html")
    answer = await knock.http.post(
        "/invite_from_form", data={"matrix_id": person.user_id, "website": ""}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://example.org/thanks"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00",
        b"[]",
        b'"text"',
        b'{"matrix_id": 7}',
        b'{"fields": {"a": [1, {"b": null}]}}',
    ],
)
async def test_odd_bodies_never_give_a_server_error_or_a_404(
    knock: KnockUnderTest, body: bytes
) -> None:
    answer = await knock.http.post("/invite_from_form", content=body, headers=JSON_WITH_TOKEN)
    assert 200 <= answer.status_code < 500
    assert answer.status_code not in (404, 410)
    assert "Traceback" not in answer.text
