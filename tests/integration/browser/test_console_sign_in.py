"""Signing in to the console in Chromium against a real Synapse, and the overview."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from knock_testing.synapse import Sandbox, SandboxUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import serve_knock, sign_in


async def test_no_session_a_wrong_key_sign_in_and_sign_out(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, desktop_page: Page
) -> None:
    page = desktop_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        await page.goto(knock.console)
        await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
        await save_screenshot(page, "sign-in")
        assert await axe_violations(page) == []

        await page.get_by_label("API key").fill("not the key")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("That is not the API key.")).to_be_visible()

        await sign_in(page, knock)
        await expect(page.get_by_role("link", name="Review 0")).to_be_visible()
        await expect(page.get_by_text("Room: ready")).to_be_visible()
        await save_screenshot(page, "overview")
        assert await axe_violations(page) == []

        # A form that lost its form token (as a forged one from another site has none) does
        # nothing: the moderator stays signed in.
        await page.locator("form.sign-out input[name=csrf]").evaluate("input => input.remove()")
        async with page.expect_response(lambda r: r.request.method == "POST") as posted:
            await page.get_by_role("button", name="Sign out").click()
        assert (await posted.value).status == 403
        await expect(page.get_by_text("Nothing was done")).to_be_visible()
        await page.goto(knock.console)
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_label("API key")).to_be_visible()
        await page.goto(knock.console)
        await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()


async def test_the_overview_on_a_phone(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, phone_page: Page
) -> None:
    page = phone_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        await sign_in(page, knock)
        await save_screenshot(page, "overview")
        assert await axe_violations(page) == []
