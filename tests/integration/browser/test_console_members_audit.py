"""The console's Members and Audit pages in Chromium against a real Synapse.

A person knocks by the Tally webhook, is invited and joins on Synapse: Members shows them with
their knock, and Block leads to the block-list's dry run. A look-alike of an id blocked through
the admin API is held and approved in the console: Audit shows both actions with their actors.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import (
    SCANS_OFF,
    ServedKnock,
    deliver,
    serve_knock,
    settled,
    sign_in,
)


async def joined_member(
    served: ServedKnock, synapse: Sandbox, room: str, person: SandboxUser
) -> str:
    """Knock as `person`, accept the invite on Synapse, and wait for Knock to see the join."""
    knock_id = await deliver(served, person.user_id)
    await settled(served, knock_id, State.INVITED)
    synapse.join(person, room)
    await settled(served, knock_id, State.JOINED)
    return knock_id


async def blocked_by_api_and_held(served: ServedKnock, make_user: MakeUser) -> tuple[str, str]:
    """Block an id through the admin API; a look-alike's knock is held. Return both ids."""
    person = make_user("trolll")
    entry = person.user_id.replace("@trolll-", "@troll-", 1)
    api = served.knock
    answer = await api.http.post(
        "/block_user", headers=api.admin, json={"user_id": entry, "reason": "spam"}
    )
    assert answer.status_code == 200, answer.text
    knock_id = await deliver(served, person.user_id)
    assert await api.knock_state(knock_id) == (State.REVIEW, "fuzzy_match")
    return entry, person.user_id


async def test_members_with_their_knock_and_the_audit_of_an_api_block_and_a_console_approve(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    member = make_user("member")
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        knock_id = await joined_member(knock, synapse, private_room, member)
        entry, held = await blocked_by_api_and_held(knock, make_user)
        await sign_in(page, knock)

        nav = page.get_by_role("navigation", name="Console")
        await nav.get_by_role("link", name="Members").click()
        await expect(page.get_by_role("heading", name="Members")).to_be_visible()
        row = page.locator("table.cards tbody tr").filter(has_text=member.user_id)
        link = row.get_by_role("link", name=f"Knock {knock_id} of {member.user_id}")
        await expect(link).to_have_attribute("href", f"/console/knocks/{knock_id}")
        bot_row = page.locator("table.cards tbody tr").filter(has_text=bot.user_id)
        await expect(bot_row).to_contain_text("Knock's own account")
        await save_screenshot(page, "members")
        assert await axe_violations(page) == []

        # Block, by keyboard: the block-list's dry run, nothing removed yet.
        await page.get_by_role("button", name=f"Block {member.user_id}").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name=f"Block {member.user_id}?")).to_be_visible()
        await save_screenshot(page, "members-block-dry-run")
        assert await knock.knock.knock_state(knock_id) == (State.JOINED, None)  # a dry run

        # Approve the held look-alike in the console.
        await page.goto(f"{knock.console}review")
        await page.get_by_role("button", name=f"Approve {held}").click()
        await expect(page.get_by_role("status")).to_contain_text("Approved 1 knock")

        await nav.get_by_role("link", name="Audit").click()
        await expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
        rows = page.locator("table.cards tbody tr")
        approved = rows.filter(has_text="approved")
        await expect(approved).to_have_count(1)
        await expect(approved).to_contain_text(held)
        await expect(approved).to_contain_text("console:")
        block = rows.filter(has_text=entry)
        await expect(block).to_have_count(1)
        await expect(block).to_contain_text("api:admin")
        await expect(block).to_contain_text("spam")
        await save_screenshot(page, "audit")
        assert await axe_violations(page) == []

        await page.get_by_label("Actor contains").fill("api:")
        await page.get_by_label("Action", exact=True).select_option("block")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(entry)
        await save_screenshot(page, "audit-filtered")
        assert await axe_violations(page) == []


async def test_members_and_audit_on_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    page = phone_page
    member = make_user("phoner")
    async with serve_knock(tmp_path, synapse, bot, private_room, **SCANS_OFF) as knock:
        await joined_member(knock, synapse, private_room, member)
        entry, _ = await blocked_by_api_and_held(knock, make_user)
        await sign_in(page, knock)

        await page.goto(f"{knock.console}members")
        await expect(page.get_by_role("button", name=f"Block {member.user_id}")).to_be_visible()
        await save_screenshot(page, "members")
        assert await axe_violations(page) == []

        await page.goto(f"{knock.console}audit")
        await expect(page.locator("table.cards tbody tr").filter(has_text=entry)).to_be_visible()
        await save_screenshot(page, "audit")
        assert await axe_violations(page) == []
