"""The console's block-list page in Chromium against a real Synapse.

A member knocked in and joined is blocked from the page (a dry run naming them first, then the
go-ahead) and leaves the room on Synapse; the check box explains a look-alike of them; a
catch-all is refused beside its field. axe-core checks every state on a desktop and a phone.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from knock.store import StoredEntry
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import ServedKnock, serve_knock, sign_in
from tests.integration.harness import eventually, invited, tally_delivery

SOON = 30_000  # ms a page may take to reach a state


async def knock_in(
    served: ServedKnock, synapse: Sandbox, bot: SandboxUser, room_id: str, person: SandboxUser
) -> None:
    """The person knocks through a form, Knock invites them, and they join the room."""
    body, headers = tally_delivery(person.user_id, submission_id=person.user_id)
    answer = await served.knock.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    await eventually(lambda: invited(synapse, bot, room_id, person.user_id), what="the invite")
    synapse.join(person, room_id)


async def open_blocklist(page: Page, served: ServedKnock) -> None:
    await sign_in(page, served)
    await page.get_by_role("link", name="Block-list").click()
    await expect(page.get_by_role("heading", name="Block-list", exact=True)).to_be_visible()


async def test_blocking_a_member_from_the_page_removes_them_on_synapse(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    member = make_user("trollking")
    async with serve_knock(tmp_path, synapse, bot, private_room) as served:
        await knock_in(served, synapse, bot, private_room, member)
        await open_blocklist(page, served)
        await save_screenshot(page, "empty")
        assert await axe_violations(page) == []

        await page.get_by_label("Matrix ID or pattern", exact=True).fill(member.user_id)
        await page.get_by_label("Reason (optional)").fill("trolling in the book club")
        await page.get_by_role("button", name="Block", exact=True).click()

        await expect(page.get_by_role("heading", name=f"Block {member.user_id}?")).to_be_visible()
        members = page.locator("#removed")
        await expect(members).to_have_text(member.user_id)
        await expect(page.get_by_text("Nothing has changed yet")).to_be_visible()
        assert synapse.members(bot, private_room).get(member.user_id) == "join"
        await save_screenshot(page, "dry-run")
        assert await axe_violations(page) == []

        await page.get_by_role("button", name="Block", exact=True).click()

        await expect(page.get_by_role("status")).to_contain_text("Blocked.")
        leave = synapse.member_events(bot, private_room, member.user_id)[-1]
        assert leave["content"]["membership"] == "leave"
        assert leave["content"].get("reason") == served.knock.runtime.settings.kick_reason
        row = page.get_by_role("row").filter(has_text=member.user_id)
        await expect(row).to_contain_text("trolling in the book club")
        await expect(row).to_contain_text("console:api-key")
        await expect(row).to_contain_text("active")

        local, server = member.user_id.split(":", 1)
        look_alike = local.replace("o", "0").replace("i", "1") + ":" + server
        await page.get_by_label("Matrix ID to check").fill(look_alike)
        await page.get_by_label("Matrix ID to check").press("Enter")

        result = page.locator("#check-result")
        await expect(result).to_contain_text(f"Verdict for {look_alike}")
        await expect(result).to_contain_text("Blocked: a knock from this id is refused.")
        await expect(result).to_contain_text(
            f"It is the same name, written differently, as {member.user_id} (from console:api-key)"
        )
        await expect(result).to_contain_text("0->o")
        await save_screenshot(page, "check")
        assert await axe_violations(page) == []

        await row.get_by_role("button", name=f"Unblock {member.user_id}").click()
        await expect(page.get_by_role("status")).to_contain_text("Unblocked.")
        await expect(page.get_by_text("Nobody is blocked by a moderator's entry.")).to_be_visible()


async def test_the_page_on_a_phone_by_keyboard_with_a_refused_catch_all(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    page = phone_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as served:
        blocklist = served.knock.runtime.services.blocklist
        server = synapse.server_name
        await blocklist.add(blocklist.entry_for(f"@spam*:{server}", reason="spam", source="cli"))
        await blocklist.hold(blocklist.entry_for("evil.example", reason="a wave", source="file"))
        await blocklist.add(blocklist.entry_for(f"@spamfighter:{server}", allow=True))
        origin = f"policy:!policies:{server}"
        now = served.knock.runtime.clock.now()
        rule = StoredEntry("@evader*:*", False, origin, origin, "ban evasion", now)
        await served.knock.runtime.store.blocklist.add(rule)
        await blocklist.load()
        await open_blocklist(page, served)
        await expect(page.get_by_role("button", name="Confirm evil.example")).to_be_visible()
        policy = page.get_by_role("region", name="From policy rooms")
        await expect(policy.get_by_role("row").filter(has_text="@evader*:*")).to_contain_text(
            f"ban evasion !policies:{server}"
        )
        await expect(policy.get_by_role("button")).to_have_count(0)
        await save_screenshot(page, "lists")
        assert await axe_violations(page) == []

        field = page.get_by_label("Matrix ID or pattern", exact=True)
        await field.focus()
        await page.keyboard.type("@*:*")
        await page.keyboard.press("Tab")
        await page.keyboard.type("everyone")
        await page.keyboard.press("Enter")

        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(field).to_have_value("@*:*")
        await expect(field).to_be_focused()
        await expect(page.locator("#block-pattern-problem")).to_contain_text(
            "would match anyone on any server; name a server instead"
        )
        await expect(page.get_by_label("Reason (optional)")).to_have_value("everyone")
        await save_screenshot(page, "refused")
        assert await axe_violations(page) == []

        await page.get_by_role("button", name="Confirm evil.example").click()
        await expect(
            page.get_by_role("heading", name="Confirm blocking evil.example?")
        ).to_be_visible(timeout=SOON)
        await save_screenshot(page, "confirm-held")
        assert await axe_violations(page) == []
        await page.get_by_role("button", name="Confirm", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Blocked.")
        row = page.get_by_role("row").filter(has_text="evil.example")
        await expect(row).to_contain_text("active")
