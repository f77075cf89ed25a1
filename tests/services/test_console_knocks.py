"""The console's knocks, one knock, and pending invites, over HTTP on the fake homeserver."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.compose import Services
from knock.services.console.profiles import Profile
from knock.services.invites.intake import Outcome
from knock.services.runtime import Runtime
from knock.store import Store
from knock.web.app import KnockApp
from tests.clock import FakeClock
from tests.services.conftest import ROOM, KnockState, drain
from tests.services.console import KEY, form_token
from tests.services.fake_homeserver import SERVER, FakeHomeserver

CONSOLE_ACTOR = "console:api-key"
ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
CAROL = f"@carol:{SERVER}"
NOBODY = f"@nobody:{SERVER}"  # no such account: the worker turns the knock down
DAY = 86400.0


@pytest.fixture
def knock_options() -> dict[str, Any]:
    # Many knocks from one test client in a minute: not what the spam windows are about here.
    return {
        "api_key": KEY,
        "console_session_ttl": 30 * DAY,  # the tests move the clock by days
        "max_requests_per_window": 1000,
        "join_wave_threshold": 1000,
        "limit_per_user": None,
    }


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        await client.post("/console/sign-in", data={"api_key": KEY})
        yield client


class Knocker:
    """Knock as forms do, with answers, on any platform."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.count = 0

    async def __call__(self, typed: str, platform: str = "tally", **answers: str) -> Outcome:
        self.count += 1
        fields = [Field("Matrix ID", "matrix_id", None, typed)]
        fields += [Field(question, None, None, answer) for question, answer in answers.items()]
        submission = Submission(platform, f"s{self.count}", tuple(fields))
        return await self.services.intake.knock(submission, typed, None)


@pytest.fixture
def knock(services: Services) -> Knocker:
    return Knocker(services)


def listed(page: str) -> list[str]:
    """The Matrix IDs of the list's rows, top to bottom."""
    body = page.split("<tbody>", 1)[1] if "<tbody>" in page else ""
    return [html.unescape(m) for m in re.findall(r'/console/knocks/\w+">([^<]+)</a>', body)]


def words(page: str) -> str:
    """A page's text as read: tags gone, entities read, spaces collapsed."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found[1]) if found else None


async def show(http: httpx.AsyncClient, **query: str) -> list[str]:
    answer = await http.get("/console/knocks", params=query)
    assert answer.status_code == 200, answer.text
    return listed(answer.text)


async def invited(
    services: Services, homeserver: FakeHomeserver, knock: Knocker, users: Iterable[str]
) -> list[str]:
    ids = []
    for user in users:
        homeserver.add_user(user, user[1:].split(":")[0].title())
        ids.append((await knock(user)).knock_id)
    await drain(services)
    for user in users:
        assert homeserver.membership(ROOM, user) == "invite"
    return ids


async def test_the_list_shows_every_knock_newest_first_each_linked_to_its_page(
    http: httpx.AsyncClient,
    knock: Knocker,
    clock: FakeClock,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await knock(ALICE)
    clock.advance(60)
    await knock(BOB, platform="typeform")

    async def cached(user_ids: Iterable[str]) -> dict[str, Profile]:
        return {ALICE: Profile("Alice Liddell")} if ALICE in user_ids else {}

    monkeypatch.setattr(services.profiles, "of", cached)
    page = await http.get("/console/knocks")

    assert page.status_code == 200
    assert listed(page.text) == [BOB, ALICE]
    assert f'<a href="/console/knocks/{first.knock_id}">{ALICE}</a>' in page.text
    assert "Alice Liddell" in page.text
    text = words(page.text)
    assert "Received Matrix ID State Reason Platform" in text
    assert "queued" in text and "typeform" in text
    for field in ("Matrix ID or answer contains", "State", "Reason", "Platform"):
        assert f">{field}</label>" in page.text
    assert 'aria-current="page">Knocks</a>' in page.text
    assert link(page.text, "next") is None and link(page.text, "prev") is None


async def test_each_filter_narrows_the_list(
    http: httpx.AsyncClient,
    knock: Knocker,
    clock: FakeClock,
    services: Services,
    homeserver: FakeHomeserver,
) -> None:
    day_one = datetime.fromtimestamp(clock.now(), UTC).date()
    homeserver.add_user(ALICE)
    await knock(f"@Alice:{SERVER}", **{"Why join": "Gardening tips"})
    clock.advance(2 * DAY)
    await knock(NOBODY, platform="typeform", **{"Why join": "Cooking 100%_sure"})
    await drain(services)  # Alice is invited; nobody's account does not exist
    clock.advance(2 * DAY)
    homeserver.add_user(CAROL)
    await knock(CAROL, **{"Why join": "Chess"})
    day_three = datetime.fromtimestamp(clock.now(), UTC).date()

    assert await show(http) == [CAROL, NOBODY, ALICE]
    assert await show(http, state="invited") == [ALICE]
    assert await show(http, state="queued") == [CAROL]
    assert await show(http, reason="unknown_user") == [NOBODY]
    assert await show(http, platform="typeform") == [NOBODY]
    assert await show(http, platform="tally", state="queued") == [CAROL]
    assert await show(http, **{"from": str(day_three)}) == [CAROL]
    assert await show(http, to=str(day_one)) == [ALICE]
    assert await show(http, **{"from": str(day_one), "to": str(day_three)}) == [
        CAROL,
        NOBODY,
        ALICE,
    ]
    # Text: any case, in the Matrix ID, the id as typed, or an answer; % and _ taken literally.
    assert await show(http, q="ALICE") == [ALICE]
    assert await show(http, q="@Alice") == [ALICE]  # the id as typed kept its case
    assert await show(http, q="gardening") == [ALICE]
    assert await show(http, q="100%_s") == [NOBODY]
    assert await show(http, q="%") == [NOBODY]
    assert await show(http, q="o_") == []
    assert await show(http, q="nobody", state="invited") == []
    empty = await http.get("/console/knocks", params={"q": "nothing like this"})
    assert "No knock matches these filters." in empty.text


async def test_a_filter_that_cannot_be_read_is_said_next_to_its_field(
    http: httpx.AsyncClient, knock: Knocker
) -> None:
    await knock(ALICE)

    answer = await http.get(
        "/console/knocks", params={"from": "2024-02-30", "state": "sleeping", "q": "x" * 201}
    )

    assert answer.status_code == 400
    text = words(answer.text)
    assert "Write a date from 1970 on as YYYY-MM-DD." in text
    assert "Choose a state from the list." in text
    assert "Search for at most 200 characters." in text
    assert 'aria-describedby="from-problem" aria-invalid="true"' in answer.text
    assert listed(answer.text) == []


async def test_pages_of_fifty_keep_the_filters_and_lose_no_knock(
    http: httpx.AsyncClient, knock: Knocker, clock: FakeClock
) -> None:
    # Every knock in the same second: the pages are told apart by the knocks' ids too.
    users = [f"@person{n:03}:{SERVER}" for n in range(55)]
    for user in users:
        await knock(user)
    clock.advance(60)
    await knock(f"@other:{SERVER}", platform="typeform")

    first = await http.get("/console/knocks", params={"platform": "tally"})
    following = link(first.text, "next")
    assert following is not None and "platform=tally" in following
    assert link(first.text, "prev") is None
    second = await http.get(following)
    back = link(second.text, "prev")
    assert back is not None and "platform=tally" in back
    assert link(second.text, "next") is None
    again = await http.get(back)

    shown = listed(first.text)
    assert len(shown) == 50 and len(listed(second.text)) == 5
    assert sorted(shown + listed(second.text)) == users
    assert listed(again.text) == shown
    assert link(again.text, "prev") is None


async def test_the_knocks_page_asks_for_a_session(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as stranger:
        for path in ("/console/knocks", "/console/knocks/abc", "/console/invites"):
            answer = await stranger.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/"


async def test_a_knock_page_shows_its_facts_answers_and_whole_history(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
) -> None:
    homeserver.add_user(ALICE)
    made = await knock(ALICE, **{"Why join": "Gardening <tips>"})
    await drain(services)

    page = await http.get(f"/console/knocks/{made.knock_id}")

    assert page.status_code == 200
    text = words(page.text)
    assert f"Knock from {ALICE}" in text
    assert "State invited" in text and "Platform tally" in text
    assert "Matrix ID " + ALICE in text
    assert "Why join Gardening <tips>" in text and "&lt;tips&gt;" in page.text
    events = re.findall(r'data-label="Event">(\w+)<', page.text)
    assert events[:3] == ["received", "queued", "invited"]
    assert "tally" in re.findall(r'data-label="Actor" class="mxid">([^<]+)<', page.text)[0]


async def test_block_list_evidence_reads_as_words(
    http: httpx.AsyncClient, knock: Knocker, services: Services
) -> None:
    troll = f"@troll:{SERVER}"
    await services.blocking.block(
        services.blocklist.entry_for(troll, source="test"), Actor.api("admin")
    )
    held = await knock(f"@tr0ll:{SERVER}")
    assert held.state is State.REVIEW

    page = await http.get(f"/console/knocks/{held.knock_id}")

    text = words(page.text)
    assert f"Block-list: looks like {troll}" in text
    assert '[{"entry"' not in page.text and "[{&#34;entry" not in page.text


@pytest.mark.parametrize(
    "knock_options", [{"api_key": KEY, "store_form_answers": False}], ids=["answers-off"]
)
async def test_without_stored_answers_the_page_says_none_are_kept(
    http: httpx.AsyncClient, knock: Knocker
) -> None:
    made = await knock(ALICE, **{"Why join": "Gardening"})

    page = await http.get(f"/console/knocks/{made.knock_id}")

    assert "No answers kept: Knock is set not to keep form answers" in words(page.text)
    assert "Gardening" not in page.text


async def test_an_unknown_knock_is_a_404_page(http: httpx.AsyncClient) -> None:
    for knock_id in ("0123456789abcdef0123", "x" * 300):
        page = await http.get(f"/console/knocks/{knock_id}")
        assert page.status_code == 404
        assert "<h1>No such knock</h1>" in page.text
        assert 'aria-current="page">Knocks</a>' in page.text  # still signed in, the nav shown


async def test_pending_invites_show_age_and_reminder_state(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
    clock: FakeClock,
) -> None:
    [alice_knock, _] = await invited(services, homeserver, knock, [ALICE, BOB])
    clock.advance(services.settings.reminder_after + 3600)
    await services.invites.remind(alice_knock, Actor.api("admin"))
    homeserver.join(BOB, ROOM)  # accepted: no longer pending, though Knock has not seen it yet

    page = await http.get("/console/invites")

    assert page.status_code == 200
    text = words(page.text)
    assert ALICE in text and BOB not in text
    assert "2 days 1 hour" in text  # waiting since the invite
    assert "Sent " in text  # Alice's reminder
    assert f'href="/console/knocks/{alice_knock}"' in page.text
    assert 'aria-current="page">Pending invites</a>' in page.text
    assert ">Remind now<" not in page.text  # reminded already: no second reminder
    assert "Rescind" in page.text


async def test_remind_now_sends_the_reminder_once_and_writes_it_down(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
    store: Store,
    knock_state: KnockState,
) -> None:
    [knock_id] = await invited(services, homeserver, knock, [ALICE])
    page = await http.get("/console/invites")
    assert "Not yet: due" in words(page.text)
    token = form_token(page.text)

    sent = await http.post(f"/console/invites/{knock_id}/remind", data={"csrf": token})
    again = await http.post(f"/console/invites/{knock_id}/remind", data={"csrf": token})
    await services.follower.check_invites()  # Knock's own scan, later: no second reminder

    assert sent.status_code == 303 and sent.headers["location"] == "/console/invites?done=reminded"
    assert again.headers["location"] == "/console/invites?done=already-reminded"
    [dm] = homeserver.account_data[("@knock:" + SERVER, "m.direct")][ALICE]
    [reminder] = homeserver.messages(dm)
    assert "your invite is still waiting" in reminder["content"]["body"]
    reminded = [h for h in await store.history(knock_id) if h.event == "reminded"]
    assert [(h.actor, h.detail) for h in reminded] == [(CONSOLE_ACTOR, None)]
    assert await knock_state(knock_id) == (State.INVITED, None)
    shown = await http.get(sent.headers["location"])
    assert '<p class="flash" role="status">The reminder was sent.</p>' in shown.text
    assert "Sent " in words(shown.text)


async def test_rescind_revokes_the_invite(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
    store: Store,
    knock_state: KnockState,
) -> None:
    [knock_id] = await invited(services, homeserver, knock, [ALICE])
    token = form_token((await http.get("/console/invites")).text)

    answer = await http.post(f"/console/invites/{knock_id}/rescind", data={"csrf": token})
    again = await http.post(f"/console/invites/{knock_id}/rescind", data={"csrf": token})

    assert answer.headers["location"] == "/console/invites?done=rescinded"
    assert again.headers["location"] == "/console/invites?done=not-pending"
    assert homeserver.membership(ROOM, ALICE) == "leave"
    assert await knock_state(knock_id) == (State.RESCINDED, None)
    [line] = [h for h in await store.history(knock_id) if h.event == "rescinded"]
    assert line.actor == CONSOLE_ACTOR
    page = await http.get(answer.headers["location"])
    assert "The invite was rescinded." in page.text and "No invite is pending." in page.text


async def test_a_post_without_the_form_token_does_nothing(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
    store: Store,
) -> None:
    [knock_id] = await invited(services, homeserver, knock, [ALICE])

    for action in ("remind", "rescind"):
        for data in ({"csrf": "forged"}, {}):
            answer = await http.post(f"/console/invites/{knock_id}/{action}", data=data)
            assert answer.status_code == 403 and "Nothing was done" in answer.text

    assert homeserver.membership(ROOM, ALICE) == "invite"
    assert [h.event for h in await store.history(knock_id)] == ["received", "queued", "invited"]
    assert not homeserver.calls("createRoom")


async def test_a_flash_is_chosen_by_its_code_never_written_from_the_query(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/console/invites", params={"done": "<b>you were hacked</b>"})

    assert "hacked" not in page.text and 'class="flash"' not in page.text


async def test_when_the_homeserver_is_down_the_invites_page_says_so(
    http: httpx.AsyncClient,
    knock: Knocker,
    services: Services,
    homeserver: FakeHomeserver,
) -> None:
    [knock_id] = await invited(services, homeserver, knock, [ALICE])
    token = form_token((await http.get("/console/invites")).text)
    homeserver.down()

    page = await http.get("/console/invites")
    answer = await http.post(f"/console/invites/{knock_id}/rescind", data={"csrf": token})

    assert page.status_code == 503
    assert "The homeserver did not answer" in page.text
    assert answer.headers["location"] == "/console/invites?done=failed"
