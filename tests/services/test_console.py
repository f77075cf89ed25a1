"""The console's way in over HTTP on the fake homeserver: sessions, form tokens, the overview."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from knock.services.runtime import Runtime
from knock.store import Store
from tests.clock import FakeClock
from tests.services.console import KEY, form_token, sign_in


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "console_session_ttl": "1h"}


async def test_without_a_session_the_console_asks_for_the_api_key(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/console/")

    assert page.status_code == 200
    assert '<label for="api_key">API key</label>' in page.text
    assert 'type="password"' in page.text and ">Sign in</button>" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_wrong_key_is_refused_and_the_right_one_opens_a_session(
    http: httpx.AsyncClient, store: Store
) -> None:
    wrong = await sign_in(http, "not-the-key")
    assert wrong.status_code == 401 and "That is not the API key." in wrong.text
    assert "knock_console" not in wrong.cookies

    right = await sign_in(http)

    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure
    token = right.cookies["knock_console"]
    page = await http.get("/console/")
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
    # The database keeps only the token's hash.
    async with store.engine.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT token_hash FROM console_sessions")).all()
    assert len(rows) == 1 and token not in rows[0][0]


async def test_behind_an_https_proxy_the_cookie_is_secure(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "https://knock/console/sign-in", data={"api_key": KEY}, follow_redirects=False
    )

    assert "Secure" in answer.headers["set-cookie"]


async def test_a_post_without_the_form_token_does_nothing(http: httpx.AsyncClient) -> None:
    await sign_in(http)

    refused = await http.post("/console/sign-out", data={"csrf": "forged"})
    still = await http.get("/console/")

    assert refused.status_code == 403 and "Nothing was done" in refused.text
    assert "<h1>Overview</h1>" in still.text


async def test_sign_out_ends_the_session(http: httpx.AsyncClient) -> None:
    await sign_in(http)
    token = form_token((await http.get("/console/")).text)
    kept = http.cookies["knock_console"]

    answer = await http.post("/console/sign-out", data={"csrf": token})

    assert answer.status_code == 303
    http.cookies.set("knock_console", kept, path="/console/")  # a copy of the old cookie
    assert "API key" in (await http.get("/console/")).text


async def test_a_session_ends_after_its_time(http: httpx.AsyncClient, clock: FakeClock) -> None:
    await sign_in(http)

    clock.advance(3601)

    assert "<h1>Overview</h1>" not in (await http.get("/console/")).text


async def test_a_session_ends_when_the_api_key_changes(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    await sign_in(http)
    runtime.settings.api_key = type(runtime.settings.api_key)("a-new-key-for-everyone")  # type: ignore[misc]

    assert "<h1>Overview</h1>" not in (await http.get("/console/")).text


async def test_every_page_takes_the_door_and_a_door_knock_does_not_have_is_404(
    http: httpx.AsyncClient,
) -> None:
    await sign_in(http)

    pages = ["/console/", "/console/review", "/console/knocks", "/console/invites"]
    known = [(await http.get(page, params={"door": "default"})).status_code for page in pages]
    unknown = [await http.get(page, params={"door": "book-club"}) for page in pages]

    assert known == [200] * len(pages)
    assert [page.status_code for page in unknown] == [404] * len(pages)
    assert all("No such door" in page.text for page in unknown)


async def test_the_overview_counts_knocks_and_the_review_queue(
    http: httpx.AsyncClient, submit: Any
) -> None:
    await submit("@alice:hs.test")
    await sign_in(http)

    page = (await http.get("/console/")).text

    assert "Review queue" in page and "Join wave" in page and "Homeserver and room" in page
    assert re.search(r"queued</a></th><td>1</td><td>1</td>", page)


async def test_with_one_door_the_bar_has_no_door_switcher_and_no_door_anywhere(
    http: httpx.AsyncClient, submit: Any
) -> None:
    knock_id = (await submit("@alice:hs.test")).knock_id
    await sign_in(http)

    pages = ["/console/", "/console/knocks", f"/console/knocks/{knock_id}", "/console/audit"]
    shown = [(await http.get(page)).text for page in pages]

    for page in shown:
        assert 'class="door-switch"' not in page and ">Door<" not in page
        assert "?door=" not in page and 'name="door"' not in page
    assert "<title>Overview · Knock</title>" in shown[0]
    assert 'data-label="Door"' not in shown[1]
