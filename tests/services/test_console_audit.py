"""The console's audit page over HTTP on the fake homeserver: every route's moderator actions."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import CLI, Actor
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store import Store
from knock.store.audit import AuditFilter
from knock.web.app import create_api
from tests.clock import FakeClock
from tests.services.conftest import ROOM, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ADMIN = {"Authorization": f"Bearer {KEY}"}
TROLL = f"@troll:{SERVER}"
LOOK_ALIKES = [f"@tr0ll:{SERVER}", f"@trolll:{SERVER}", f"@tr0lll:{SERVER}"]
MOD = f"@mod:{SERVER}"
CONSOLE_ACTOR = "console:api-key"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "console_session_ttl": "1h"}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        await sign_in(client)
        yield client


@pytest.fixture
async def acted(
    services: Runtime, homeserver: FakeHomeserver, clock: FakeClock, http: httpx.AsyncClient
) -> list[str]:
    """A block through the API, then three held knocks: approved in the console, denied with
    the `knock` command, denied in the moderation room (a minute apart)."""
    homeserver.join(homeserver.add_user(TROLL, "Troll"), ROOM)
    blocked = await http.post("/block_user", headers=ADMIN, json={"user_id": TROLL})
    assert blocked.status_code == 200, blocked.text
    clock.advance(60)
    knocks = []
    for n, user in enumerate(LOOK_ALIKES):
        homeserver.add_user(user)
        fields = (Field("Matrix ID", "matrix_id", None, user),)
        outcome = await services.intake.knock(Submission("tally", f"a{n}", fields), user, None)
        assert outcome.state is State.REVIEW, outcome
        knocks.append(outcome.knock_id)
    review = (await http.get("/console/review")).text
    clock.advance(60)
    approved = await http.post(
        f"/console/review/{knocks[0]}/approve", data={"csrf": form_token(review)}
    )
    assert approved.status_code == 303
    clock.advance(60)
    await services.moderation.deny(knocks[1], CLI, "a sock puppet")
    clock.advance(60)
    await services.moderation.deny(knocks[2], Actor.matrix(MOD), "same again")
    return knocks


def rows(page: str) -> list[tuple[str, str, str, str]]:
    """Each row's (actor, action, target, note) as read, top to bottom."""
    body = page.split("<tbody>", 1)[1] if "<tbody>" in page else ""
    found = []
    for row in re.findall(r"<tr>.*?</tr>", body, flags=re.S):
        cells = [
            html.unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        found.append((cells[1], cells[2], cells[3], cells[4]))
    return found


async def test_the_audit_lists_every_routes_actions_newest_first(
    acted: list[str], http: httpx.AsyncClient
) -> None:
    page = await http.get("/console/audit")

    assert page.status_code == 200, page.text
    assert rows(page.text) == [
        (f"matrix:{MOD}", "denied", LOOK_ALIKES[2], "same again"),
        ("cli", "denied", LOOK_ALIKES[1], "a sock puppet"),
        (CONSOLE_ACTOR, "queued", LOOK_ALIKES[0], "—"),  # approving queues the knock
        (CONSOLE_ACTOR, "approved", LOOK_ALIKES[0], "—"),
        ("api:admin", "block", TROLL, "—"),
    ]
    assert f'href="/console/knocks/{acted[0]}"' in page.text
    assert 'aria-current="page">Audit</a>' in page.text
    # The form's suggestions are the actors seen.
    for actor in ("api:admin", "cli", CONSOLE_ACTOR, f"matrix:{MOD}"):
        assert f'<option value="{actor}">' in page.text


async def test_the_filters_narrow_by_actor_and_action(
    acted: list[str], http: httpx.AsyncClient
) -> None:
    by_console = rows((await http.get("/console/audit", params={"actor": "CONSOLE"})).text)
    denied = rows((await http.get("/console/audit", params={"action": "denied"})).text)
    both = rows(
        (await http.get("/console/audit", params={"actor": "cli", "action": "denied"})).text
    )
    nothing = await http.get("/console/audit", params={"actor": "api:", "action": "approved"})
    wrong = await http.get("/console/audit", params={"action": "dance"})

    assert [row[1] for row in by_console] == ["queued", "approved"]
    assert [row[0] for row in denied] == [f"matrix:{MOD}", "cli"]
    assert [row[0] for row in both] == ["cli"]
    assert "No action matches these filters." in nothing.text
    assert wrong.status_code == 400
    assert "Choose an action from the list." in wrong.text


async def test_the_audit_pages_older_and_back_to_the_top(
    acted: list[str], services: Runtime, http: httpx.AsyncClient
) -> None:
    audit = services.console_audit
    everything = (await audit.actions(AuditFilter())).rows
    seen = []
    page = await audit.actions(AuditFilter(), limit=1)
    assert page.newer is None
    pages = [page]
    while page.older is not None:
        seen += page.rows
        page = await audit.actions(AuditFilter(), limit=1, older_than=page.older)
        pages.append(page)
    seen += page.rows
    back = await audit.actions(AuditFilter(), limit=1, newer_than=pages[2].newer)

    assert len(everything) == 5
    assert seen == everything
    assert back.rows == pages[1].rows
    # The page's links carry the filters and the place.
    linked = (await http.get("/console/audit", params={"actor": "a"})).text
    assert "Next page" not in linked  # a few actions: one page of 50


async def test_block_list_entries_from_a_file_and_other_actors_are_not_listed(
    services: Runtime, http: httpx.AsyncClient
) -> None:
    await services.blocklist.add(services.blocklist.entry_for(TROLL, source="file"))

    page = (await http.get("/console/audit")).text

    assert rows(page) == []
    assert "No moderator has acted yet." in page


async def test_a_persons_own_join_is_not_a_moderators_action(
    services: Runtime, homeserver: FakeHomeserver, store: Store, http: httpx.AsyncClient
) -> None:
    person = f"@joiner:{SERVER}"
    homeserver.add_user(person, "Joiner")
    fields = (Field("Matrix ID", "matrix_id", None, person),)
    outcome = await services.intake.knock(Submission("tally", "j", fields), person, None)
    await drain(services)
    homeserver.join(person, ROOM)
    await services.follower.membership_changed(person, "join", person)
    history = await store.history(outcome.knock_id)

    page = (await http.get("/console/audit")).text

    assert f"matrix:{person}" in [line.actor for line in history]
    assert rows(page) == []
