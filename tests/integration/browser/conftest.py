"""Browser tests: Knock's pages driven in Debian's Chromium, as a person uses them.

Playwright's async API, not its sync one. The sync API runs its own event loop in a greenlet and
leaves it marked as running between calls: once a session-scoped sync browser exists, every
async test after it fails ("Cannot run the event loop while another loop is running"). The
async API shares pytest-asyncio's session loop with the integration fixtures, and a Knock
started in-process by `harness.start_knock` keeps serving while the test awaits the browser
(`browsing.served(create_api(knock.runtime))` gives it an address). So browser tests are
`async def`, and wait with Playwright's `expect` and auto-waiting locators, never with sleeps.

Fixtures: `browser` (one Chromium for the session) and three pages, each in a fresh context
(no cookies or storage shared between tests): `desktop_page` (1280x800), `phone_page` (390x844,
mobile, touch) and `no_script_page` (1280x800, JavaScript off). Helpers, in `browsing.py`:
`axe_violations(page)` (axe-core's serious and critical findings; it refuses `no_script_page`,
where axe cannot run), `save_screenshot(page, name)` and `served(app)`. A page that navigated
somewhere is also saved as it was when the test ended, also when it failed:
`build/screenshots/<test module>.<test>.<page>-at-end.png`.

Running them: `make test` installs Chromium (Debian's `chromium` package, with
`fonts-liberation` for legible text) and axe-core (`npm ci` from package-lock.json here; `make
browser` does only that), then runs the whole suite; `.venv/bin/pytest tests/integration/browser`
runs only these. A test that starts no Knock is marked `no_database`; any other runs once per
database engine, as every integration test does. Each run overwrites the screenshots of the
tests it ran, in the git-ignored build/screenshots.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.integration.browser.browsing import CHROMIUM_ARGS, chromium_path, save_screenshot

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
# Pages look and read the same on every machine, and animations never race a screenshot.
EVERY_PAGE: dict[str, Any] = {"locale": "en-US", "timezone_id": "UTC", "reduced_motion": "reduce"}


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from Debian, shared by the session."""
    path = chromium_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"Chromium is not installed ({path}): run `make test`", pytrace=False)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@asynccontextmanager
async def open_page(browser: Browser, label: str, **options: Any) -> AsyncIterator[Page]:
    """A page in a context of its own; saved as `<label>-at-end` if it went anywhere."""
    context = await browser.new_context(**EVERY_PAGE, **options)
    try:
        page = await context.new_page()
        yield page
        if not page.is_closed() and page.url != "about:blank":
            await save_screenshot(page, f"{label}-at-end")
    finally:
        await context.close()


@pytest.fixture
async def desktop_page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop browser window, 1280x800."""
    async with open_page(browser, "desktop", **DESKTOP) as page:
        yield page


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[Page]:
    """A phone's screen, 390x844, with touch and the mobile viewport rules."""
    async with open_page(browser, "phone", **PHONE) as page:
        yield page


@pytest.fixture
async def no_script_page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop window with JavaScript off: what works without it (an HTML form's post)."""
    async with open_page(browser, "no-script", **DESKTOP, java_script_enabled=False) as page:
        yield page
