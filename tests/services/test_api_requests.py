"""What the admin API takes is what its description says, and the description shows the key.

Schemathesis (test_openapi.py) finds these by chance; here each is pinned down by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.core.admission_batch import AddKnock
from knock.core.forms import Field, Submission
from knock.core.history import Actor, HistoryLine
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Event, State
from knock.services.runtime import Runtime
from knock.web.app import KnockApp
from tests.services.conftest import BOT, ROOM
from tests.services.fake_homeserver import FakeHomeserver

API_KEY = "an-admin-key-long-enough"
ADMIN = {"Authorization": f"Bearer {API_KEY}"}
TROLL = "@troll:hs.test"
PUBLIC = {
    ("get", "/"),
    ("get", "/readyz"),
    ("post", "/invite_from_form"),
    ("post", "/doors/{door}/invite_from_form"),
    ("get", "/knock/{token}"),
}


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": API_KEY}


@pytest.fixture
async def api(runtime: Runtime, homeserver: FakeHomeserver) -> AsyncIterator[httpx.AsyncClient]:
    homeserver.join(homeserver.add_user(TROLL, "Troll"), ROOM)
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client


@pytest.mark.parametrize("flag", [{"confirm": 0}, {"dry_run": "false"}, {"confirm": "yes"}])
async def test_block_user_takes_true_or_false_only(
    api: httpx.AsyncClient, homeserver: FakeHomeserver, flag: dict[str, object]
) -> None:
    answer = await api.post("/block_user", headers=ADMIN, json={"user_id": TROLL, **flag})

    assert answer.status_code == 422
    (field,) = answer.json()["detail"]
    assert field["loc"] == ["body", *flag]
    assert homeserver.membership(ROOM, TROLL) == "join"
    assert (await api.get("/blocklist", headers=ADMIN)).json()["blocked_users"] == []


async def test_a_deny_limit_is_a_json_number(api: httpx.AsyncClient) -> None:
    text = await api.post("/knocks/deny", headers=ADMIN, json={"limit": "5"})
    whole = await api.post("/knocks/deny", headers=ADMIN, json={"limit": 5.0})

    assert text.status_code == 422
    assert "must be a JSON number" in text.json()["detail"][0]["msg"]
    assert whole.status_code == 200 and whole.json() == {"denied": [], "count": 0}


@pytest.mark.parametrize(
    "query",
    [
        "/knocks?limit=1&limit=1000",
        "/knocks?reason=join_wave&reason=fuzzy_match",
        "/blocklist/check?user_id=@a:b.c&user_id=@d:e.f",
    ],
)
async def test_a_query_parameter_given_twice_is_refused(api: httpx.AsyncClient, query: str) -> None:
    answer = await api.get(query, headers=ADMIN)

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("Give ")
    assert "once" in answer.json()["detail"]


async def test_a_query_parameter_given_twice_without_the_key_is_still_401(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.get("/knocks?limit=1&limit=2")

    assert answer.status_code == 401


async def test_rescinding_knocks_own_account_is_refused_and_the_bot_stays(
    api: httpx.AsyncClient, homeserver: FakeHomeserver
) -> None:
    answer = await api.post("/rescind_invite", headers=ADMIN, json={"user_id": BOT})

    assert answer.status_code == 422
    assert answer.json() == {"detail": f"{BOT} is Knock's own account: it stays in the room"}
    assert homeserver.membership(ROOM, BOT) == "join"
    assert homeserver.calls("kick", status=None) == []


async def test_every_admin_route_shows_the_api_key_and_its_challenge(
    api: httpx.AsyncClient,
) -> None:
    described = (await api.get("/openapi.json")).json()

    scheme = described["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, methods in described["paths"].items():
        for method, operation in methods.items():
            if (method, path) in PUBLIC:
                assert {} in operation.get("security", [{}]), path  # callable without a key
                continue
            # GET /metrics takes its own token (METRICS_TOKEN, else the API key).
            wanted = "MetricsToken" if path == "/metrics" else "ApiKey"
            assert operation["security"] == [{wanted: []}], path
            challenge = operation["responses"]["401"]["headers"]["WWW-Authenticate"]
            assert challenge["required"] is True, path
            assert "403" in operation["responses"], path
            assert "413" in operation["responses"], path


async def test_a_knock_shows_its_forms_answers_each_question_once(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    fields = (
        Field("Matrix ID", "question_abc", "ref-1", "@alice:hs.test"),
        Field("Why do you want to join?", "question_def", None, "Books"),
        Field(None, "utm_source", None, "", hidden=True),
    )
    submission = Submission("tally", "with-answers", fields)
    outcome = await runtime.services.intake.knock(submission, "@alice:hs.test", None)

    shown = (await api.get(f"/knocks/{outcome.knock_id}", headers=ADMIN)).json()

    assert shown["answers"] == [
        {"question": "Matrix ID", "answer": "@alice:hs.test"},
        {"question": "Why do you want to join?", "answer": "Books"},
    ]


@pytest.mark.parametrize("knock_options", [{"api_key": API_KEY, "store_form_answers": False}])
async def test_a_knock_without_kept_answers_shows_an_empty_list(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    fields = (Field("Matrix ID", "m", None, "@alice:hs.test"),)
    submission = Submission("tally", "no-answers", fields)
    outcome = await runtime.services.intake.knock(submission, "@alice:hs.test", None)

    shown = (await api.get(f"/knocks/{outcome.knock_id}", headers=ADMIN)).json()

    assert shown["answers"] == []
    assert [line["event"] for line in shown["history"]][0] == "received"


async def test_answers_an_older_version_cut_mid_object_are_shown_as_they_were_kept(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    fields = (Field("Matrix ID", "m", None, "@alice:hs.test"),)
    outcome = await runtime.services.intake.knock(
        Submission("tally", "cut", fields), "@alice:hs.test", None
    )
    async with runtime.store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "UPDATE knocks SET answers = ? WHERE knock_id = ?",
            ('{"Why do you want to join?": "I like bo', outcome.knock_id),
        )

    shown = (await api.get(f"/knocks/{outcome.knock_id}", headers=ADMIN)).json()

    assert shown["answers"] == [
        {"question": "Answers (as stored)", "answer": '{"Why do you want to join?": "I like bo'}
    ]


async def test_knocks_are_listed_by_reason_as_the_knock_command_lists_them(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    for n, (state, reason) in enumerate(
        [(State.REVIEW, "fuzzy_match"), (State.REVIEW, "join_wave"), (State.QUEUED, None)]
    ):
        user = f"@person{n}:hs.test"
        new = NewKnock(f"k{n}", user, user, state, reason, "tally", f"s{n}", None, None)
        received = (HistoryLine(Event.RECEIVED, Actor.form("tally")),)
        await runtime.store.admit(AddKnock(new, received), 1000.0 + n)

    fuzzy = await api.get("/knocks", headers=ADMIN, params={"reason": "fuzzy_match"})
    both = await api.get(
        "/knocks", headers=ADMIN, params={"reason": "join_wave", "state": "review"}
    )
    unknown = await api.get("/knocks", headers=ADMIN, params={"reason": "boredom"})
    described = (await api.get("/openapi.json")).json()["paths"]["/knocks"]["get"]

    assert [k["knock_id"] for k in fuzzy.json()["knocks"]] == ["k0"]
    assert [k["knock_id"] for k in both.json()["knocks"]] == ["k1"]
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "reason"]
    [parameter] = [p for p in described["parameters"] if p["name"] == "reason"]
    assert "Only knocks with this reason" in parameter["description"]
    assert "fuzzy_match" in str(parameter["schema"])
