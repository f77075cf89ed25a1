"""Signing in to the console with Matrix: a link sent to a moderator by direct message.

A moderator has power level 50 or more in the room Knock serves (there is no moderation room
here); `@pat` has joined with none. The fake homeserver stands in for Synapse so that the clock
can be moved past a link's ten minutes and the homeserver's calls can be counted; the browser
tests do the same flow on a real Synapse.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from knock.core.lifecycle import State
from knock.services.compose import Services
from knock.services.console.links import LINK_TTL
from knock.services.runtime import Runtime
from knock.store import Store
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM, KnockState, Submit, drain
from tests.services.console import KEY, form_token
from tests.services.fake_homeserver import SERVER, FakeHomeserver

PUBLIC_URL = "https://knock.example.org/prefix"
MOD = f"@mod:{SERVER}"
PAT = f"@pat:{SERVER}"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/console/link/([A-Za-z0-9_-]+)")
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "public_url": PUBLIC_URL, "repair_action": "review"}


@pytest.fixture(autouse=True)
def people(homeserver: FakeHomeserver) -> None:
    for user_id in (MOD, PAT):
        homeserver.add_user(user_id)
        homeserver.join(user_id, ROOM)
    levels = {"users": {BOT: 100, MOD: 50}, "users_default": 0}
    homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", levels)


async def ask(http: httpx.AsyncClient, user_id: str) -> httpx.Response:
    return await http.post("/console/sign-in-link", data={"matrix_id": user_id}, headers=SAME_SITE)


def links_sent_to(homeserver: FakeHomeserver, user_id: str) -> list[str]:
    """The sign-in links in the bot's direct chats with a person, oldest first."""
    rooms = [
        room_id
        for room_id, room in homeserver.rooms.items()
        if room.membership(user_id) == "invite" and room.membership(BOT) == "join"
    ]
    bodies = [m["content"]["body"] for room in rooms for m in homeserver.messages(room)]
    return [found[1] for body in bodies if (found := LINK.search(body))]


def path_of(token: str) -> str:
    return f"/console/link/{token}"


async def signed_in_as(http: httpx.AsyncClient) -> str | None:
    page = await http.get("/console/")
    found = re.search(r"Signed in as <strong>([^<]+)</strong>", page.text)
    return found[1] if found else None


async def test_asking_reads_the_same_for_anyone_and_only_a_moderator_gets_a_link(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    answers = {user_id: await ask(http, user_id) for user_id in (MOD, PAT, f"@nobody:{SERVER}")}
    assert {answer.status_code for answer in answers.values()} == {200}
    texts = {answer.text.replace(user_id, "@ID") for user_id, answer in answers.items()}
    assert len(texts) == 1, "the answer tells a moderator from anyone else"
    assert "If @ID may moderate, a sign-in link is on its way" in texts.pop()
    assert not homeserver.calls("send"), "the link must be sent after the answer, by a job"

    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    assert links_sent_to(homeserver, PAT) == []
    assert len(homeserver.calls("create_room")) == 1


async def test_a_non_moderator_costs_the_homeserver_nothing(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await ask(http, MOD)
    await drain(services)  # the room's power levels are read once, and kept
    before = len(homeserver.requests)
    for _ in range(3):
        await ask(http, PAT)
    await drain(services)
    assert [call.endpoint for call in homeserver.requests[before:]] == []


async def test_the_link_signs_in_once_and_actions_name_the_moderator(
    http: httpx.AsyncClient,
    services: Services,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    store: Store,
    runtime: Runtime,
) -> None:
    held = await submit(f"@newcomer:{SERVER}", typed=f"newcomer:{SERVER}")
    assert (await knock_state(held.knock_id))[0] is State.REVIEW
    await ask(http, MOD)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)

    # A chat client's preview fetches the link: it shows a button and uses nothing up.
    for _ in range(2):
        preview = await http.get(path_of(token))
        assert preview.status_code == 200
        assert '<button type="submit">Sign in</button>' in preview.text
        assert preview.headers["Referrer-Policy"] == "no-referrer"
        assert preview.headers["Cache-Control"] == "no-store"
    assert await signed_in_as(http) is None

    signed = await http.post(path_of(token), headers=SAME_SITE)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/"
    assert await signed_in_as(http) == MOD

    page = await http.get("/console/review")
    approved = await http.post(
        f"/console/review/{held.knock_id}/approve",
        data={"csrf": form_token(page.text)},
    )
    assert approved.status_code == 303
    actors = [str(line.actor) for line in await store.history(held.knock_id)]
    assert "console:@mod:hs.test" in actors

    # Used once: a second browser gets nothing from it.
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 2))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as other:
        again = await other.post(path_of(token), headers=SAME_SITE)
        assert again.status_code == 410
        assert "This sign-in link no longer works" in again.text
        assert (await other.get(path_of(token))).status_code == 410
        assert await signed_in_as(other) is None


async def test_a_link_expires_after_ten_minutes(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await ask(http, MOD)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    clock.advance(LINK_TTL + 1)
    assert (await http.get(path_of(token))).status_code == 410
    assert (await http.post(path_of(token), headers=SAME_SITE)).status_code == 410
    assert await signed_in_as(http) is None


async def test_a_link_from_another_site_is_refused_and_stays_usable(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await ask(http, MOD)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    forged = await http.post(path_of(token), headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    assert await signed_in_as(http) is None
    assert (await http.post(path_of(token), headers=SAME_SITE)).status_code == 303


async def test_a_demoted_moderator_loses_the_console_at_the_next_click(
    http: httpx.AsyncClient,
    services: Services,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    await services.live.run_once(timeout_ms=0)  # the live view's starting point
    held = await submit(f"@newcomer:{SERVER}", typed=f"newcomer:{SERVER}")
    await ask(http, MOD)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    await http.post(path_of(token), headers=SAME_SITE)
    page = await http.get("/console/review")
    csrf = form_token(page.text)

    levels = {"users": {BOT: 100, MOD: 0}, "users_default": 0}
    homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", levels)
    await services.live.run_once(timeout_ms=0)
    before = len(homeserver.requests)

    refused = await http.post(f"/console/review/{held.knock_id}/approve", data={"csrf": csrf})
    assert refused.status_code == 303
    assert refused.headers["location"] == "/console/"  # the sign-in page
    assert (await knock_state(held.knock_id))[0] is State.REVIEW
    assert await signed_in_as(http) is None
    assert homeserver.requests[before:] == [], "the check must not ask the homeserver"


async def test_leaving_the_room_ends_the_moderators_sessions(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver, store: Store
) -> None:
    await services.live.run_once(timeout_ms=0)
    await ask(http, MOD)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    await http.post(path_of(token), headers=SAME_SITE)
    assert await signed_in_as(http) == MOD

    homeserver.leave(MOD, ROOM)
    await services.live.run_once(timeout_ms=0)
    assert await store.console.end_sessions_of("console:@mod:hs.test") == 0  # already ended
    assert await signed_in_as(http) is None


async def test_limits_per_address_and_per_account(
    http: httpx.AsyncClient,
    services: Services,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    runtime: Runtime,
) -> None:
    # Three links an hour reach one account; more requests are answered alike and send nothing.
    for _ in range(5):
        assert (await ask(http, MOD)).status_code == 200
        await drain(services)
        clock.advance(1)
    assert len(links_sent_to(homeserver, MOD)) == 3

    # Ten requests an hour from one address; the eleventh is told to wait.
    for n in range(5):
        assert (await ask(http, f"@someone{n}:{SERVER}")).status_code == 200
    slow = await ask(http, PAT)
    assert slow.status_code == 429
    assert "Try again in 60 minutes" in slow.text
    assert 3500 < int(slow.headers["Retry-After"]) <= 3600

    # Another address may still ask.
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("198.51.100.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as elsewhere:
        assert (await ask(elsewhere, PAT)).status_code == 200


async def test_a_retried_send_makes_one_working_link(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await ask(http, MOD)
    homeserver.fail_next(1, 500, endpoint="send")
    await drain(services)
    assert links_sent_to(homeserver, MOD) == []
    clock.advance(60)
    await drain(services)
    [token] = links_sent_to(homeserver, MOD)
    assert (await http.post(path_of(token), headers=SAME_SITE)).status_code == 303


async def test_a_bad_matrix_id_is_kept_and_explained(http: httpx.AsyncClient) -> None:
    answer = await ask(http, "mod at hs.test")
    assert answer.status_code == 422
    assert "That is not a Matrix ID: write it as @name:server." in answer.text
    assert 'value="mod at hs.test"' in answer.text


async def test_the_sign_in_page_offers_both_ways(http: httpx.AsyncClient) -> None:
    page = await http.get("/console/")
    assert '<label for="matrix_id">Matrix ID</label>' in page.text
    assert "Send me a sign-in link" in page.text
    assert '<label for="api_key">API key</label>' in page.text


class TestWithoutPublicUrl:
    @pytest.fixture
    def knock_options(self) -> dict[str, Any]:
        return {"api_key": KEY}

    async def test_only_the_api_key_signs_in(
        self, http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
    ) -> None:
        page = await http.get("/console/")
        assert "Send me a sign-in link" not in page.text
        assert '<label for="api_key">API key</label>' in page.text
        assert (await ask(http, MOD)).status_code == 404
        await drain(services)
        assert links_sent_to(homeserver, MOD) == []
