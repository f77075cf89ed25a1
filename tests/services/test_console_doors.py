"""The console with two doors, over HTTP on the fake homeserver: the door switcher in the bar, and
each page showing, filtering by and keeping the door it is at."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.compose import Services
from knock.services.runtime import Runtime
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM, KnockState, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

CLUB = "club"
CLUB_ROOM = f"!club:{SERVER}"
CLUB_WAVE = 3  # the club's own join-wave threshold: its fourth knock in the window trips it
ALICE = f"@alice:{SERVER}"  # knocks at the default door
BOB = f"@bob:{SERVER}"  # knocks at the club
TROLL = f"@troll:{SERVER}"
MOD = Actor.api("admin")


@pytest.fixture
def knock_options(tmp_path: Path) -> dict[str, Any]:
    doors = tmp_path / "doors.toml"
    doors.write_text(
        f'[doors.{CLUB}]\nroom = "{CLUB_ROOM}"\ninvite_ttl = "3d"\n'
        f"join_wave_threshold = {CLUB_WAVE}\n",
        encoding="utf-8",
    )
    return {
        "api_key": KEY,
        "console_session_ttl": "1h",
        "doors_file": doors,
        "invite_ttl": "7d",
        # Many knocks from one test in a minute: not what the spam windows are about here.
        "max_requests_per_window": 1000,
        "join_wave_threshold": 1000,
        "limit_per_user": None,
    }


@pytest.fixture
def homeserver(homeserver: FakeHomeserver) -> FakeHomeserver:
    """The members' room, and the club's room where the bot has power 100 too."""
    homeserver.create_room(BOT, room_id=CLUB_ROOM)
    return homeserver


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        await sign_in(client)
        yield client


async def knock_at(
    services: Services, homeserver: FakeHomeserver, user: str, door: str = "default"
) -> str:
    """Knock as a form at `door` would; return the knock's id."""
    homeserver.add_user(user, user[1:].split(":")[0].title())
    fields = (Field("Matrix ID", "matrix_id", None, user),)
    submission = Submission("tally", f"{door}-{user}", fields)
    return (await services.intake.knock(submission, user, None, door=door)).knock_id


async def page(http: httpx.AsyncClient, path: str, status: int = 200, **query: str) -> str:
    answer = await http.get(path, params=query) if query else await http.get(path)
    assert answer.status_code == status, answer.text
    return answer.text


def words(text: str) -> str:
    """A page's text as read: tags gone, entities read, spaces collapsed."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))


def switcher(text: str) -> dict[str, Any]:
    """The door switcher as a browser reads it: where it leads, what it keeps, its choices."""
    found = re.search(
        r'<form method="get" action="([^"]*)" class="door-switch">(.*?)</form>', text, re.S
    )
    assert found is not None, "the bar has no door switcher"
    form = found[2]
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', form)
    return {
        "action": html.unescape(found[1]),
        "kept": dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)),
        "label": '<label for="door-switch">Door</label>' in form,
        "options": [html.unescape(shown) for _, _, shown in options],
        "selected": [value for value, selected, _ in options if selected],
        "button": ">Show</button>" in form,
    }


def actions(text: str) -> list[str]:
    """Where the page's forms post, as the browser reads the addresses."""
    return [
        html.unescape(a) for a in re.findall(r'<form [^>]*method="post" action="([^"]+)"', text)
    ]


def listed(text: str) -> list[str]:
    """The Matrix IDs of a list's rows that link to their knock, top to bottom."""
    body = text.split("<tbody>", 1)[1] if "<tbody>" in text else ""
    return [html.unescape(m) for m in re.findall(r'/console/knocks/\w+[^"]*">([^<]+)</a>', body)]


def door_cells(text: str) -> list[str]:
    return re.findall(r'<td data-label="Door">([^<]+)</td>', text)


def location(answer: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert answer.status_code == 303, answer.text
    url = urlsplit(answer.headers["location"])
    return url.path, parse_qs(url.query)


async def test_the_switcher_lists_every_door_with_its_room_and_keeps_the_page(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)

    overview = await page(http, "/console/")
    knocks = await page(http, "/console/knocks", q="bob", state="", older="1_x")
    at_club = await page(http, "/console/knocks", door=CLUB, q="bob")
    detail = await page(http, f"/console/knocks/{bob_knock}")

    shown = switcher(overview)
    assert shown["label"] and shown["button"]
    assert shown["options"] == [f"default ({ROOM})", f"club ({CLUB_ROOM})"]
    assert shown["selected"] == ["default"] and shown["action"] == "/console/"
    # The page's filters go along; its place in the list does not (the door's starts afresh).
    assert switcher(knocks)["action"] == "/console/knocks"
    assert switcher(knocks)["kept"] == {"q": "bob"}
    assert switcher(at_club)["selected"] == [CLUB]
    assert switcher(detail)["action"] == f"/console/knocks/{bob_knock}"
    assert "<title>Overview · default · Knock</title>" in overview
    assert "<title>Knocks · club · Knock</title>" in at_club
    # Switching is the form's GET: the same page, at the other door.
    switched = await page(http, switcher(knocks)["action"], **switcher(knocks)["kept"], door=CLUB)
    assert listed(switched) == [BOB]


async def test_a_page_that_answered_a_post_switches_to_its_section(
    http: httpx.AsyncClient,
) -> None:
    blocklist = await page(http, "/console/blocklist", door=CLUB)

    plan = await http.post(
        f"/console/blocklist/block?door={CLUB}",
        data={"csrf": form_token(blocklist), "pattern": TROLL},
    )

    assert plan.status_code == 200 and f"<h1>Block <code>{TROLL}</code>?</h1>" in plan.text
    assert switcher(plan.text)["action"] == "/console/blocklist"
    assert switcher(plan.text)["selected"] == [CLUB]


async def test_every_nav_link_and_form_keeps_the_door(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await knock_at(services, homeserver, BOB, CLUB)
    nav = re.compile(r'<nav aria-label="Console">(.*?)</nav>', re.S)

    for path in ("/console/", "/console/review", "/console/knocks", "/console/invites"):
        text = await page(http, path, door=CLUB)
        found = nav.search(text)
        assert found is not None
        links = [html.unescape(a) for a in re.findall(r'href="([^"]+)"', found[1])]
        assert len(links) == 7 and all(link.endswith("?door=club") for link in links), links
    text = await page(http, "/console/blocklist", door=CLUB)
    posts = [a for a in actions(text) if not a.endswith("/sign-out")]
    # Blocking at the door (the allow-list is changed at the default door).
    assert posts == ["/console/blocklist/block?door=club"], posts


async def test_the_knocks_list_and_its_search_are_the_doors_and_name_each_knocks_door(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await knock_at(services, homeserver, ALICE)
    clock.advance(60)
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)
    clock.advance(60)
    await knock_at(services, homeserver, f"@bobby:{SERVER}")

    at_default = await page(http, "/console/knocks")
    at_club = await page(http, "/console/knocks", door=CLUB)
    searched = await page(http, "/console/knocks", door=CLUB, q="bob")

    assert listed(at_default) == [f"@bobby:{SERVER}", ALICE]
    assert door_cells(at_default) == ["default", "default"]
    assert "Every knock at door default" in words(at_default)
    assert listed(at_club) == [BOB] and door_cells(at_club) == [CLUB]
    assert listed(searched) == [BOB]  # @bobby knocked at the default door
    # The filter form and Clear the filters stay at the club.
    assert '<input type="hidden" name="door" value="club">' in at_club
    assert 'href="/console/knocks?door=club">Clear the filters' in at_club
    assert f'href="/console/knocks/{bob_knock}?door=club">{BOB}</a>' in at_club


async def test_pages_of_a_doors_knocks_stay_at_the_door(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    club = [f"@member{n:02}:{SERVER}" for n in range(52)]
    for user in club:
        await knock_at(services, homeserver, user, CLUB)
        clock.advance(1)
    await knock_at(services, homeserver, ALICE)

    first = await page(http, "/console/knocks", door=CLUB)
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following is not None
    second = await page(http, html.unescape(following[1]))

    assert parse_qs(urlsplit(html.unescape(following[1])).query)["door"] == [CLUB]
    assert len(listed(first)) == 50 and len(listed(second)) == 2
    assert sorted(listed(first) + listed(second)) == club  # Alice's knock is the default door's
    assert switcher(second)["selected"] == [CLUB]


async def test_a_knock_opened_by_id_shows_its_own_door_at_any_door(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)

    from_default = await page(http, f"/console/knocks/{bob_knock}")
    from_club = await page(http, f"/console/knocks/{bob_knock}", door=CLUB)

    assert f"Knock from {BOB}" in words(from_default)
    assert (
        '<dt>Door</dt><dd>club (<a href="/console/knocks?door=club">every knock at door club</a>)'
        in from_default
    )
    assert "Back to every knock at door default" in words(from_default)
    assert "<dt>Door</dt><dd>club</dd>" in from_club  # at its own door: nothing to switch to
    assert 'href="/console/knocks?door=club">Back to every knock at door club' in from_club


async def test_the_review_queue_is_the_doors_and_decisions_come_back_to_it(
    http: httpx.AsyncClient,
    services: Services,
    homeserver: FakeHomeserver,
    knock_state: KnockState,
) -> None:
    await services.blocking.block(services.blocklist.entry_for(TROLL, source="test"), MOD)
    at_default = await knock_at(services, homeserver, f"@tr0ll:{SERVER}")
    at_club = await knock_at(services, homeserver, f"@trolll:{SERVER}", CLUB)
    assert await knock_state(at_club) == (State.REVIEW, "fuzzy_match")

    queue = await page(http, "/console/review", door=CLUB)

    assert f"@trolll:{SERVER}" in queue and f"@tr0ll:{SERVER}" not in queue
    assert "1 knock waits for a moderator at door club" in words(queue)
    assert "Door club" in words(queue)
    assert 'data-count="review">1<' in queue
    approve = f"/console/review/{at_club}/approve?door=club"
    assert approve in actions(queue) and "/console/review/selected?door=club" in actions(queue)

    decided = await http.post(approve, data={"csrf": form_token(queue)})

    assert location(decided) == (
        "/console/review",
        {"done": ["approved"], "n": ["1"], "gone": ["0"], "door": [CLUB]},
    )
    after = await page(http, decided.headers["location"])
    assert "Approved 1 knock" in after and "Nothing waits for review at door club" in after
    default_queue = await page(http, "/console/review")
    assert f"@tr0ll:{SERVER}" in default_queue
    assert await knock_state(at_default) == (State.REVIEW, "fuzzy_match")


async def test_the_overview_counts_the_doors_knocks_and_shows_its_join_wave(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await knock_at(services, homeserver, ALICE)
    for n in range(CLUB_WAVE + 1):  # the last trips the club's join wave
        await knock_at(services, homeserver, f"@wave{n}:{SERVER}", CLUB)

    at_default = await page(http, "/console/")
    at_club = await page(http, "/console/", door=CLUB)

    assert re.search(r"queued</a></th><td>1</td><td>1</td>", at_default)
    assert re.search(r"queued</a></th><td>3</td><td>3</td>", at_club)
    assert re.search(r"review</a></th><td>1</td><td>1</td>", at_club)
    assert 'href="/console/knocks?state=review&amp;door=club"' in at_club
    assert "1 knocks wait for a moderator at door club" in words(at_club)
    assert "The join-wave breaker is tripped" in at_club
    assert "The join-wave breaker is tripped" not in at_default
    assert "this is door club's" in words(at_club)

    reset = await http.post(
        "/console/join-wave/reset?door=club", data={"csrf": form_token(at_club)}
    )

    assert location(reset) == ("/console/", {"door": [CLUB]})
    assert "Quiet: 0 knocks" in words(await page(http, "/console/", door=CLUB))
    reset_line = '<td data-label="Action">Reset the join wave</td>'
    assert reset_line in await page(http, "/console/audit", door=CLUB)
    assert reset_line not in await page(http, "/console/audit")


async def test_pending_invites_are_the_doors_with_its_own_invite_time(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await knock_at(services, homeserver, ALICE)
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)
    await drain(services)
    assert homeserver.membership(CLUB_ROOM, BOB) == "invite"

    at_default = await page(http, "/console/invites")
    at_club = await page(http, "/console/invites", door=CLUB)

    assert listed(at_default) == [ALICE] and door_cells(at_default) == ["default"]
    assert listed(at_club) == [BOB] and door_cells(at_club) == [CLUB]
    assert "revokes an invite 7 days after" in words(at_default)
    assert "revokes an invite 3 days after" in words(at_club)
    rescind = f"/console/invites/{bob_knock}/rescind?door=club"
    assert rescind in actions(at_club)

    answer = await http.post(rescind, data={"csrf": form_token(at_club)})

    assert location(answer) == ("/console/invites", {"done": ["rescinded"], "door": [CLUB]})
    assert homeserver.membership(CLUB_ROOM, BOB) == "leave"
    assert homeserver.membership(ROOM, ALICE) == "invite"
    after = await page(http, answer.headers["location"])
    assert "The invite was rescinded." in after and "No invite is pending at door club." in after


async def test_members_are_the_doors_rooms(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)
    await drain(services)
    homeserver.join(BOB, CLUB_ROOM)
    await services.follower.membership_changed(BOB, "join", BOB, room_id=CLUB_ROOM)
    homeserver.join(homeserver.add_user(ALICE, "Alice"), ROOM)

    at_default = await page(http, "/console/members")
    at_club = await page(http, "/console/members", door=CLUB)

    assert ALICE in at_default and BOB not in at_default
    assert BOB in at_club and ALICE not in at_club
    assert f"The joined members of door club's room ({CLUB_ROOM})" in words(at_club)
    assert f'href="/console/knocks/{bob_knock}?door=club"' in at_club
    assert "(door club)" in words(at_club)
    assert "/console/blocklist/block?door=club" in actions(at_club)


async def test_the_audit_is_the_doors_and_names_each_actions_door(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    await services.blocking.block(services.blocklist.entry_for(TROLL, source="api:admin"), MOD)
    at_default = await knock_at(services, homeserver, f"@tr0ll:{SERVER}")
    at_club = await knock_at(services, homeserver, f"@trolll:{SERVER}", CLUB)
    await services.moderation.deny(at_default, MOD, "default's")
    await services.moderation.deny(at_club, MOD, "the club's")

    audit = await page(http, "/console/audit", door=CLUB)
    filtered = await page(http, "/console/audit", door=CLUB, action="denied")

    text = words(audit)
    assert "the club's" in text and "default's" not in text
    assert door_cells(audit) == [CLUB, "every door"]  # the denial, then the block
    assert door_cells(filtered) == [CLUB]
    assert '<input type="hidden" name="door" value="club">' in audit
    assert "Every action at door club" in text


async def test_a_block_at_a_door_is_that_doors_own_and_refuses_knocks_there_only(
    http: httpx.AsyncClient, runtime: Runtime, services: Services, homeserver: FakeHomeserver
) -> None:
    everywhere = f"@spammer:{SERVER}"
    await services.blocking.block(services.blocklist.entry_for(everywhere, source="api:x"), MOD)
    blocklist = await page(http, "/console/blocklist", door=CLUB)
    assert "Entries you add here are door club's own" in words(blocklist)
    assert '<input type="hidden" name="door" value="club">' in blocklist  # the check's form

    plan = await http.post(
        f"/console/blocklist/block?door={CLUB}",
        data={"csrf": form_token(blocklist), "pattern": TROLL},
    )
    blocked = await http.post(
        f"/console/blocklist/block?door={CLUB}",
        data={"csrf": form_token(blocklist), "pattern": TROLL, "go": "1"},
    )

    assert "This entry is door club's own" in words(plan.text)
    assert location(blocked) == ("/console/blocklist", {"done": ["blocked"], "door": [CLUB]})
    at_club = await page(http, "/console/blocklist", door=CLUB)
    at_default = await page(http, "/console/blocklist")
    mine = re.search(r'id="mine-heading".*?</section>', at_club, re.S)
    assert mine is not None and TROLL in mine[0] and everywhere not in mine[0]
    # Every door's entry is shown at the door, without a button to unblock it there.
    assert everywhere in at_club and TROLL not in at_default
    assert f'Unblock<span class="visually-hidden"> {everywhere}' not in at_club
    troll_at_club = await knock_at(services, homeserver, TROLL, CLUB)
    troll_at_default = await knock_at(services, homeserver, TROLL)
    assert (await runtime.store.get_knock(troll_at_club)).state is State.REJECTED  # type: ignore[union-attr]
    assert (await runtime.store.get_knock(troll_at_default)).state is not State.REJECTED  # type: ignore[union-attr]


async def test_the_overviews_last_errors_are_the_doors(
    http: httpx.AsyncClient, services: Services, homeserver: FakeHomeserver
) -> None:
    bob_knock = await knock_at(services, homeserver, BOB, CLUB)
    homeserver.down()
    assert await services.worker.run_once()  # the invite's job waits for a retry
    homeserver.up()

    at_club = await page(http, "/console/", door=CLUB)
    at_default = await page(http, "/console/")

    errors = re.compile(r'<h2 id="errors-heading">Last errors</h2>(.*?)</section>', re.S)
    club_errors, default_errors = errors.search(at_club), errors.search(at_default)
    assert club_errors is not None and default_errors is not None
    assert f'href="/console/knocks/{bob_knock}?door=club">knock {bob_knock}</a>' in club_errors[1]
    assert words(default_errors[1]) == "None."
