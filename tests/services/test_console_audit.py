"""The console's audit page over HTTP on the fake homeserver: every route's moderator actions."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import CLI, Actor, Change
from knock.core.lifecycle import Event, State
from knock.services.console.audit import ACTIONS, LABELS
from knock.services.runtime import Runtime
from knock.store import Store
from knock.store.audit import AuditFilter
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import ROOM, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ADMIN = {"Authorization": f"Bearer {KEY}"}
TROLL = f"@troll:{SERVER}"
LOOK_ALIKES = [f"@tr0ll:{SERVER}", f"@trolll:{SERVER}", f"@tr0lll:{SERVER}"]
MOD = f"@mod:{SERVER}"
CONSOLE_ACTOR = "console:api-key"
FRIENDS = [f"@friend{n}:{SERVER}" for n in range(2)]
THRESHOLD_1 = pytest.mark.parametrize(
    "knock_options",
    [{"api_key": KEY, "console_session_ttl": "1h", "block_confirm_threshold": 1}],
    ids=["threshold_1"],
)


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "console_session_ttl": "1h"}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
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
        (f"matrix:{MOD}", "Denied", LOOK_ALIKES[2], "same again"),
        ("cli", "Denied", LOOK_ALIKES[1], "a sock puppet"),
        (CONSOLE_ACTOR, "Queued for an invite", LOOK_ALIKES[0], "—"),  # approving queues it
        (CONSOLE_ACTOR, "Approved", LOOK_ALIKES[0], "—"),
        ("api:admin", "Blocked", TROLL, "—"),
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

    assert [row[1] for row in by_console] == ["Queued for an invite", "Approved"]
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


async def console_post(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """Post a console form, with the session's form token."""
    token = form_token((await http.get("/console/audit")).text)
    return await http.post(f"/console{path}", data={"csrf": token, **fields})


def test_every_action_has_words_in_the_filter() -> None:
    assert set(ACTIONS) == {*Event, *Change, "block", "allow"}
    assert all(LABELS[action] for action in ACTIONS)


async def test_unblocks_and_allow_list_removals_are_listed_with_who_did_them(
    http: httpx.AsyncClient, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    other = f"@other:{SERVER}"
    for user, reason in ((TROLL, "spam"), (other, None)):
        answer = await http.post(
            "/block_user", headers=ADMIN, json={"user_id": user, "reason": reason}
        )
        assert answer.status_code == 200, answer.text
    await http.post("/allow_user", headers=ADMIN, json={"user_id": FRIENDS[0], "reason": "known"})
    assert (await console_post(http, "/blocklist/allow", pattern=FRIENDS[1])).status_code == 303
    clock.advance(60)
    unblocked = await http.post("/unblock_user", headers=ADMIN, json={"user_id": TROLL})
    clock.advance(60)
    from_console = await console_post(http, "/blocklist/unblock", pattern=other)
    clock.advance(60)
    unallowed = await http.post("/unallow_user", headers=ADMIN, json={"user_id": FRIENDS[1]})
    clock.advance(60)
    unallowed_in_console = await console_post(http, "/blocklist/unallow", pattern=FRIENDS[0])

    page = (await http.get("/console/audit")).text
    only_unblocks = rows((await http.get("/console/audit", params={"action": "unblock"})).text)

    assert unblocked.status_code == 200 and unallowed.status_code == 200
    assert from_console.status_code == 303 and unallowed_in_console.status_code == 303
    # The entries are gone, so their additions are too: each removal says who added it, and why.
    assert rows(page) == [
        (CONSOLE_ACTOR, "Removed from the allow-list", FRIENDS[0], "allowed by api:admin: known"),
        ("api:admin", "Removed from the allow-list", FRIENDS[1], f"allowed by {CONSOLE_ACTOR}"),
        (CONSOLE_ACTOR, "Unblocked", other, "blocked by api:admin"),
        ("api:admin", "Unblocked", TROLL, "blocked by api:admin: spam"),
    ]
    assert [row[2] for row in only_unblocks] == [other, TROLL]
    assert '<option value="unblock">Unblocked</option>' in page
    assert "not recorded" not in page


async def test_an_unblock_that_finds_no_entry_is_not_listed(http: httpx.AsyncClient) -> None:
    answer = await http.post("/unblock_user", headers=ADMIN, json={"user_id": TROLL})
    in_console = await console_post(http, "/blocklist/unallow", pattern=TROLL)

    page = (await http.get("/console/audit")).text

    assert answer.status_code == 404
    assert in_console.headers["location"].endswith("done=not-allowed")
    assert rows(page) == []


async def test_join_wave_resets_from_the_api_and_the_console_are_listed(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    by_api = await http.post("/join_wave/reset", headers=ADMIN)
    clock.advance(60)
    by_console = await console_post(http, "/join-wave/reset")

    page = await http.get("/console/audit", params={"action": "reset_join_wave"})

    assert by_api.status_code == 200 and by_api.json()["tripped"] is False
    assert by_console.status_code == 303
    assert rows(page.text) == [
        (CONSOLE_ACTOR, "Reset the join wave", "—", "—"),
        ("api:admin", "Reset the join wave", "—", "—"),
    ]
    assert '<option value="reset_join_wave" selected>Reset the join wave</option>' in page.text


@THRESHOLD_1
async def test_confirming_a_held_block_is_listed_with_who_confirmed_it(
    services: Runtime, homeserver: FakeHomeserver, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    from_file, from_api = f"@spam-*:{SERVER}", f"@bot-*:{SERVER}"
    crowds = {
        pattern: [pattern.replace("*", str(n)) for n in range(2)]
        for pattern in (from_file, from_api)
    }
    for crowd in crowds.values():
        for user in crowd:
            homeserver.join(homeserver.add_user(user), ROOM)
    await services.blocklist.hold(
        services.blocklist.entry_for(from_file, reason="wave", source="file")
    )
    clock.advance(60)
    held = await http.post("/block_user", headers=ADMIN, json={"user_id": from_api})
    clock.advance(60)
    confirmed = await http.post(
        "/block_user", headers=ADMIN, json={"user_id": from_file, "confirm": True}
    )
    clock.advance(60)
    in_console = await console_post(http, "/blocklist/block", pattern=from_api, go="1", confirm="1")

    page = (await http.get("/console/audit")).text

    assert held.status_code == 409 and confirmed.status_code == 200, confirmed.text
    assert in_console.status_code == 303
    assert {homeserver.membership(ROOM, user) for crowd in crowds.values() for user in crowd} == {
        "leave"
    }
    # A confirmed entry shows its confirmer as its source (and loses the reason a confirmation
    # left out); each confirmation keeps whom the held entry came from, and why.
    assert rows(page) == [
        (CONSOLE_ACTOR, "Confirmed a held block", from_api, "blocked by api:admin"),
        ("api:admin", "Confirmed a held block", from_file, "blocked by file: wave"),
        (CONSOLE_ACTOR, "Blocked", from_api, "—"),
        ("api:admin", "Blocked", from_file, "—"),
    ]


async def test_a_block_with_no_held_entry_is_no_confirmation(
    http: httpx.AsyncClient, homeserver: FakeHomeserver
) -> None:
    homeserver.join(homeserver.add_user(TROLL), ROOM)
    answer = await http.post("/block_user", headers=ADMIN, json={"user_id": TROLL, "confirm": True})

    page = (await http.get("/console/audit")).text

    assert answer.status_code == 200
    assert rows(page) == [("api:admin", "Blocked", TROLL, "—")]


async def test_retention_erases_the_moderators_changes_older_than_it(
    services: Runtime, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    retention = services.settings.retention
    await services.intake.reset_join_wave(Actor.api("old"))
    clock.advance(retention - 60)
    await services.intake.reset_join_wave(Actor.api("recent"))
    clock.advance(120)

    services.duties.force()
    await services.duties.run_once()
    await sign_in(http)  # the session ended long ago
    page = (await http.get("/console/audit")).text

    assert rows(page) == [("api:recent", "Reset the join wave", "—", "—")]
    assert '<option value="api:old">' not in page
