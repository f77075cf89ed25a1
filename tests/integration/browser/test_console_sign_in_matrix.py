"""Signing in to the console with Matrix, in Chromium against a real Synapse.

A moderator (power 50 in the room Knock serves) asks for a sign-in link on the console's sign-in
page, reads the bot's direct message as themselves on Synapse, opens the link, signs in, approves
a held knock, and the knock's history names them. A member without power asks the same and gets
nothing; a link works once and not after its ten minutes; a demoted moderator loses the console.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import update

from knock.core.lifecycle import State
from knock.store.schema import sign_in_links
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import ServedKnock, serve_knock
from tests.integration.browser.test_console_knocks import bot_messages
from tests.integration.browser.test_console_review import card, hold
from tests.integration.harness import eventually, invited

POWER_LEVELS = "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/"


def set_power(synapse: Sandbox, bot: SandboxUser, room: str, user_id: str, level: int) -> None:
    """Give someone a power level in the room, as the room's creator (the bot) would."""
    path = POWER_LEVELS.format(quote(room, safe=""))
    levels = synapse.api("GET", path, user=bot).json()
    levels.setdefault("users", {})[user_id] = level
    answer = synapse.api("PUT", path, user=bot, json=levels)
    assert answer.status_code == 200, answer.text


def member(synapse: Sandbox, bot: SandboxUser, room: str, person: SandboxUser, level: int) -> None:
    synapse.invite(bot, room, person.user_id)
    synapse.join(person, room)
    if level:
        set_power(synapse, bot, room, person.user_id, level)


def invites_from(synapse: Sandbox, person: SandboxUser, bot: str) -> list[str]:
    """The rooms the bot has invited a person to and they have not answered."""
    # Synapse keeps an initial sync's answer for a while and gives it to the same request again:
    # a filter of its own (an event type nobody sends) makes each look a new request.
    unique = {"account_data": {"not_types": [f"knock.test.{uuid.uuid4().hex}"]}}
    params = {"timeout": "0", "filter": json.dumps(unique)}
    rooms = synapse.api("GET", "/_matrix/client/v3/sync", user=person, params=params)
    invites = rooms.json().get("rooms", {}).get("invite", {})
    return [
        room_id
        for room_id, room in invites.items()
        if any(e.get("sender") == bot for e in room.get("invite_state", {}).get("events", []))
    ]


async def read_link(synapse: Sandbox, person: SandboxUser, bot: SandboxUser, url: str) -> str:
    """Wait for the bot's direct message, join it as the person, and read the newest link."""
    found: list[str] = []

    def dm_invite() -> bool:
        found[:] = invites_from(synapse, person, bot.user_id)
        return bool(found)

    await eventually(dm_invite, what="the bot's direct message")
    synapse.join(person, found[0])
    pattern = re.compile(re.escape(url) + r"/console/link/[A-Za-z0-9_-]+")

    def links() -> list[str]:  # the invite comes before the message
        messages = bot_messages(synapse, person, found[0], bot.user_id)
        return [link[0] for message in messages if (link := pattern.search(message))]

    newest: list[str] = await eventually(links, what="the sign-in link in the message")
    return newest[0]


async def ask_for_link(page: Page, knock: ServedKnock, user_id: str) -> str:
    """Ask for a link on the sign-in page; return what the page says."""
    await page.goto(knock.console)
    await page.get_by_label("Matrix ID").fill(user_id)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    await expect(page.get_by_role("heading", name="Check your direct messages")).to_be_visible()
    return (await page.locator("main").inner_text()).replace(user_id, "@ID")


async def sign_in_with(page: Page, link: str) -> None:
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


async def no_link_jobs_left(knock: ServedKnock) -> None:
    store = knock.knock.runtime.store

    async def done() -> bool:
        return await store.next_job_at() is None

    await eventually(done, what="every sign-in link job to be done")


async def test_a_moderator_signs_in_with_a_link_and_the_history_names_them(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    moderator = make_user("mod")
    member(synapse, bot, private_room, moderator, 50)
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        held = await hold(knock, make_user, "trolll", "troll")

        await page.goto(knock.console)
        await save_screenshot(page, "sign-in-both-ways")
        assert await axe_violations(page) == []
        await ask_for_link(page, knock, moderator.user_id)
        await save_screenshot(page, "sign-in-link-sent")
        assert await axe_violations(page) == []

        link = await read_link(synapse, moderator, bot, knock.url)
        # A chat client's link preview fetches it: that uses nothing up.
        async with httpx.AsyncClient() as preview:
            fetched = await preview.get(link)
        assert fetched.status_code == 200
        assert fetched.headers["referrer-policy"] == "no-referrer"

        await page.goto(link)
        await save_screenshot(page, "sign-in-link")
        assert await axe_violations(page) == []
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await expect(page.get_by_text(f"Signed in as {moderator.user_id}")).to_be_visible()
        await save_screenshot(page, "signed-in-as-moderator")

        await page.get_by_role("link", name="Review 1").click()
        await card(page, held).get_by_role("button", name=f"Approve {held}").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Approved 1 knock: its invite is on the way."
        )
        await eventually(lambda: invited(synapse, bot, private_room, held), what="the invite")
        store = knock.knock.runtime.store
        [knock_row] = await store.list_knocks(user_id=held, limit=1)
        history = await store.history(knock_row.knock_id)
        assert ("approved", f"console:{moderator.user_id}") in [
            (line.event, line.actor) for line in history
        ]

        # Used once: opening it again (another browser, or the same) signs nobody in.
        await page.goto(link)
        await expect(
            page.get_by_role("heading", name="This sign-in link no longer works")
        ).to_be_visible()
        assert await axe_violations(page) == []


async def test_a_non_moderator_is_answered_alike_and_sent_nothing(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    moderator, bystander = make_user("mod"), make_user("member")
    member(synapse, bot, private_room, moderator, 50)
    member(synapse, bot, private_room, bystander, 0)
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        said_to_bystander = await ask_for_link(page, knock, bystander.user_id)
        said_to_moderator = await ask_for_link(page, knock, moderator.user_id)
        assert said_to_bystander == said_to_moderator

        await read_link(synapse, moderator, bot, knock.url)
        await no_link_jobs_left(knock)
        assert invites_from(synapse, bystander, bot.user_id) == []


async def test_an_expired_link_fails(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    page = phone_page
    moderator = make_user("mod")
    member(synapse, bot, private_room, moderator, 50)
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        await ask_for_link(page, knock, moderator.user_id)
        await save_screenshot(page, "sign-in-link-sent")
        link = await read_link(synapse, moderator, bot, knock.url)
        # Ten minutes pass: the link's expiry is moved into the past (this Knock runs on the
        # real clock; the service tests move a fake one past the ten minutes instead).
        async with knock.knock.runtime.store.engine.begin() as conn:
            await conn.execute(update(sign_in_links).values(expires_at=0))
        await page.goto(link)
        await expect(
            page.get_by_role("heading", name="This sign-in link no longer works")
        ).to_be_visible()
        await save_screenshot(page, "sign-in-link-spent")
        assert await axe_violations(page) == []


async def test_a_moderator_demoted_to_power_0_cannot_act_any_more(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    moderator = make_user("mod")
    member(synapse, bot, private_room, moderator, 50)
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        held = await hold(knock, make_user, "rnallory", "mallory")
        await ask_for_link(page, knock, moderator.user_id)
        await sign_in_with(page, await read_link(synapse, moderator, bot, knock.url))
        await page.get_by_role("link", name="Review 1").click()

        set_power(synapse, bot, private_room, moderator.user_id, 0)
        moderators = knock.knock.runtime.services.moderators

        async def demoted() -> bool:  # the live view has seen the new power levels
            return not await moderators.may_moderate(moderator.user_id)

        await eventually(demoted, what="the live view to see the demotion")
        await card(page, held).get_by_role("button", name=f"Approve {held}").click()
        await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
        [knock_row] = await knock.knock.runtime.store.list_knocks(user_id=held, limit=1)
        assert knock_row.state is State.REVIEW
        assert not invited(synapse, bot, private_room, held)
