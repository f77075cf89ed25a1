"""`knock/web/static/pow.js` in Chromium: forms held back, solved, sent with the proof.

Each test serves a form and the script from loopback (`served`) under a strict
Content-Security-Policy (no inline script) and presses the form's button as a person does. The
form posts to /submit, which answers 204 No Content: the browser stays on the page, so the
test can still read it after the form went. What the script announces (its `knock-pow:*`
events), with the status and the button as they were at that moment, is kept in
`window.powEvents` by a script Playwright adds to the page (which the policy does not govern).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.async_api import Page, Request, Worker, expect
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from knock.core.pow import Passed, check, issue
from tests.integration.browser.browsing import ROOT, served

pytestmark = pytest.mark.no_database

SCRIPT = (ROOT / "knock" / "web" / "static" / "pow.js").read_bytes()
KEY = b"browser test key"
BITS = 12
MATRIX_ID = "@someone:example.org"
WORKING = "Checking your browser\u2026 this takes a moment."
SENDING = "Sending\u2026"
FAILED = "Your browser could not finish the check. Please try again."
# Milliseconds: a solve of 12 bits takes a few, a worker's start some tens.
SOON = 30_000

RECORD_EVENTS = """
window.powEvents = [];
for (const name of ["start", "solved", "error"]) {
  document.addEventListener("knock-pow:" + name, (event) => {
    const form = event.target;
    window.powEvents.push({
      name: name,
      detail: event.detail,
      status: form.querySelector("[role=status]").textContent,
      disabled: form.querySelector("button").disabled,
    });
  });
}
"""


def form_page(form_attributes: str, script_src: str = "/pow.js", copies: int = 1) -> str:
    """A page with the script (`copies` times) and one form, which posts to its `action`."""
    scripts = f'<script src="{script_src}" defer></script>\n' * copies
    return f"""<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Knock</title>
{scripts}<form method="post" {form_attributes}>
  <label>Matrix ID <input name="matrix_id" value="{MATRIX_ID}"></label>
  <button name="go" value="yes">Knock</button>
</form>
</html>
"""


def site(
    headers: Mapping[str, str],
    page: str = "",
    challenge: str = "",
    hold: asyncio.Event | None = None,
) -> Starlette:
    """GET / (`page`), /pow.js and /challenge; POST /submit. Every answer carries `headers`.

    /challenge answers {"challenge": challenge}, once `hold` is set if there is one.
    """

    async def home(_: StarletteRequest) -> Response:
        return HTMLResponse(page, headers=headers)

    async def script(_: StarletteRequest) -> Response:
        return Response(SCRIPT, media_type="text/javascript", headers=headers)

    async def challenge_json(_: StarletteRequest) -> Response:
        if hold is not None:
            await hold.wait()
        return JSONResponse({"challenge": challenge}, headers=headers)

    async def submit(_: StarletteRequest) -> Response:
        return Response(status_code=204, headers=headers)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/pow.js", script),
            Route("/challenge", challenge_json),
            Route("/submit", submit, methods=["POST"]),
        ]
    )


async def open_form(page: Page, url: str) -> list[Request]:
    """Open the form with the events recorded; the list fills with the page's POSTs."""
    posts: list[Request] = []

    def sent(request: Request) -> None:
        if request.method == "POST":
            posts.append(request)

    page.on("request", sent)
    await page.add_init_script(RECORD_EVENTS)
    await page.goto(url)
    return posts


async def events(page: Page, name: str) -> list[dict[str, Any]]:
    """The script's `knock-pow:<name>` events so far, in order."""
    found: list[dict[str, Any]] = await page.evaluate(
        "(name) => window.powEvents.filter((event) => event.name === name)", name
    )
    return found


def fields(posted: Request) -> dict[str, str]:
    assert posted.headers["content-type"] == "application/x-www-form-urlencoded"
    body = posted.post_data or ""
    return {name: values[0] for name, values in parse_qs(body).items()}


@pytest.mark.parametrize(
    ("policy", "where"),
    [
        ("default-src 'self'", "worker"),
        # A policy that forbids workers: the page solves in slices itself.
        ("default-src 'self'; worker-src 'none'", "page"),
    ],
)
async def test_a_form_is_sent_with_its_proof_and_the_button_pressed(
    desktop_page: Page, policy: str, where: str
) -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    # The challenge is held back until the button is pressed: the work is still under way.
    hold = asyncio.Event()
    page = form_page('action="/submit" data-knock-pow-url="/challenge"')
    app = site({"Content-Security-Policy": policy}, page, challenge.text, hold)
    async with served(app) as url:
        await open_form(desktop_page, url)
        status = desktop_page.get_by_role("status")
        button = desktop_page.get_by_role("button", name="Knock")
        try:
            async with desktop_page.expect_request(lambda r: r.method == "POST") as posted:
                await button.click()
                # While it works: the button held, the status says so.
                await expect(status).to_have_text(WORKING)
                await expect(button).to_be_disabled()
                hold.set()
        finally:
            hold.set()  # else a failed test leaves the challenge's request, and the server, up
        sent = fields(await posted.value)
        await expect(status).to_have_text(SENDING)
        [solved] = await events(desktop_page, "solved")

    assert sent["matrix_id"] == MATRIX_ID
    assert sent["go"] == "yes"  # the button pressed still goes along
    assert sent["pow_challenge"] == challenge.text
    assert check(KEY, sent["pow_challenge"], sent["pow_nonce"], 1.0, BITS) == Passed(
        challenge.challenge_id, challenge.expires_at
    )
    assert solved["detail"]["where"] == where
    assert solved["detail"]["nonce"] == sent["pow_nonce"]
    assert (solved["status"], solved["disabled"]) == (WORKING, True)


async def test_a_form_elsewhere_fetches_its_challenge_and_solves_on_its_own_page(
    desktop_page: Page,
) -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    knock_app = site({"Access-Control-Allow-Origin": "*"}, challenge=challenge.text)
    async with served(knock_app) as knock:
        attributes = f'action="{knock}/submit" data-knock-pow-url="{knock}/challenge"'
        allow = f"'self' {knock}"
        policy = f"default-src 'self'; script-src {allow}; connect-src {allow}"
        form_app = site(
            {"Content-Security-Policy": policy}, form_page(attributes, f"{knock}/pow.js")
        )
        async with served(form_app) as url:
            await open_form(desktop_page, url)
            async with desktop_page.expect_request(lambda r: r.method == "POST") as posted:
                await desktop_page.get_by_role("button", name="Knock").click()
            request = await posted.value
            [solved] = await events(desktop_page, "solved")

    assert request.url == f"{knock}/submit"
    sent = fields(request)
    assert isinstance(check(KEY, sent["pow_challenge"], sent["pow_nonce"], 1.0, BITS), Passed)
    # A worker must come from the page's own origin: this one solves in slices on the page.
    assert solved["detail"]["where"] == "page"


async def test_when_no_challenge_comes_the_form_stays_and_says_so(desktop_page: Page) -> None:
    page = form_page('action="/submit" data-knock-pow-url="/nowhere"')
    async with served(site({"Content-Security-Policy": "default-src 'self'"}, page)) as url:
        posts = await open_form(desktop_page, url)
        button = desktop_page.get_by_role("button", name="Knock")
        await button.click()
        await expect(desktop_page.get_by_role("status")).to_have_text(FAILED, timeout=SOON)
        await expect(button).to_be_enabled()  # free to try again
        [error] = await events(desktop_page, "error")

    assert "404" in error["detail"]["message"]
    assert posts == []  # and nothing was sent


async def test_the_work_starts_at_the_first_focus_so_sending_is_not_held_up(
    desktop_page: Page,
) -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    page = form_page(f'action="/submit" data-knock-pow="{challenge.text}"')
    # The worker solving the challenge closes once it has found the nonce.
    solved_by_worker: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def closed(_: Worker) -> None:
        if not solved_by_worker.done():
            solved_by_worker.set_result(None)

    desktop_page.on("worker", lambda worker: worker.on("close", closed))
    async with served(site({"Content-Security-Policy": "default-src 'self'"}, page)) as url:
        await open_form(desktop_page, url)
        await desktop_page.get_by_label("Matrix ID").focus()
        await asyncio.wait_for(solved_by_worker, SOON / 1000)
        assert len(await events(desktop_page, "start")) == 1  # nothing pressed yet
        async with desktop_page.expect_request(lambda r: r.method == "POST") as posted:
            await desktop_page.get_by_role("button", name="Knock").click()
        sent = fields(await posted.value)
        [solved] = await events(desktop_page, "solved")
        starts = await events(desktop_page, "start")

    assert solved["status"] == ""  # nothing to wait for when the button was pressed
    assert solved["detail"]["nonce"] == sent["pow_nonce"]
    assert len(starts) == 1  # the press used the work already done


async def test_a_second_copy_of_the_script_leaves_an_enhanced_form_alone(
    desktop_page: Page,
) -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    page = form_page(f'action="/submit" data-knock-pow="{challenge.text}"', copies=2)
    async with served(site({"Content-Security-Policy": "default-src 'self'"}, page)) as url:
        posts = await open_form(desktop_page, url)
        async with desktop_page.expect_request(lambda r: r.method == "POST"):
            await desktop_page.get_by_role("button", name="Knock").click()
        # Every copy that took the form would have started on it at the same focus, before
        # any solve could end: one start by the time of the first solve is one copy at work.
        starts = await events(desktop_page, "start")
        solved = await events(desktop_page, "solved")
        await expect(desktop_page.get_by_role("status")).to_have_count(1)

    assert (len(starts), len(solved), len(posts)) == (1, 1, 1)
