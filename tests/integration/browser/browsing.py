"""Look at pages as a person does: Chromium, apps served to it, accessibility, screenshots.

`python -m bench.pow` drives Chromium with the same flags and serves its page with `served`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import uvicorn
from playwright.async_api import Page
from starlette.types import ASGIApp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
# Installed by `make test` from package.json and package-lock.json beside this file.
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"

# Running as root needs --no-sandbox; the machine has no GPU; the rest keep Chromium from
# calling Google's services, which the closed network refuses, many times a second.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# In a document without scripting, <noscript> holds elements rather than text: how a script that
# Playwright evaluates tells that the page's JavaScript is off (where timers and observers never
# fire, so axe would wait for ever).
SCRIPTING_OFF = """() => {
    const probe = document.createElement("div");
    probe.innerHTML = "<noscript><i></i></noscript>";
    return probe.querySelector("i") !== null;
}"""


def chromium_path() -> str:
    """Debian's Chromium: Playwright downloads no browser of its own here."""
    return shutil.which("chromium") or "/usr/bin/chromium"


def listening() -> socket.socket:
    """A loopback socket listening on a free port."""
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on each connection, as on sockets it
    # makes itself. Without it, a body written after its headers waits for the browser's
    # delayed ACK: 40 ms for every answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@asynccontextmanager
async def served(app: ASGIApp, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve `app` on a loopback port from the running event loop; yield its base URL.

    The caller starts and stops the app (harness.start_knock starts Knock's runtime), so uvicorn
    runs no lifespan. The socket listens before uvicorn starts: the browser may connect at once.
    Pass a socket from `listening()` to know the address before the app is made.
    """
    sock = sock or listening()
    port = sock.getsockname()[1]
    # log_config=None: uvicorn leaves the logging set-up to pytest.
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Violation:
    """An axe rule that a page breaks, and the elements (CSS selectors) that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __repr__(self) -> str:
        # What an assertion message shows: `assert await axe_violations(page) == []`. A rule
        # broken all over a page (colour contrast) names a few places, not every one.
        where = ", ".join(self.targets[:3])
        if len(self.targets) > 3:
            where += f" and {len(self.targets) - 3} more"
        return f"{self.impact} {self.rule} ({self.help}) at {where}"


@cache
def axe_source() -> str:
    """The text of axe.min.js, read once."""
    if not AXE_SCRIPT.is_file():
        raise RuntimeError(f"axe-core is not installed ({AXE_SCRIPT} is missing): run `make test`")
    return AXE_SCRIPT.read_text(encoding="utf-8")


async def axe_violations(
    page: Page, impacts: Sequence[str] = ("serious", "critical")
) -> list[Violation]:
    """Run axe-core on the page as it is now; return the violations of these impacts."""
    if await page.evaluate(SCRIPTING_OFF):
        raise RuntimeError(
            "axe needs JavaScript, which this page has off: check the same page in "
            "desktop_page or phone_page"
        )
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated rather than added as a <script>: a Content-Security-Policy cannot refuse it.
        await page.evaluate(axe_source())
    results = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        Violation(
            rule=found["id"],
            impact=found["impact"],
            help=found["help"],
            targets=tuple(" >> ".join(map(str, node["target"])) for node in found["nodes"]),
        )
        for found in results["violations"]
        if found["impact"] in impacts
    ]


def screenshot_path(name: str) -> Path:
    """build/screenshots/<test module>.<test>.<name>.png for the test running now."""
    # Set by pytest while a test runs: "tests/.../test_x.py::test_y[sqlite] (call)".
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    parts = [Path(current.split("::")[0]).stem, *current.split("::")[1:]] if current else []
    stem = ".".join(re.sub(r"[^\w.-]+", "-", part).strip("-") for part in [*parts, name])
    return SCREENSHOTS / f"{stem}.png"


async def save_screenshot(page: Page, name: str) -> Path:
    """Save the whole page as a PNG under build/screenshots, named after the test; return it."""
    path = screenshot_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=path, full_page=True)
    return path
