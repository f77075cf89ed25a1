"""The console's review queue over HTTP on the fake homeserver: what it shows, what it decides."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from knock.core.forms import Field, Submission
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.console.profiles import Profile
from knock.services.runtime import Runtime
from knock.store import Store
from tests.clock import FakeClock
from tests.services.conftest import ROOM, KnockState, drain
from tests.services.console import KEY, form_token, sign_in
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MOD = Actor.api("admin")
TROLL = f"@troll:{SERVER}"
LOOK_ALIKES = [f"@tr0ll:{SERVER}", f"@tr0ll_99:{SERVER}", f"@trolll:{SERVER}"]
CONSOLE_ACTOR = "console:api-key"


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "console_session_ttl": "1h"}


def cards(page: str) -> dict[str, str]:
    """Each knock's card on the review page, by Matrix ID, as served (escaped)."""
    found = re.findall(r'<article class="held".*?</article>', page, flags=re.S)
    by_id = {}
    for card in found:
        who = re.search(r'class="mxid">([^<]+)<', card)
        assert who is not None
        by_id[html.unescape(who[1])] = card
    return by_id


def words(card: str) -> str:
    """A card's text as read: tags gone, entities read, spaces collapsed."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", card).split()))


async def held(
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    users: Iterable[str],
    **answers: str,
) -> list[str]:
    """Block TROLL and knock as each look-alike (a minute apart): each is held for review."""
    await services.blocking.block(services.blocklist.entry_for(TROLL, source="test"), MOD)
    knocks = []
    for n, user in enumerate(users):
        homeserver.add_user(user)
        fields = (
            Field("Matrix ID", "matrix_id", None, user),
            *(Field(question, None, None, answer) for question, answer in answers.items()),
        )
        outcome = await services.intake.knock(Submission("tally", f"r{n}", fields), user, None)
        assert outcome.state is State.REVIEW, outcome
        knocks.append(outcome.knock_id)
        clock.advance(60)
    return knocks


async def review_page(http: httpx.AsyncClient, query: str = "") -> str:
    page = await http.get(f"/console/review{query}")
    assert page.status_code == 200, page.text
    return page.text


async def test_without_a_session_the_review_page_sends_the_browser_to_sign_in(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/console/review")

    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


async def test_an_empty_queue_says_so(http: httpx.AsyncClient) -> None:
    await sign_in(http)

    page = await review_page(http)

    assert "<h1>Review</h1>" in page
    assert "Nothing waits for review" in page
    assert "Approve selected" not in page and "review.js" not in page
    assert 'aria-current="page">Review <span class="count" data-count="review">0<' in page


async def test_held_knocks_are_listed_oldest_first_with_answers_and_why_in_words(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await held(
        services, homeserver, clock, LOOK_ALIKES, **{"Why do you want to join?": "I <3 books"}
    )
    await sign_in(http)

    page = await review_page(http)

    shown = cards(page)
    assert list(shown) == LOOK_ALIKES  # oldest first
    assert "3 knocks wait for a moderator, oldest first." in page
    assert 'data-count="review">3<' in page
    first = words(shown[f"@tr0ll:{SERVER}"])
    assert f"Looks like {TROLL}: 0→o" in first
    assert "From Tally" in first and "(3 minutes ago)" in first
    assert "Why do you want to join? I <3 books" in first
    assert f"Matrix ID @tr0ll:{SERVER}" in first  # a field's key and label are shown once
    assert "matrix_id" not in first
    assert f'Looks like {TROLL}: 0→o, removed suffix "_99"' in words(shown[LOOK_ALIKES[1]])
    assert f'Looks like {TROLL}: collapsed repeated "lll"' in words(shown[LOOK_ALIKES[2]])
    # Every control is labelled, for each knock.
    for user in LOOK_ALIKES:
        card = shown[user]
        assert f"Select {user}</label>" in card and 'form="selected"' in card
        assert f'Approve<span class="visually-hidden"> {user}</span>' in card
        assert 'Note<span class="visually-hidden"> on ' in card
    assert "I &lt;3 books" in page  # escaped
    assert '<script src="/knock/assets/review.js" defer></script>' in page
    assert "<script>" not in page and "style=" not in page


async def test_names_and_avatars_come_from_the_profile_cache(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pictured, plain = LOOK_ALIKES[:2]
    await held(services, homeserver, clock, [pictured, plain])
    asked: list[list[str]] = []

    async def cached(user_ids: Iterable[str]) -> dict[str, Profile]:
        asked.append(list(user_ids))
        return {pictured: Profile("Tr0ll <b>King</b>", has_avatar=True)}

    monkeypatch.setattr(services.profiles, "of", cached)
    await sign_in(http)

    shown = cards(await review_page(http))

    assert asked == [[pictured, plain]]
    assert "Display name: Tr0ll &lt;b&gt;King&lt;/b&gt;" in shown[pictured]
    assert 'src="/console/avatars/%40tr0ll%3Ahs.test" alt=""' in shown[pictured]
    assert "Display name" not in shown[plain] and "<img" not in shown[plain]


async def test_approve_queues_the_invite_and_comes_back_with_a_confirmation(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
    store: Store,
) -> None:
    [knock_id] = await held(services, homeserver, clock, LOOK_ALIKES[:1])
    await sign_in(http)
    token = form_token(await review_page(http))

    answer = await http.post(f"/console/review/{knock_id}/approve", data={"csrf": token})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/review?done=approved&n=1&gone=0"
    assert await knock_state(knock_id) == (State.QUEUED, None)
    await drain(services)
    assert homeserver.membership(ROOM, LOOK_ALIKES[0]) == "invite"
    approved = [h for h in await store.history(knock_id) if h.event == "approved"]
    assert [(h.actor, h.detail) for h in approved] == [(CONSOLE_ACTOR, None)]
    page = await review_page(http, "?" + answer.headers["location"].split("?")[1])
    assert '<p class="flash" role="status">Approved 1 knock: its invite is on the way.</p>' in page
    assert "Nothing waits for review" in page


async def test_deny_with_a_note_keeps_the_note_in_the_history_and_invites_nobody(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
    store: Store,
) -> None:
    [knock_id] = await held(services, homeserver, clock, LOOK_ALIKES[:1])
    await sign_in(http)
    token = form_token(await review_page(http))

    answer = await http.post(
        f"/console/review/{knock_id}/deny",
        data={"csrf": token, "note": "  same person as last week  "},
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/review?done=denied&n=1&gone=0"
    assert await knock_state(knock_id) == (State.REJECTED, "denied")
    await drain(services)
    assert homeserver.membership(ROOM, LOOK_ALIKES[0]) is None
    denied = [h for h in await store.history(knock_id) if h.event == "denied"]
    assert [(h.actor, h.detail) for h in denied] == [(CONSOLE_ACTOR, "same person as last week")]
    page = await review_page(http, "?done=denied&n=1&gone=0")
    assert "Denied 1 knock. Nobody is told." in page


async def test_approve_selected_and_deny_selected_decide_several_at_once(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
    store: Store,
) -> None:
    first, second, third = await held(services, homeserver, clock, LOOK_ALIKES)
    await sign_in(http)
    token = form_token(await review_page(http))

    approved = await http.post(
        "/console/review/selected",
        data={"csrf": token, "action": "approve", "knock": [first, third], "note": "ignored"},
    )
    denied = await http.post(
        "/console/review/selected",
        data={"csrf": token, "action": "deny", "knock": [second, first], "note": "a wave"},
    )

    assert approved.headers["location"] == "/console/review?done=approved&n=2&gone=0"
    # The first was approved already: it is counted, not decided twice.
    assert denied.headers["location"] == "/console/review?done=denied&n=1&gone=1"
    states = [(await knock_state(k))[0] for k in (first, second, third)]
    assert states == [State.QUEUED, State.REJECTED, State.QUEUED]
    await drain(services)
    assert [homeserver.membership(ROOM, user) for user in LOOK_ALIKES] == ["invite", None, "invite"]
    notes = [(h.event, h.actor, h.detail) for h in await store.history(second)][-1]
    assert notes == ("denied", CONSOLE_ACTOR, "a wave")
    page = await review_page(http, "?done=denied&n=1&gone=1")
    assert "Denied 1 knock. Nobody is told. 1 was no longer waiting for review." in page


async def test_selecting_nothing_does_nothing_and_says_so(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await held(services, homeserver, clock, LOOK_ALIKES[:1])
    await sign_in(http)
    token = form_token(await review_page(http))

    answer = await http.post("/console/review/selected", data={"csrf": token, "action": "deny"})
    odd = await http.post(
        "/console/review/selected", data={"csrf": token, "action": "ban", "knock": "x"}
    )

    assert answer.headers["location"] == "/console/review?done=none"
    assert odd.headers["location"] == "/console/review?done=unknown"
    assert "select at least one knock first" in await review_page(http, "?done=none")
    assert len(cards(await review_page(http))) == 1


async def test_a_knock_decided_meanwhile_is_not_decided_again(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
) -> None:
    [knock_id] = await held(services, homeserver, clock, LOOK_ALIKES[:1])
    await sign_in(http)
    token = form_token(await review_page(http))
    await services.moderation.deny(knock_id, MOD, "from the moderation room")

    answer = await http.post(f"/console/review/{knock_id}/approve", data={"csrf": token})
    unknown = await http.post("/console/review/no-such-knock/deny", data={"csrf": token})

    assert answer.headers["location"] == "/console/review?done=gone&n=0&gone=1"
    assert unknown.headers["location"] == "/console/review?done=gone&n=0&gone=1"
    assert await knock_state(knock_id) == (State.REJECTED, "denied")
    assert "Nothing was done: no longer waiting" in await review_page(http, "?done=gone")


@pytest.mark.parametrize("route", ["{id}/approve", "{id}/deny", "selected"])
@pytest.mark.parametrize("token", [None, "forged"])
async def test_a_post_without_the_form_token_does_nothing(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
    route: str,
    token: str | None,
) -> None:
    [knock_id] = await held(services, homeserver, clock, LOOK_ALIKES[:1])
    await sign_in(http)
    data = {"action": "approve", "knock": knock_id, "note": "x"}
    if token:
        data["csrf"] = token

    refused = await http.post(f"/console/review/{route.format(id=knock_id)}", data=data)

    assert refused.status_code == 403 and "Nothing was done" in refused.text
    assert await knock_state(knock_id) == (State.REVIEW, "fuzzy_match")


async def test_a_post_without_a_session_does_nothing(
    http: httpx.AsyncClient,
    services: Runtime,
    homeserver: FakeHomeserver,
    clock: FakeClock,
    knock_state: KnockState,
) -> None:
    [knock_id] = await held(services, homeserver, clock, LOOK_ALIKES[:1])

    answer = await http.post(f"/console/review/{knock_id}/approve", data={"csrf": "x"})

    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    assert await knock_state(knock_id) == (State.REVIEW, "fuzzy_match")


@pytest.mark.parametrize(
    "query",
    [
        "?done=%3Cscript%3Ealert(1)%3C/script%3E",
        "?done=approved&n=%3Cb%3E",
        "?done=approved&n=99999999",
        "?done=",
    ],
)
async def test_the_confirmation_is_chosen_by_a_code_never_reflected(
    http: httpx.AsyncClient, query: str
) -> None:
    await sign_in(http)

    page = await review_page(http, query)

    assert "script" not in page.split("</main>")[0].split("<main")[1]
    assert "<b>" not in page and "99999999" not in page
    if "approved" in query:
        assert "Approved 0 knocks" in page


@pytest.mark.parametrize(
    "knock_options",
    [{"api_key": KEY, "store_form_answers": False}],
    ids=["answers_not_kept"],
)
async def test_when_answers_are_not_kept_the_page_says_so(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await held(services, homeserver, clock, LOOK_ALIKES[:1], why="secret")
    await sign_in(http)

    page = await review_page(http)

    assert "Answers are not kept (STORE_FORM_ANSWERS is off)." in page
    assert "secret" not in page


@pytest.mark.parametrize(
    "knock_options",
    [{"api_key": KEY, "repair_action": "review"}],
    ids=["repairs_reviewed"],
)
async def test_a_repaired_id_says_what_was_typed_and_done(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, submit: Any
) -> None:
    alice = homeserver.add_user(f"@alice:{SERVER}")
    await submit(alice, typed=f"alice@{SERVER}")
    await sign_in(http)

    card = words(cards(await review_page(http))[alice])

    assert f'The Matrix ID was repaired (typed as "alice@{SERVER}"):' in card


async def test_a_long_queue_shows_the_oldest_and_counts_them_all(
    services: Runtime, homeserver: FakeHomeserver, clock: FakeClock
) -> None:
    await held(services, homeserver, clock, LOOK_ALIKES)

    queue = await services.reviews.queue("default", limit=2)

    assert [h.knock.user_id for h in queue.held] == LOOK_ALIKES[:2] and queue.total == 3
