"""The knock page in Chromium against a real Synapse: a person knocks and watches their status.

Each test serves an in-process Knock on a loopback port and drives its pages by their labels and
button names. Every page the tests visit is saved under build/screenshots, and axe-core checks
the form and the status page on a desktop and on a phone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Response, expect

from knock.services.knock_page.page import token_hash
from knock.web.app import create_api
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot, served
from tests.integration.harness import (
    ADMIN_KEY,
    KnockUnderTest,
    eventually,
    invited,
    knock_settings,
    start_knock,
)

ROOM_NAME = "The Book Club"
# How long a page may take to reach a state: an invite goes out in well under a second here.
SOON = 30_000


@asynccontextmanager
async def knock_page(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room_id: str, **overrides: Any
) -> AsyncIterator[str]:
    """A Knock with its knock page, served on a loopback port; yield the form's URL."""
    async with knock_serving(tmp_path, synapse, bot, room_id, **overrides) as (form_url, _):
        yield form_url


@asynccontextmanager
async def knock_serving(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room_id: str, **overrides: Any
) -> AsyncIterator[tuple[str, KnockUnderTest]]:
    """A Knock with its knock page, served on a loopback port: the form's URL, and the Knock."""
    questions = tmp_path / "questions.txt"
    questions.write_text("Why do you want to join?\n", encoding="utf-8")
    options: dict[str, Any] = {
        "knock_page_room_name": ROOM_NAME,
        "knock_page_description": "A friendly room for people who read.",
        "knock_page_questions_file": questions,
        **overrides,
    }
    knock = await start_knock(knock_settings(tmp_path, synapse, bot, room_id, **options))
    try:
        async with served(create_api(knock.runtime)) as base_url:
            yield f"{base_url}/knock", knock
    finally:
        await knock.stop()


async def send_knock(page: Page, form_url: str, matrix_id: str, **answers: str) -> Response:
    """Open the form, type the id (and answers), press Knock; return the answer to the post."""
    await page.goto(form_url)
    await page.get_by_label("Matrix ID").fill(matrix_id)
    for question, answer in answers.items():
        await page.get_by_label(question).fill(answer)
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Knock").click()
    response = await posted.value
    await page.wait_for_load_state()
    return response


async def json_state(url: str) -> str:
    """The status link's state as JSON, asked for as a script would (Knock runs in this loop)."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(url, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


async def reaches_state(url: str, state: str) -> None:
    async def there() -> bool:
        return await json_state(url) == state

    await eventually(there, what=f"the status link to read {state}")


async def admin(base_url: str, method: str, path: str, **options: Any) -> httpx.Response:
    """Call Knock's admin API with the key the harness sets."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        return await client.request(method, path, **options)


async def account_checked(knock: KnockUnderTest, links: list[str]) -> bool:
    """Whether Knock has the homeserver's answer about the account of every link."""
    for link in links:
        facts = await knock.runtime.store.pages.status(token_hash(link.rsplit("/", 1)[1]))
        if facts is None or facts.known is None:
            return False
    return True


@pytest.fixture(scope="session")
def look_alikes(synapse: Sandbox) -> Callable[[], tuple[str, str]]:
    """Two real accounts, registered once: one to block, one that looks like it."""
    registered: list[str] = []

    def accounts() -> tuple[str, str]:
        if not registered:
            tag = uuid.uuid4().hex[:6]
            registered.extend(
                synapse.register(name).user_id for name in (f"troll{tag}", f"tr0ll{tag}_99")
            )
        return registered[0], registered[1]

    return accounts


async def test_a_person_knocks_and_their_page_reaches_invited(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    person = make_user("reader")
    page = desktop_page
    async with knock_page(tmp_path, synapse, bot, private_room) as form_url:
        await page.goto(form_url)
        await expect(page.get_by_role("heading", name="Ask to join")).to_be_visible()
        await expect(page.get_by_text(ROOM_NAME)).to_be_visible()
        assert private_room not in await page.content()
        await save_screenshot(page, "form")
        assert await axe_violations(page) == []

        answer = await send_knock(
            page, form_url, person.user_id, **{"Why do you want to join?": "I read a lot"}
        )

        assert answer.status == 303
        status_url = page.url
        assert "/knock/" in status_url
        await expect(page.get_by_role("heading", name="You are invited")).to_be_visible(
            timeout=SOON
        )
        await expect(page.get_by_text("In Element")).to_be_visible()
        await expect(page.get_by_text("In Beeper")).to_be_visible()
        assert await json_state(status_url) == "invited"
        assert invited(synapse, bot, private_room, person.user_id)
        await save_screenshot(page, "status-invited")
        assert await axe_violations(page) == []


async def test_the_pages_pass_axe_on_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    person = make_user("phone")
    page = phone_page
    async with knock_page(tmp_path, synapse, bot, private_room) as form_url:
        await page.goto(form_url)
        await save_screenshot(page, "form")
        assert await axe_violations(page) == []
        await send_knock(page, form_url, person.user_id)
        await expect(page.get_by_role("heading", name="You are invited")).to_be_visible(
            timeout=SOON
        )
        await save_screenshot(page, "status-invited")
        assert await axe_violations(page) == []


async def test_without_javascript_the_form_works_and_the_page_refreshes(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    no_script_page: Page,
) -> None:
    person = make_user("noscript")
    page = no_script_page
    async with knock_page(tmp_path, synapse, bot, private_room) as form_url:
        answer = await send_knock(page, form_url, person.user_id)

        assert answer.status == 303
        status_url = page.url
        await reaches_state(status_url, "invited")
        # The page refreshes itself every 15 s without a script; a person may press the link.
        refresh = page.locator('noscript, meta[http-equiv="refresh"]')
        assert await refresh.count() >= 1
        await page.get_by_role("link", name="Refresh now").click()
        await expect(page.get_by_role("heading", name="You are invited")).to_be_visible()
        assert invited(synapse, bot, private_room, person.user_id)
        await save_screenshot(page, "status-invited")


async def test_an_invalid_id_is_said_as_typed_and_again_after_posting(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, desktop_page: Page
) -> None:
    page = desktop_page
    async with knock_page(tmp_path, synapse, bot, private_room) as form_url:
        await page.goto(form_url)
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        field = page.get_by_label("Matrix ID")
        await field.fill("not an id at all")
        await field.press("Tab")

        # Checked in the browser as typed: nothing went to Knock.
        await expect(page.get_by_text("A Matrix ID has no spaces")).to_be_visible()
        await expect(field).to_have_attribute("aria-invalid", "true")
        assert asked == []
        await save_screenshot(page, "typed")

        answer = await send_knock(page, form_url, "not an id at all")

        assert answer.status == 422
        await expect(page.get_by_text("That Matrix ID is not valid")).to_be_visible()
        await expect(page.get_by_label("Matrix ID")).to_have_value("not an id at all")
        await save_screenshot(page, "refused")
        assert await axe_violations(page) == []


async def test_a_rate_limited_address_gets_a_page_saying_when_to_try_again(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    async with knock_page(tmp_path, synapse, bot, private_room, limit_per_ip="2/1h") as form_url:
        statuses = [
            (await send_knock(page, form_url, make_user("many").user_id)).status for _ in range(3)
        ]

        assert statuses == [303, 303, 429]
        await expect(page.get_by_role("heading", name="Please wait a little")).to_be_visible()
        await expect(page.get_by_text("Try again in")).to_be_visible()
        await save_screenshot(page, "rate-limited")
        assert await axe_violations(page) == []


async def test_a_blocked_id_and_a_held_look_alike_read_alike(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    look_alikes: Callable[[], tuple[str, str]],
    desktop_page: Page,
) -> None:
    page = desktop_page
    blocked, look_alike = look_alikes()
    async with knock_serving(tmp_path, synapse, bot, private_room) as (form_url, knock):
        base = form_url.removesuffix("/knock")
        answer = await admin(base, "POST", "/block_user", json={"user_id": blocked})
        assert answer.status_code == 200, answer.text

        texts, links = [], []
        for user_id in (blocked, look_alike):
            assert (await send_knock(page, form_url, user_id)).status == 303
            await expect(page.get_by_role("heading", name="Request received")).to_be_visible()
            texts.append((await page.locator("main").inner_text()).replace(user_id, "ID"))
            links.append(page.url)
            await save_screenshot(page, f"received-{len(links)}")
        assert await axe_violations(page) == []
        held = (await admin(base, "GET", "/knocks", params={"user_id": look_alike})).json()
        # Both accounts were looked up on the homeserver, and both exist: still `received`.
        await eventually(
            lambda: account_checked(knock, links), what="the homeserver's answers about both"
        )
        states = [await json_state(link) for link in links]

    assert states == ["received", "received"]
    assert texts[0] == texts[1]
    assert [k["state"] for k in held["knocks"]] == ["review"]


async def test_an_unknown_account_reads_not_found_blocked_or_not(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, desktop_page: Page
) -> None:
    page = desktop_page
    made_up = f"@nobody-{uuid.uuid4().hex[:8]}:{synapse.server_name}"
    blocked_made_up = f"@made-up-{uuid.uuid4().hex[:8]}:{synapse.server_name}"
    async with knock_page(tmp_path, synapse, bot, private_room) as form_url:
        base = form_url.removesuffix("/knock")
        answer = await admin(base, "POST", "/block_user", json={"user_id": blocked_made_up})
        assert answer.status_code == 200, answer.text

        links = []
        for user_id in (made_up, blocked_made_up):
            await send_knock(page, form_url, user_id)
            links.append(page.url)
            await expect(
                page.get_by_role("heading", name="We could not find that account")
            ).to_be_visible(timeout=SOON)
            await expect(page.get_by_text(user_id)).to_be_visible()
        await save_screenshot(page, "not-found")
        assert await axe_violations(page) == []
        states = [await json_state(link) for link in links]
        await page.get_by_role("link", name="Ask again with the right ID").click()
        await expect(page.get_by_label("Matrix ID")).to_be_visible()

    assert states == ["not_found", "not_found"]


class TestProofOfWork:
    async def test_the_page_solves_it_and_the_knock_goes_through(
        self,
        tmp_path: Path,
        synapse: Sandbox,
        bot: SandboxUser,
        private_room: str,
        make_user: MakeUser,
        desktop_page: Page,
    ) -> None:
        person = make_user("pow")
        page = desktop_page
        async with knock_page(
            tmp_path, synapse, bot, private_room, knock_page_pow_bits=12
        ) as form_url:
            started = time.monotonic()
            answer = await send_knock(page, form_url, person.user_id)
            took = time.monotonic() - started

            assert answer.status == 303, await page.content()
            await expect(page.get_by_role("heading", name="You are invited")).to_be_visible(
                timeout=SOON
            )
            assert invited(synapse, bot, private_room, person.user_id)
            print(f"knock with a 12-bit proof of work: {took:.2f} s from form to status page")

    async def test_without_javascript_the_page_says_why_it_cannot_send(
        self,
        tmp_path: Path,
        synapse: Sandbox,
        bot: SandboxUser,
        private_room: str,
        make_user: MakeUser,
        no_script_page: Page,
    ) -> None:
        person = make_user("powless")
        page = no_script_page
        async with knock_page(
            tmp_path, synapse, bot, private_room, knock_page_pow_bits=12
        ) as form_url:
            await page.goto(form_url)
            await expect(page.get_by_text("This page needs JavaScript")).to_be_visible()
            await save_screenshot(page, "form")
            answer = await send_knock(page, form_url, person.user_id)

            assert answer.status == 400
            await expect(page.get_by_role("alert")).to_contain_text("turn JavaScript on")
            assert not invited(synapse, bot, private_room, person.user_id)
