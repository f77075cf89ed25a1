"""The console's block-list page over HTTP on the fake homeserver: the same actions as the API."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store import Store, StoredEntry
from knock.web.app import KnockApp
from tests.services.conftest import ROOM, KnockState, Submit, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MEMBER = f"@spam-member:{SERVER}"  # joined
INVITEE = f"@spam-invitee:{SERVER}"  # invited by Knock, not yet joined
WAITING = f"@spam-waiting:{SERVER}"  # knocked, not yet invited
PATTERN = f"@spam-*:{SERVER}"
POLICY_ROOM = f"!policy:{SERVER}"
CONSOLE = "console:api-key"
THRESHOLD_1 = pytest.mark.parametrize(
    "knock_options",
    [{"api_key": KEY, "block_confirm_threshold": 1}],
    ids=["threshold_1"],
)


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime), client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        await sign_in(client)
        yield client


async def page(http: httpx.AsyncClient, path: str = "/console/blocklist") -> str:
    answer = await http.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


async def post(http: httpx.AsyncClient, route: str, **fields: str) -> httpx.Response:
    """Post a form of the block-list page, with the session's form token."""
    token = form_token(await page(http))
    return await http.post(f"/console/blocklist/{route}", data={"csrf": token, **fields})


def text_of(markup: str) -> str:
    """The page's words, as a person reads them: tags gone, spaces folded."""
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))
    return re.sub(r" ([?.,;:)])", r"\1", words)


def section(markup: str, heading_id: str) -> str:
    """The markup of one section of the page, by its heading's id."""
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', markup, re.S)
    assert found is not None, f"no section {heading_id}"
    return found[0]


async def room_with_everyone(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit
) -> dict[str, str]:
    """Knock ids by person: a member, an invitee, and a knock still queued."""
    knocks = {}
    for user in (MEMBER, INVITEE):
        homeserver.add_user(user)
        knocks[user] = (await submit(user)).knock_id
    await drain(services)
    homeserver.join(MEMBER, ROOM)
    await services.follower.membership_changed(MEMBER, "join", MEMBER)
    homeserver.add_user(WAITING)
    knocks[WAITING] = (await submit(WAITING)).knock_id
    return knocks


async def test_without_a_session_the_page_asks_to_sign_in(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        answer = await client.get("/console/blocklist")

    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


async def test_the_page_shows_every_list_with_who_when_why_and_status(
    http: httpx.AsyncClient, services: Runtime, store: Store
) -> None:
    blocklist = services.blocklist
    await blocklist.add(blocklist.entry_for(f"@troll:{SERVER}", reason="trolling", source="cli"))
    await blocklist.hold(blocklist.entry_for("evil.example", reason="spam wave", source="file"))
    await blocklist.add(blocklist.entry_for(f"@friend:{SERVER}", allow=True, reason="vouched"))
    origin = f"policy:{POLICY_ROOM}"
    policy = StoredEntry("@bad*:*", False, origin, origin, "ban evasion", services.clock.now())
    await store.blocklist.add(policy)
    await blocklist.load()

    markup = await page(http)

    blocked = text_of(section(markup, "blocked-heading"))
    assert f"@troll:{SERVER} trolling cli" in blocked and "active" in blocked
    assert "evil.example spam wave file" in blocked and "held" in blocked
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", blocked)
    assert f"Unblock @troll:{SERVER}" in blocked and "Unblock evil.example" in blocked
    assert "Confirm evil.example" in blocked and f"Confirm @troll:{SERVER}" not in blocked
    policy_rows = text_of(section(markup, "policy-heading"))
    assert f"@bad*:* ban evasion {POLICY_ROOM}" in policy_rows
    assert "Read-only" in policy_rows and "Unblock" not in policy_rows
    allowed = text_of(section(markup, "allowed-heading"))
    assert f"@friend:{SERVER} vouched api" in allowed
    assert f"Remove @friend:{SERVER} from the allow-list" in allowed
    assert "1 held entry waits for a moderator" in text_of(markup)
    assert '<label for="block-pattern">Matrix ID or pattern</label>' in markup
    assert 'aria-current="page">Block-list</a>' in markup


async def test_blocking_shows_a_dry_run_first_and_changes_nothing(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knocks = await room_with_everyone(services, homeserver, submit)

    answer = await post(http, "block", pattern=PATTERN, reason="spam wave")

    assert answer.status_code == 200
    words = text_of(answer.text)
    assert f"Block {PATTERN}?" in words and "Nothing has changed yet" in words
    assert f"Members (1) They would be kicked from the room. {MEMBER}" in words
    assert f"Invitees (1) Their invites would be revoked. {INVITEE}" in words
    assert f"Knockers (1) Their knocks would be turned down. {WAITING}" in words
    assert "Reason: spam wave" in words
    assert homeserver.calls("kick", status=None) == []
    assert homeserver.membership(ROOM, MEMBER) == "join"
    assert await knock_state(knocks[WAITING]) == (State.QUEUED, None)
    assert await services.blocklist.entries() == []
    assert 'name="go" value="1"' in answer.text and ">Block</button>" in answer.text


async def test_going_ahead_removes_the_member_as_the_console_and_says_so(
    http: httpx.AsyncClient,
    services: Runtime,
    store: Store,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
) -> None:
    knocks = await room_with_everyone(services, homeserver, submit)

    answer = await post(http, "block", pattern=PATTERN, reason="spam wave", go="1")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/blocklist?done=blocked"
    assert homeserver.membership(ROOM, MEMBER) == "leave"
    assert homeserver.membership(ROOM, INVITEE) == "leave"
    assert (await knock_state(knocks[WAITING]))[0] is State.BLOCKED
    [stored] = await services.blocklist.entries()
    assert (stored.pattern, stored.source, stored.reason, stored.held) == (
        PATTERN,
        CONSOLE,
        "spam wave",
        False,
    )
    history = await store.history(knocks[MEMBER])
    assert history[-1].actor == CONSOLE
    shown = await page(http, answer.headers["location"])
    assert '<p class="flash" role="status">Blocked. Everyone it covers was removed' in shown


@THRESHOLD_1
async def test_past_the_threshold_going_ahead_holds_the_entry_until_confirmed(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver
) -> None:
    crowd = [f"@spam-{n}:{SERVER}" for n in range(2)]
    for user in crowd:
        homeserver.join(user, ROOM)

    dry = await post(http, "block", pattern=PATTERN)
    held = await post(http, "block", pattern=PATTERN, go="1")
    still_in = [homeserver.membership(ROOM, user) for user in crowd]
    [stored] = await services.blocklist.entries()
    confirmed = await post(http, "block", pattern=PATTERN, go="1", confirm="1")

    assert "more than BLOCK_CONFIRM_THRESHOLD (1): going ahead holds" in text_of(dry.text)
    assert held.status_code == 409
    words = text_of(held.text)
    assert f"Confirm blocking {PATTERN}" in words and "Held:" in words
    assert all(user in words for user in crowd)
    assert 'name="confirm" value="1"' in held.text and ">Confirm</button>" in held.text
    assert ">Unblock instead</button>" in held.text
    assert still_in == ["join", "join"] and stored.held
    assert services.blocklist.check(crowd[0]).verdict == "block"  # new knocks are refused
    assert confirmed.status_code == 303
    assert [homeserver.membership(ROOM, user) for user in crowd] == ["leave", "leave"]


@THRESHOLD_1
async def test_a_held_entrys_confirm_shows_who_goes_then_puts_it_in_force(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver
) -> None:
    crowd = [f"@spam-{n}:{SERVER}" for n in range(2)]
    for user in crowd:
        homeserver.join(user, ROOM)
    entry = services.blocklist.entry_for(PATTERN, reason="wave", source="file")
    await services.blocklist.hold(entry)
    markup = await page(http)
    assert f"Confirm {PATTERN}" in text_of(markup)

    asked = await post(http, "block", pattern=PATTERN, reason="wave", confirm="1")
    unchanged = [homeserver.membership(ROOM, user) for user in crowd]
    done = await post(http, "block", pattern=PATTERN, reason="wave", go="1", confirm="1")

    assert asked.status_code == 200
    words = text_of(asked.text)
    assert f"Confirm blocking {PATTERN}?" in words and "The entry is held" in words
    assert all(user in words for user in crowd) and ">Confirm</button>" in asked.text
    assert unchanged == ["join", "join"]
    assert done.status_code == 303 and done.headers["location"].endswith("done=blocked")
    assert [homeserver.membership(ROOM, user) for user in crowd] == ["leave", "leave"]
    assert not any(e.held for e in await services.blocklist.entries())


async def test_unblock_removes_the_entry(http: httpx.AsyncClient, services: Runtime) -> None:
    troll = f"@troll:{SERVER}"
    await services.blocking.block(services.blocklist.entry_for(troll), Actor.api("mod"))

    answer = await post(http, "unblock", pattern=troll)
    again = await post(http, "unblock", pattern=troll)

    assert answer.headers["location"] == "/console/blocklist?done=unblocked"
    assert await services.blocklist.entries() == []
    assert services.blocklist.check(troll).verdict == "allow"
    assert again.headers["location"] == "/console/blocklist?done=not-blocked"
    assert "no longer on the block-list; nothing was done" in await page(
        http, again.headers["location"]
    )


async def test_allow_adds_to_the_allow_list_and_remove_takes_it_off(
    http: httpx.AsyncClient, services: Runtime
) -> None:
    blocklist = services.blocklist
    await blocklist.add(blocklist.entry_for(f"@spam*:{SERVER}"))
    friend = f"@spamfighter:{SERVER}"

    added = await post(http, "allow", pattern=friend, reason="a moderator vouched")
    allowed = blocklist.check(friend).verdict
    listed = text_of(section(await page(http), "allowed-heading"))
    removed = await post(http, "unallow", pattern=friend)

    assert added.headers["location"] == "/console/blocklist?done=allowed"
    assert allowed == "allow"
    assert f"{friend} a moderator vouched {CONSOLE}" in listed
    assert removed.headers["location"] == "/console/blocklist?done=unallowed"
    assert blocklist.check(friend).verdict == "block"


async def test_check_gives_the_verdict_and_every_match_in_words(
    http: httpx.AsyncClient, services: Runtime
) -> None:
    blocklist = services.blocklist
    await blocklist.add(blocklist.entry_for(f"@trollking:{SERVER}", reason="trolling"))

    looks_alike = text_of(await page(http, f"/console/blocklist/check?user_id=@tr0llk1ng:{SERVER}"))
    bare = text_of(await page(http, "/console/blocklist/check?user_id=trollking"))
    clear = text_of(await page(http, f"/console/blocklist/check?user_id=@alice:{SERVER}"))

    assert f"Verdict for @tr0llk1ng:{SERVER}" in looks_alike
    assert "Blocked: a knock from this id is refused." in looks_alike
    assert f"It is the same name, written differently, as @trollking:{SERVER}" in looks_alike
    assert "How the id was read to meet it: 0->o; 1->i." in looks_alike  # as `knock check` says
    assert f"Read as @trollking:{SERVER}" in bare  # completed as a knock's id is
    assert f"It is exactly the entry @trollking:{SERVER}" in bare
    assert "Allowed: nothing on the block-list stops" in clear
    assert "No entry on either list matches it." in clear


@pytest.mark.parametrize("pattern", ["*", "@*:*", "not a pattern"])
async def test_a_refused_pattern_is_said_beside_the_field_with_the_value_kept(
    http: httpx.AsyncClient, services: Runtime, pattern: str
) -> None:
    answer = await post(http, "block", pattern=pattern, reason="everyone", go="1")

    assert answer.status_code == 422
    field = re.search(r'<input id="block-pattern"[^>]*>', answer.text)
    assert field is not None
    assert f'value="{html.escape(pattern)}"' in field[0] and 'aria-invalid="true"' in field[0]
    problem = re.search(r'<p class="problem" id="block-pattern-problem">([^<]*)</p>', answer.text)
    assert problem is not None and problem[1]
    if pattern != "not a pattern":
        assert "name a server instead" in html.unescape(problem[1])
    assert 'value="everyone"' in answer.text
    assert await services.blocklist.entries() == []


async def test_the_allow_form_says_what_is_wrong_too(
    http: httpx.AsyncClient, services: Runtime
) -> None:
    answer = await post(http, "allow", pattern="@*:*")

    assert answer.status_code == 422
    assert re.search(r'<input id="allow-pattern"[^>]*aria-invalid="true"', answer.text)
    assert "name a server instead" in html.unescape(answer.text)
    assert await services.blocklist.entries() == []


@pytest.mark.parametrize("route", ["block", "unblock", "allow", "unallow"])
async def test_a_post_without_the_form_token_does_nothing(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, route: str
) -> None:
    homeserver.join(MEMBER, ROOM)
    await services.blocklist.add(services.blocklist.entry_for(f"@troll:{SERVER}"))
    await services.blocklist.add(services.blocklist.entry_for(f"@friend:{SERVER}", allow=True))
    before = await services.blocklist.entries()
    fields = {"pattern": MEMBER if route in ("block", "allow") else f"@troll:{SERVER}", "go": "1"}

    forged = await http.post(f"/console/blocklist/{route}", data={"csrf": "forged", **fields})
    missing = await http.post(f"/console/blocklist/{route}", data=fields)

    assert forged.status_code == missing.status_code == 403
    assert "Nothing was done" in forged.text
    assert await services.blocklist.entries() == before
    assert homeserver.membership(ROOM, MEMBER) == "join"


async def test_a_homeserver_that_refuses_gets_a_page_saying_so_not_an_error(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.fail_next(1, 403, errcode="M_FORBIDDEN", endpoint="members")

    answer = await post(http, "block", pattern=PATTERN)

    assert answer.status_code == 502
    assert "That did not go through" in answer.text and "M_FORBIDDEN" in answer.text
    assert await services.blocklist.entries() == []


async def test_the_message_after_an_action_is_chosen_by_code_never_taken_from_the_address(
    http: httpx.AsyncClient,
) -> None:
    known = await page(http, "/console/blocklist?done=allowed")
    unknown = await page(http, "/console/blocklist?done=%3Cb%3Ehello%3C/b%3E")

    assert '<p class="flash" role="status">Added to the allow-list' in known
    assert 'class="flash"' not in unknown and "hello" not in unknown


async def test_a_reason_too_long_is_said_beside_its_field(
    http: httpx.AsyncClient, services: Runtime
) -> None:
    answer = await post(http, "block", pattern=PATTERN, reason="x" * 2001)

    assert answer.status_code == 422
    assert re.search(r'<input id="block-reason"[^>]*aria-invalid="true"', answer.text)
    assert "A reason is at most 2000 characters." in answer.text
    assert f'value="{PATTERN}"' in answer.text
    assert await services.blocklist.entries() == []
