"""The browser set-up itself: Chromium drives a page, axe finds what is wrong, screenshots land."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.integration.browser.browsing import SCREENSHOTS, axe_violations, save_screenshot, served

pytestmark = pytest.mark.no_database


def html(body: str) -> str:
    """A whole document around `body`, with what every page needs: a language and a title."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Knock: browser self-test</title>
</head>
{body}
</html>"""


ACCESSIBLE = html(
    """<body>
  <main>
    <h1>A good door</h1>
    <p id="status">Nobody has knocked yet.</p>
    <button type="button" id="knock">Knock</button>
    <div style="height: 1500px"></div>
  </main>
  <script>
    document.getElementById("knock").addEventListener("click", () => {
      document.getElementById("status").textContent = "Someone knocked.";
    });
  </script>
</body>"""
)

# An input nobody can name and a picture with no text: what a screen reader cannot tell.
BROKEN = html(
    """<body>
  <main>
    <h1>A door without a sign</h1>
    <form><input id="matrix-id" name="matrix_id"><button>Send</button></form>
    <img id="door" src="/door.png">
  </main>
</body>"""
)


async def accessible(_: Request) -> HTMLResponse:
    return HTMLResponse(ACCESSIBLE)


async def broken(_: Request) -> HTMLResponse:
    return HTMLResponse(BROKEN)


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """Both pages, served from the test's event loop as Knock's own would be."""
    app = Starlette(routes=[Route("/", accessible), Route("/broken", broken)])
    async with served(app) as url:
        yield url


async def test_a_button_found_by_its_name_changes_the_page(desktop_page: Page, site: str) -> None:
    await desktop_page.goto(site)
    await desktop_page.get_by_role("button", name="Knock").click()
    await expect(desktop_page.get_by_role("main")).to_contain_text("Someone knocked.")


async def test_a_phone_taps_the_same_button(phone_page: Page, site: str) -> None:
    await phone_page.goto(site)
    assert await phone_page.evaluate("() => window.innerWidth") == 390
    await phone_page.get_by_role("button", name="Knock").tap()
    await expect(phone_page.get_by_role("main")).to_contain_text("Someone knocked.")


async def test_without_javascript_the_button_does_nothing_and_axe_says_why_it_cannot_check(
    no_script_page: Page, site: str
) -> None:
    await no_script_page.goto(site)
    await no_script_page.get_by_role("button", name="Knock").click()
    await expect(no_script_page.locator("#status")).to_have_text("Nobody has knocked yet.")
    with pytest.raises(RuntimeError, match="axe needs JavaScript"):
        await axe_violations(no_script_page)


async def test_axe_passes_an_accessible_page_and_names_what_breaks_a_broken_one(
    desktop_page: Page, site: str
) -> None:
    await desktop_page.goto(site)
    assert await axe_violations(desktop_page) == []

    await desktop_page.goto(f"{site}/broken")
    violations = await axe_violations(desktop_page)
    assert {violation.rule for violation in violations} >= {"label", "image-alt"}
    told = repr(violations)
    assert "critical label (Form elements must have labels) at #matrix-id" in told
    assert "#door" in told


async def test_a_screenshot_holds_the_whole_page_and_is_named_after_the_test(
    phone_page: Page, site: str
) -> None:
    await phone_page.goto(site)
    path = await save_screenshot(phone_page, "home")
    name = "test_browser_setup.test_a_screenshot_holds_the_whole_page_and_is_named_after_the_test"
    assert path == SCREENSHOTS / f"{name}.home.png"
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    # The whole page, below the fold too, not just the phone's screen.
    assert width == 390
    assert height > 1500
