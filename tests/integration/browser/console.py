"""The console in the browser tests: a Knock served with its API key, and a moderator signed in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from knock.core.lifecycle import State
from knock.web.app import create_api
from knock_testing.synapse import Sandbox, SandboxUser
from tests.integration.browser.browsing import listening, served
from tests.integration.harness import (
    ADMIN_KEY,
    KnockUnderTest,
    eventually,
    knock_settings,
    start_knock,
    tally_delivery,
)


@dataclass
class ServedKnock:
    """A Knock served on a loopback port: its base URL, and the Knock for direct checks."""

    url: str
    knock: KnockUnderTest

    @property
    def console(self) -> str:
        return f"{self.url}/console/"


@asynccontextmanager
async def serve_knock(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room_id: str, **overrides: Any
) -> AsyncIterator[ServedKnock]:
    """Start a Knock on the test Synapse and serve it to the browser: the API key is set, and
    PUBLIC_URL is the address it is served at (moderators may ask for sign-in links)."""
    sock = listening()
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = knock_settings(tmp_path, synapse, bot, room_id, public_url=public_url, **overrides)
    knock = await start_knock(settings)
    try:
        async with served(create_api(knock.runtime), sock) as url:
            yield ServedKnock(url, knock)
    finally:
        await knock.stop()


async def sign_in(page: Page, served: ServedKnock, key: str = ADMIN_KEY) -> None:
    """Sign in to the console as a moderator holding the API key would."""
    await page.goto(served.console)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


# Periodic scans off: the tests decide when membership is looked at.
SCANS_OFF = {"invite_check_interval": 0, "blocklist_scan_interval": 0}


async def deliver(served: ServedKnock, user_id: str) -> str:
    """Knock by the Tally webhook, as the form platform would; return the knock's id."""
    body, headers = tally_delivery(user_id, uuid.uuid4().hex[:8])
    answer = await served.knock.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["knock_id"])


async def settled(served: ServedKnock, knock_id: str, state: State) -> None:
    async def there() -> bool:
        return (await served.knock.knock_state(knock_id))[0] is state

    await eventually(there, what=f"knock {knock_id} to be {state.value}")
