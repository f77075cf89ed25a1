"""Intake security on the real test Synapse: a signature binds its platform, browsers and HTML
forms never need the token and are limited per address, and open intake is a choice."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from knock.core.knocks import NewKnock
from knock.core.lifecycle import State
from knock.store.engine import make_engine
from knock.store.migrate import migrate
from knock.store.schema import knocks, state_values
from knock_testing.signing import sign_tally
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    BROWSER,
    DATABASE,
    FIXTURE_SECRET,
    FIXTURES,
    ROOT,
    WITH_TOKEN,
    KnockUnderTest,
    eventually,
    invited,
    knock_row_before_doors,
    knock_settings,
    migrate_to_before,
    process_env,
    start_knock,
)

UNSIGNED_KNOCKS = "intake.unsigned_knocks_before_upgrade"


def heyform(user_id: str) -> dict[str, Any]:
    """HeyForm's sample for `user_id`, with a submission id of its own."""
    sample: dict[str, Any] = json.loads((FIXTURES / "heyform.json").read_bytes())
    sample["id"] = uuid.uuid4().hex
    sample["answers"][0]["value"] = user_id
    return sample


def jotform(user_id: str, boundary: str = "knock-boundary") -> tuple[bytes, dict[str, str]]:
    """A Jotform delivery for `user_id`: multipart, answers in `rawRequest`."""
    raw = json.dumps({"q3_matrixId": user_id, "q4_website": ""})
    parts = {"formID": "1", "submissionID": uuid.uuid4().hex, "rawRequest": raw}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in parts.items()
    )
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def stored(knock: KnockUnderTest) -> int:
    async with knock.runtime.store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(knocks))).scalar_one())


async def warnings_in_readyz(knock: KnockUnderTest) -> list[str]:
    details = (await knock.http.get("/readyz", headers=knock.admin)).json()["details"]
    return [warning["code"] for warning in details["warnings"]]


# --- 1. A signature binds its platform ---------------------------------------------------------


async def test_a_tally_signed_body_resent_as_a_form_invites_nobody_it_names(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    person, victim = make_user("signed"), make_user("victim")
    sample = json.loads((FIXTURES / "tally.json").read_bytes())
    sample["data"]["submissionId"] = uuid.uuid4().hex
    fields = sample["data"]["fields"]
    fields[1]["value"] = person.user_id
    fields[0]["value"] = f"Alice&matrix_id={victim.user_id}&x="  # a free-text answer
    body = json.dumps(sample).encode()
    signed = {"Tally-Signature": sign_tally(body, FIXTURE_SECRET)}
    settings = knock_settings(tmp_path, synapse, bot, private_room)
    knock = await start_knock(settings)
    try:
        as_json = await knock.http.post(
            "/invite_from_form",
            content=body,
            headers={**signed, "Content-Type": "application/json"},
        )
        as_form = [
            await knock.http.post(
                "/invite_from_form", content=body, headers={**signed, "Content-Type": form}
            )
            for form in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x&")
        ]
        await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
        count = await stored(knock)
    finally:
        await knock.stop()

    assert as_json.status_code == 202
    assert [answer.status_code for answer in as_form] == [415, 415]
    assert "application/json" in as_form[0].json()["detail"]
    assert count == 1  # only the Tally delivery itself
    assert victim.user_id not in synapse.members(bot, private_room, "invite")


# --- 2. Per-address callers are limited and never need the token -----------------------------


async def test_six_tokenless_html_posts_from_one_address_give_three_invites_and_three_429s(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    people = [make_user("html") for _ in range(6)]
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="3/1h", limit_per_user="off"
    )
    knock = await start_knock(settings)
    try:
        answers = [
            await knock.http.post("/invite_from_form", data={"matrix_id": person.user_id})
            for person in people
        ]
        for person in people[:3]:
            await eventually(
                lambda p=person: invited(synapse, bot, private_room, p.user_id), what="invite"
            )

        async def recorded() -> list[tuple[State, str | None]] | None:
            # The invite shows in the room a moment before Knock records it: wait for both.
            found = [await knock.knock_state(a.json()["knock_id"]) for a in answers[:3]]
            return found if all(state is State.INVITED for state, _ in found) else None

        states = await eventually(recorded, what="the three invites recorded")
    finally:
        await knock.stop()

    assert [answer.status_code for answer in answers] == [202, 202, 202, 429, 429, 429]
    assert all(int(answer.headers["Retry-After"]) > 0 for answer in answers[3:])
    assert states == [(State.INVITED, None)] * 3
    pending = synapse.members(bot, private_room, "invite")
    assert [person.user_id in pending for person in people] == [True] * 3 + [False] * 3


async def test_a_browser_is_per_address_even_with_the_token_which_is_reported_once(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="1/1h", limit_per_user="off"
    )
    knock = await start_knock(settings, background=False)
    try:
        with caplog.at_level(logging.WARNING):
            answers = [
                await knock.http.post(
                    "/invite_from_form",
                    json={"matrix_id": f"@browser{n}:{synapse.server_name}"},
                    headers={**BROWSER, **WITH_TOKEN},
                )
                for n in range(2)
            ]
            # Without Origin, the same JSON with the token is a script: server-to-server.
            scripts = [
                await knock.http.post(
                    "/invite_from_form",
                    json={"matrix_id": f"@script{n}:{synapse.server_name}"},
                    headers=WITH_TOKEN,
                )
                for n in range(2)
            ]
            quiet = await knock.http.post(
                "/invite_from_form", json={"matrix_id": "not an id at all"}, headers=WITH_TOKEN
            )
    finally:
        await knock.stop()

    assert [a.status_code for a in answers] == [202, 429]
    assert [a.status_code for a in scripts] == [202, 202]
    assert quiet.status_code == 202  # a server-to-server caller hears the platform's answer
    published = [r for r in caplog.records if "rotate WEBHOOK_TOKEN" in r.getMessage()]
    assert len(published) == 1
    assert settings.webhook_token is not None
    assert settings.webhook_token.get_secret_value() not in caplog.text


async def test_jotform_multipart_with_the_token_is_server_to_server(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="1/1h", limit_per_user="off"
    )
    knock = await start_knock(settings, background=False)
    try:
        answers = []
        for n in range(3):
            body, headers = jotform(f"@jotform{n}:{synapse.server_name}")
            answers.append(
                await knock.http.post(
                    "/invite_from_form", content=body, headers={**headers, **WITH_TOKEN}
                )
            )
        sources = [
            (await knock.runtime.store.get_knock(a.json()["knock_id"])).source  # type: ignore[union-attr]
            for a in answers
        ]
    finally:
        await knock.stop()

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert sources == ["jotform"] * 3


@pytest.mark.parametrize("shape", ["heyform", "generic", "tally-shaped"])
async def test_platform_shaped_json_without_the_token_is_401_and_stores_nothing(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, shape: str
) -> None:
    user_id = f"@{shape}:{synapse.server_name}"
    payload: dict[str, Any] = {
        "heyform": heyform(user_id),
        "generic": {"matrix_id": user_id},
        "tally-shaped": json.loads((FIXTURES / "tally.json").read_bytes()),
    }[shape]
    settings = knock_settings(tmp_path, synapse, bot, private_room)
    knock = await start_knock(settings, background=False)
    try:
        answer = await knock.http.post("/invite_from_form", json=payload)
        with_token = await knock.http.post("/invite_from_form", json=payload, headers=WITH_TOKEN)
        count = await stored(knock)
    finally:
        await knock.stop()

    assert answer.status_code == 401
    assert "WEBHOOK_TOKEN" in answer.json()["detail"]
    # The token admits a platform without a secret of its own, never one that signs.
    assert with_token.status_code == (401 if shape == "tally-shaped" else 202)
    assert count == (0 if shape == "tally-shaped" else 1)


# --- 3. Open intake is a choice ----------------------------------------------------------------


async def test_with_no_secret_and_no_token_knock_starts_warns_and_refuses_unsigned_json(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person, html_person = make_user("unsigned"), make_user("form")
    secrets_off: dict[str, Any] = {
        "webhook_token": None,
        "tally_signing_secret": None,
        "typeform_secret": None,
        "limit_per_ip": "2/1h",  # the HTML form takes one, the unsigned JSON the other
    }
    closed = knock_settings(tmp_path, synapse, bot, private_room, **secrets_off)
    with caplog.at_level(logging.WARNING):
        knock = await start_knock(closed)
    try:
        refused = await knock.http.post("/invite_from_form", json=heyform(person.user_id))
        form = await knock.http.post("/invite_from_form", data={"matrix_id": html_person.user_id})
        await eventually(lambda: invited(synapse, bot, private_room, html_person.user_id))
        closed_warnings = await warnings_in_readyz(knock)
    finally:
        await knock.stop()
    started = caplog.text

    opened = knock_settings(
        tmp_path, synapse, bot, private_room, allow_unsigned_webhooks=True, **secrets_off
    )
    knock = await start_knock(opened)
    try:
        accepted = await knock.http.post("/invite_from_form", json=heyform(person.user_id))
        await eventually(lambda: invited(synapse, bot, private_room, person.user_id))
        # ... as a per-address caller: the same address is limited.
        limited = await knock.http.post("/invite_from_form", json=heyform("@other:example.org"))
        open_warnings = await warnings_in_readyz(knock)
    finally:
        await knock.stop()

    assert refused.status_code == 401 and "WEBHOOK_TOKEN" in refused.json()["detail"]
    assert form.status_code == 202  # HTML forms work either way
    assert "ALLOW_UNSIGNED_WEBHOOKS" in started
    assert closed_warnings == ["unsigned_intake"]
    assert accepted.status_code == 202
    assert limited.status_code == 429
    assert open_warnings == ["unsigned_webhooks_allowed"]


async def test_an_upgrade_keeps_a_running_unsigned_form_working_until_the_operator_chooses(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = make_user("upgrade")
    await _database_from_before_the_upgrade(monkeypatch)
    secrets_off: dict[str, Any] = {
        "webhook_token": None,
        "tally_signing_secret": None,
        "typeform_secret": None,
    }

    with caplog.at_level(logging.WARNING):
        knock = await start_knock(
            knock_settings(tmp_path, synapse, bot, private_room, **secrets_off)
        )
    try:
        still_open = await knock.http.post("/invite_from_form", json=heyform(person.user_id))
        await eventually(lambda: invited(synapse, bot, private_room, person.user_id))
        upgraded_warnings = await warnings_in_readyz(knock)
    finally:
        await knock.stop()
    doctor = _doctor(tmp_path, synapse, bot, private_room)

    # The operator sets a token: that ends it, even once the token is taken away again.
    chosen = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        **{**secrets_off, "webhook_token": "a-new-long-webhook-token"},
    )
    await (await start_knock(chosen, background=False)).stop()
    knock = await start_knock(
        knock_settings(tmp_path, synapse, bot, private_room, **secrets_off), background=False
    )
    try:
        closed = await knock.http.post("/invite_from_form", json=heyform("@late:example.org"))
    finally:
        await knock.stop()

    assert still_open.status_code == 202
    assert upgraded_warnings == ["unsigned_knocks_in_database"]
    assert "The database holds knocks accepted without a signature or token" in caplog.text
    assert "The database holds knocks accepted without a signature or token" in doctor
    assert closed.status_code == 401


async def _database_from_before_the_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database migrated as the version before signed intake left it, with a HeyForm knock."""
    engine = make_engine(DATABASE.url)
    try:
        await migrate_to_before(engine, monkeypatch, UNSIGNED_KNOCKS)
        old = NewKnock(
            knock_id=uuid.uuid4().hex,
            user_id="@earlier:example.org",
            requested_id="@earlier:example.org",
            state=State.INVITED,
            reason=None,
            source="heyform",
            submission_key="heyform:earlier",
            ip_hash=None,
            answers=None,
        )
        async with engine.begin() as conn:
            await conn.execute(insert(knocks).values(knock_row_before_doors(old, 1_000_000.0)))
        await migrate(engine)
        async with engine.connect() as conn:
            marked = (
                await conn.execute(
                    select(state_values.c.value).where(state_values.c.key == UNSIGNED_KNOCKS)
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    assert marked == "true"


def _doctor(tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room: str) -> str:
    """Run `knock doctor` as an operator would, with no secret and no token; return stderr."""
    env = process_env(tmp_path, synapse, bot, room, WEBHOOK_TOKEN="")
    done = subprocess.run(
        [sys.executable, "-m", "knock", "doctor"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


# --- Addresses ---------------------------------------------------------------------------------


async def test_an_untrusted_x_forwarded_for_is_said_once_and_callers_share_the_peer_address(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="1/1h", limit_per_user="off"
    )
    knock = await start_knock(settings, background=False)
    try:
        with caplog.at_level(logging.WARNING):
            answers = [
                await knock.http.post(
                    "/invite_from_form",
                    data={"matrix_id": f"@xff{n}:{synapse.server_name}"},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
                for n in range(3)
            ]
    finally:
        await knock.stop()

    assert [a.status_code for a in answers] == [202, 429, 429]
    said = [r for r in caplog.records if "not in TRUSTED_PROXIES" in r.getMessage()]
    assert len(said) == 1
    assert "198.51.100" not in caplog.text  # no caller's address in the logs


async def test_an_ipv6_caller_is_limited_by_its_64(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="1/1h", limit_per_user="off"
    )
    knock = await start_knock(settings, background=False)

    async def post(client: str, n: int) -> int:
        transport = httpx.ASGITransport(app=knock.http._transport.app, client=(client, 5000))  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url="http://knock.test") as http:
            answer = await http.post(
                "/invite_from_form", data={"matrix_id": f"@v6n{n}:{synapse.server_name}"}
            )
            return answer.status_code

    try:
        same_64 = [await post("2001:db8:1:2::1", 0), await post("2001:db8:1:2:ffff::9", 1)]
        next_64 = await post("2001:db8:1:3::1", 2)
    finally:
        await knock.stop()

    assert same_64 == [202, 429]
    assert next_64 == 202


async def test_a_browser_cannot_take_a_scripts_submission_id_before_it(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    person = make_user("script")
    settings = knock_settings(tmp_path, synapse, bot, private_room)
    knock = await start_knock(settings)
    try:
        squatter = await knock.http.post(
            "/invite_from_form",
            json={"matrix_id": f"@squatter:{synapse.server_name}", "submission_id": "row-17"},
            headers=BROWSER,
        )
        script = await knock.http.post(
            "/invite_from_form",
            json={"matrix_id": person.user_id, "submission_id": "row-17"},
            headers=WITH_TOKEN,
        )
        await eventually(lambda: invited(synapse, bot, private_room, person.user_id))
    finally:
        await knock.stop()

    assert squatter.status_code == script.status_code == 202
    assert script.json()["knock_id"] != squatter.json()["knock_id"]
