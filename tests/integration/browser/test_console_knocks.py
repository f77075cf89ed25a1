"""The console's knocks, one knock, and pending invites in Chromium against a real Synapse.

Knocks arrive as Tally deliveries to the webhook and Knock invites on Synapse; a moderator then
filters the list, opens a knock, and acts on pending invites. The reminder is read as the person
would: they join the direct chat Knock opened with them and read the bot's message there.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import Page, expect

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import (
    SCANS_OFF,
    deliver,
    serve_knock,
    settled,
    sign_in,
)
from tests.integration.harness import invited


def bot_messages(synapse: Sandbox, viewer: SandboxUser, room: str, bot: str) -> list[str]:
    """The bodies of the bot's messages in a room, as `viewer` reads them."""
    params = {"dir": "b", "limit": "50", "filter": json.dumps({"types": ["m.room.message"]})}
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages"
    chunk = synapse.api("GET", path, user=viewer, params=params).json()["chunk"]
    return [str(event["content"]["body"]) for event in chunk if event["sender"] == bot]


async def test_filter_the_knocks_open_one_and_read_its_history(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    reader, writer = make_user("reader"), make_user("writer")
    stranger = f"@nobody-{uuid.uuid4().hex[:8]}:{synapse.server_name}"
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        reader_knock = await deliver(knock, reader.user_id)
        await deliver(knock, writer.user_id)
        stranger_knock = await deliver(knock, stranger)
        await settled(knock, reader_knock, State.INVITED)
        await settled(knock, stranger_knock, State.REJECTED)

        await sign_in(page, knock)
        await (
            page.get_by_role("navigation", name="Console")
            .get_by_role("link", name="Knocks")
            .click()
        )
        await expect(page.get_by_role("heading", name="Knocks", exact=True)).to_be_visible()
        rows = page.locator("table.cards tbody tr")
        await expect(rows).to_have_count(3)
        await save_screenshot(page, "knocks")
        assert await axe_violations(page) == []

        await page.get_by_label("Matrix ID or answer contains").fill(reader.user_id.upper())
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(reader.user_id)
        await expect(page.get_by_label("Matrix ID or answer contains")).to_have_value(
            reader.user_id.upper()
        )

        await page.get_by_label("Matrix ID or answer contains").fill("")
        await page.get_by_label("Reason").select_option("unknown_user")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(stranger)
        await save_screenshot(page, "knocks-filtered")
        assert await axe_violations(page) == []

        await page.get_by_role("link", name="Clear the filters").click()
        await expect(rows).to_have_count(3)
        await page.get_by_role("link", name=reader.user_id).click()
        await expect(
            page.get_by_role("heading", name=f"Knock from {reader.user_id}")
        ).to_be_visible()
        history = page.locator("table.history tbody tr")
        await expect(history.filter(has_text="invited")).to_have_count(1)
        await expect(history.first).to_contain_text("received")
        await expect(history.first).to_contain_text("form:tally")
        answers = page.locator("dl.answers")
        await expect(answers).to_contain_text("Your name")
        await expect(answers).to_contain_text("Alice")
        await save_screenshot(page, "knock-detail")
        assert await axe_violations(page) == []

        await page.goto(f"{knock.console}knocks/{stranger_knock}")
        await expect(page.locator("dl.facts")).to_contain_text("unknown_user")
        await expect(page.locator("table.history tbody tr").last).to_contain_text("rejected")
        await page.goto(f"{knock.console}knocks/no-such-knock")
        await expect(page.get_by_role("heading", name="No such knock")).to_be_visible()
        assert await axe_violations(page) == []


async def test_pending_invites_remind_now_and_rescind(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    dawdler, doubter = make_user("dawdler"), make_user("doubter")
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        for person in (dawdler, doubter):
            await settled(knock, await deliver(knock, person.user_id), State.INVITED)
        assert invited(synapse, bot, private_room, doubter.user_id)

        await sign_in(page, knock)
        await (
            page.get_by_role("navigation", name="Console")
            .get_by_role("link", name="Pending invites")
            .click()
        )
        await expect(page.get_by_role("heading", name="Pending invites")).to_be_visible()
        rows = page.locator("table.invites tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("Not yet: due")
        await save_screenshot(page, "invites")
        assert await axe_violations(page) == []

        await page.get_by_role("button", name=f"Remind now {dawdler.user_id}").click()
        await expect(page.get_by_role("status")).to_have_text("The reminder was sent.")
        dawdler_row = rows.filter(has_text=dawdler.user_id)
        await expect(dawdler_row).to_contain_text("Sent")
        await expect(dawdler_row.get_by_role("button", name="Remind now")).to_have_count(0)

        await page.get_by_role("button", name=f"Rescind the invite of {doubter.user_id}").click()
        await expect(page.get_by_role("status")).to_have_text("The invite was rescinded.")
        await expect(rows).to_have_count(1)
        await save_screenshot(page, "invites-after")
        assert await axe_violations(page) == []
        assert not invited(synapse, bot, private_room, doubter.user_id)

        # The person reads the reminder in the direct chat Knock opened with them.
        dm = await knock.knock.runtime.services.direct_chats.room_with(dawdler.user_id)
    synapse.join(dawdler, dm)
    [reminder] = bot_messages(synapse, dawdler, dm, bot.user_id)
    assert "your invite is still waiting" in reminder


async def test_the_pages_on_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    page = phone_page
    person = make_user("phoner")
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        knock_id = await deliver(knock, person.user_id)
        await settled(knock, knock_id, State.INVITED)
        await sign_in(page, knock)

        await page.goto(f"{knock.console}knocks")
        await expect(page.get_by_role("link", name=person.user_id)).to_be_visible()
        await save_screenshot(page, "knocks")
        assert await axe_violations(page) == []

        await page.get_by_role("link", name=person.user_id).click()
        await expect(
            page.get_by_role("heading", name=f"Knock from {person.user_id}")
        ).to_be_visible()
        await save_screenshot(page, "knock-detail")
        assert await axe_violations(page) == []

        await page.goto(f"{knock.console}invites")
        await expect(
            page.get_by_role("button", name=f"Remind now {person.user_id}")
        ).to_be_visible()
        await save_screenshot(page, "invites")
        assert await axe_violations(page) == []


async def test_the_filters_and_buttons_answer_the_keyboard(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    person = make_user("typist")
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        await settled(knock, await deliver(knock, person.user_id), State.INVITED)
        await sign_in(page, knock)
        await page.goto(f"{knock.console}knocks")

        search = page.get_by_label("Matrix ID or answer contains")
        await search.focus()
        await page.keyboard.type("no such person")
        await page.keyboard.press("Enter")
        await expect(page.get_by_text("No knock matches these filters.")).to_be_visible()
        outline = await search.evaluate(
            "(e) => { e.focus(); return getComputedStyle(e).outlineStyle }"
        )
        assert outline != "none"

        await page.goto(f"{knock.console}invites")
        remind = page.get_by_role("button", name=f"Remind now {person.user_id}")
        await remind.focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text("The reminder was sent.")
