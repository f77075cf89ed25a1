"""The console's members page over HTTP on the fake homeserver: who is in, their knock, Block."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.web.app import KnockApp
from tests.services.conftest import BOT, ROOM, KnockState, Submit, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
OLD_TIMER = f"@old:{SERVER}"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "console_session_ttl": "1h"}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        await sign_in(client)
        yield client


async def joined_through_a_knock(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, user: str
) -> str:
    homeserver.add_user(user, user[1:].split(":")[0].title())
    outcome = await submit(user)
    await drain(services)
    homeserver.join(user, ROOM)
    await services.follower.membership_changed(user, "join", user)
    return outcome.knock_id


def rows(page: str) -> dict[str, str]:
    """Each member's row, by Matrix ID, as served."""
    body = page.split("<tbody>", 1)[1]
    found = {}
    for row in re.findall(r"<tr>.*?</tr>", body, flags=re.S):
        who = re.search(r'class="mxid">([^<]+)<', row)
        assert who is not None
        found[html.unescape(who[1])] = row
    return found


async def test_members_are_listed_with_their_names_and_the_knock_they_joined_through(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    http: httpx.AsyncClient,
) -> None:
    knock_id = await joined_through_a_knock(services, homeserver, submit, ALICE)
    homeserver.add_user(OLD_TIMER, "Old Timer")
    homeserver.join(OLD_TIMER, ROOM)

    page = await http.get("/console/members")

    assert page.status_code == 200, page.text
    assert (await knock_state(knock_id))[0] is State.JOINED
    shown = rows(page.text)
    assert set(shown) == {ALICE, OLD_TIMER, BOT}
    assert f'href="/console/knocks/{knock_id}"' in shown[ALICE]
    assert "Alice" in shown[ALICE]
    assert "<time" in shown[ALICE]
    assert "joined without a knock" in shown[OLD_TIMER]
    assert "Old Timer" in shown[OLD_TIMER]
    assert "Block" not in shown[BOT]  # Knock's own account is never offered for blocking
    assert 'aria-current="page">Members</a>' in page.text
    # One homeserver call per view: the members list.
    assert len(homeserver.calls("joined_members")) == 1


async def test_block_leads_to_the_block_lists_dry_run_and_nothing_changes(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    http: httpx.AsyncClient,
) -> None:
    await joined_through_a_knock(services, homeserver, submit, ALICE)
    page = (await http.get("/console/members")).text
    form = re.search(
        r'<form method="post" action="(/console/blocklist/block)">(.*?)</form>',
        rows(page)[ALICE],
        flags=re.S,
    )
    assert form is not None
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[2]))
    assert fields == {"csrf": form_token(page), "pattern": ALICE}

    plan = await http.post(form[1], data=fields)

    assert plan.status_code == 200, plan.text
    assert ALICE in plan.text
    assert "Block-list" in plan.text
    assert homeserver.membership(ROOM, ALICE) == "join"  # a dry run: nobody removed yet
    assert await services.blocklist.entries() == []


async def test_members_without_a_session_go_to_sign_in_and_an_outage_is_a_503(
    runtime: Runtime, homeserver: FakeHomeserver, http: httpx.AsyncClient
) -> None:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as stranger:
        assert (await stranger.get("/console/members")).status_code == 303

    homeserver.down("joined_members")
    page = await http.get("/console/members")

    assert page.status_code == 503
    assert "did not answer" in page.text
