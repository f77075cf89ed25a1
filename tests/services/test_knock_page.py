"""The knock page over HTTP on the fake homeserver: every answer a person can get, and the states.

The browser tests (tests/integration/browser) drive the same pages in Chromium on Synapse;
these cover the branches quickly: each refusal reads `received`, a status only moves forward,
the token is never the knock id, and nothing a person can post gets a 5xx.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knock.core import pow as proof_of_work
from knock.core.history import Actor
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.store import Store
from tests.clock import FakeClock
from tests.services.conftest import ROOM, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
TROLL = f"@troll:{SERVER}"
MOD = Actor.api("admin")
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "http://knock"}


@pytest.fixture
def knock_options(tmp_path: Path) -> dict[str, Any]:
    questions = tmp_path / "questions.txt"
    questions.write_text("Why do you want to join?\n\nWho sent you?\n", encoding="utf-8")
    return {
        "knock_page_questions_file": questions,
        "knock_page_room_name": "The Book Club",
        "limit_per_ip": "5/1h",
    }


async def knock(
    http: httpx.AsyncClient, matrix_id: str, *, headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    return await http.post(
        "/knock", data={"matrix_id": matrix_id, **fields}, headers=headers or SAME_ORIGIN
    )


async def state_of(http: httpx.AsyncClient, location: str) -> str:
    answer = await http.get(location, headers={"accept": "application/json"})
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


async def test_the_form_asks_for_a_matrix_id_and_the_questions_and_shows_no_room_id(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/knock")

    assert page.status_code == 200
    html = page.text
    assert '<label for="matrix_id">Matrix ID</label>' in html
    assert 'name="matrix_id"' in html and "@name:server" in html
    assert "Why do you want to join?" in html and "Who sent you?" in html
    assert "The Book Club" in html
    assert ROOM not in html and ROOM.split(":")[0][1:] not in html
    assert ">Knock</button>" in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_knock_redirects_to_a_random_status_link_that_reaches_invited(
    http: httpx.AsyncClient, services: Runtime, store: Store, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(ALICE)

    answer = await knock(http, ALICE, q1="I like books", q2="Bob")

    assert answer.status_code == 303
    location = answer.headers["location"]
    token = location.rsplit("/", 1)[1]
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    (stored,) = await store.list_knocks(user_id=ALICE)
    assert stored.knock_id not in location
    assert stored.source == "page"
    assert stored.door == "default"
    assert (await store.history(stored.knock_id))[0].actor == "form:page"
    assert await state_of(http, location) == "received"

    await drain(services)

    assert homeserver.membership(ROOM, ALICE) == "invite"
    assert await state_of(http, location) == "invited"
    page = await http.get(location)
    assert "You are invited" in page.text and "Element" in page.text and "Beeper" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"

    homeserver.join(ALICE, ROOM)
    await services.follower.membership_changed(ALICE, "join", ALICE)
    assert await state_of(http, location) == "joined"


async def test_answers_are_kept_with_the_knock(
    http: httpx.AsyncClient, store: Store, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(ALICE)

    await knock(http, ALICE, q1="I like books", q2="Bob")

    answers = await store.answers_of((await store.list_knocks(user_id=ALICE))[0].knock_id)
    assert answers == {  # each question once, by its label
        "Matrix ID": ALICE,
        "Why do you want to join?": "I like books",
        "Who sent you?": "Bob",
    }


async def test_refusals_read_received_like_a_held_knock(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver
) -> None:
    for user in (TROLL, f"@tr0ll:{SERVER}", ALICE):
        homeserver.add_user(user)
    await services.blocking.block(services.blocklist.entry_for(TROLL, source="test"), MOD)

    blocked = (await knock(http, TROLL)).headers["location"]
    held = (await knock(http, f"@tr0ll:{SERVER}")).headers["location"]
    honeypot = (await knock(http, ALICE, honeypot="spam")).headers["location"]
    await drain(services)

    assert [await state_of(http, link) for link in (blocked, held, honeypot)] == ["received"] * 3
    pages = [(await http.get(link)).text for link in (blocked, held)]
    words = [
        _words(page).replace(user, "ID")
        for page, user in zip(pages, (TROLL, f"@tr0ll:{SERVER}"), strict=True)
    ]
    assert words[0] == words[1]


async def test_an_unknown_account_reads_not_found_whether_blocked_or_not(
    http: httpx.AsyncClient, services: Runtime
) -> None:
    made_up = f"@nobody-at-all:{SERVER}"
    blocked_made_up = f"@made-up-troll:{SERVER}"
    await services.blocking.block(services.blocklist.entry_for(blocked_made_up, source="t"), MOD)

    links = [(await knock(http, user)).headers["location"] for user in (made_up, blocked_made_up)]
    await drain(services)

    assert [await state_of(http, link) for link in links] == ["not_found", "not_found"]
    page = await http.get(links[1])
    assert blocked_made_up in page.text and 'href="/knock"' in page.text


async def test_a_duplicate_shows_the_knock_it_duplicates(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver
) -> None:
    homeserver.add_user(ALICE)
    first = (await knock(http, ALICE)).headers["location"]
    second = (await knock(http, ALICE)).headers["location"]
    assert first != second

    await drain(services)

    assert [await state_of(http, link) for link in (first, second)] == ["invited", "invited"]


async def test_an_invite_that_is_rescinded_reads_expired_never_received_again(
    http: httpx.AsyncClient, services: Runtime, homeserver: FakeHomeserver, store: Store
) -> None:
    homeserver.add_user(ALICE)
    link = (await knock(http, ALICE)).headers["location"]
    await drain(services)

    await services.moderation.rescind(ALICE, None, MOD)

    assert await state_of(http, link) == "expired"
    (stored,) = await store.list_knocks(user_id=ALICE)
    assert stored.state is State.RESCINDED


async def test_an_invalid_id_shows_the_form_again_with_the_problem_and_the_typed_value(
    http: httpx.AsyncClient,
) -> None:
    answer = await knock(http, "not an id at all")

    assert answer.status_code == 422
    assert 'value="not an id at all"' in answer.text
    assert "That Matrix ID is not valid" in answer.text
    assert 'aria-invalid="true"' in answer.text


async def test_a_rate_limited_address_gets_a_page_saying_when_to_try_again(
    http: httpx.AsyncClient, homeserver: FakeHomeserver
) -> None:
    answers = [await knock(http, f"@person{n}:{SERVER}") for n in range(6)]

    assert [a.status_code for a in answers] == [303] * 5 + [429]
    assert answers[-1].headers["content-type"].startswith("text/html")
    assert int(answers[-1].headers["retry-after"]) > 0
    assert "Try again in" in answers[-1].text


async def test_a_post_from_another_site_is_refused(http: httpx.AsyncClient) -> None:
    cross = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    answer = await knock(http, ALICE, headers=cross)

    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")


class TestAllowedOrigins:
    @pytest.fixture
    def knock_options(self) -> dict[str, Any]:
        return {"allowed_origins": "https://club.example"}

    async def test_a_page_on_an_allowed_origin_may_post_and_others_may_not(
        self, http: httpx.AsyncClient, homeserver: FakeHomeserver
    ) -> None:
        homeserver.add_user(ALICE)
        allowed = {"sec-fetch-site": "cross-site", "origin": "https://club.example"}
        other = {"sec-fetch-site": "cross-site", "origin": "https://other.example"}

        assert (await knock(http, ALICE, headers=allowed)).status_code == 303
        assert (await knock(http, ALICE, headers=other)).status_code == 403
        # Knock's own page is always allowed, whatever ALLOWED_ORIGINS lists.
        assert (await knock(http, ALICE)).status_code == 303


async def test_an_unknown_link_is_404(http: httpx.AsyncClient) -> None:
    page = await http.get("/knock/" + "A" * 32)
    as_json = await http.get("/knock/" + "A" * 32, headers={"accept": "application/json"})

    assert (page.status_code, as_json.status_code) == (404, 404)
    assert page.headers["content-type"].startswith("text/html")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(["matrix_id", "q1", "q2", "honeypot", "pow_nonce", "other"]),
        st.text(max_size=300),
    ),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]
    ),
)
async def test_no_post_gets_a_5xx_or_json(
    http: httpx.AsyncClient, fields: dict[str, str], content_type: str
) -> None:
    if content_type.startswith("multipart"):
        answer = await http.post("/knock", files={k: (None, v) for k, v in fields.items()})
    else:
        body = httpx.QueryParams(fields).__str__().encode()
        answer = await http.post(
            "/knock", content=body, headers={**SAME_ORIGIN, "content-type": content_type}
        )
    assert answer.status_code in (303, 400, 422, 429), answer.text
    if answer.status_code != 303:
        assert answer.headers["content-type"].startswith("text/html")


class TestProofOfWork:
    @pytest.fixture
    def knock_options(self) -> dict[str, Any]:
        return {"knock_page_pow_bits": 8}

    async def test_a_post_needs_a_solved_challenge_valid_once(
        self, http: httpx.AsyncClient, store: Store, clock: FakeClock
    ) -> None:
        page = (await http.get("/knock")).text
        challenge = re.search(r'data-knock-pow="([^"]+)"', page)
        assert challenge is not None
        assert "needs JavaScript" in page

        unsolved = await knock(http, ALICE)
        solved = {"pow_challenge": challenge[1], "pow_nonce": proof_of_work.solve(challenge[1], 8)}
        first = await knock(http, ALICE, **solved)
        again = await knock(http, f"@bob:{SERVER}", **solved)

        assert unsolved.status_code == 400 and "JavaScript" in unsolved.text
        assert first.status_code == 303
        assert again.status_code == 400 and "already sent" in again.text
        assert [k.user_id for k in await store.list_knocks()] == [ALICE]

    async def test_plain_html_forms_need_it_too(self, http: httpx.AsyncClient) -> None:
        answer = await http.post(
            "/invite_from_form", data={"matrix_id": ALICE}, headers={"origin": "https://f.test"}
        )
        fetched = await http.get("/knock/challenge")
        text = fetched.json()["challenge"]
        nonce = proof_of_work.solve(text, 8)
        solved = await http.post(
            "/invite_from_form",
            data={"matrix_id": ALICE, "pow_challenge": text, "pow_nonce": nonce},
            headers={"origin": "https://f.test"},
        )

        assert answer.status_code == 400
        assert solved.status_code == 202
        assert fetched.headers["access-control-allow-origin"] == "*"


def _words(html: str) -> str:
    """A page's text without its markup and the link's own address."""
    return re.sub(r"<[^>]+>|/knock/[A-Za-z0-9_-]+", "", html)
