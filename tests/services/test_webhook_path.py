"""The webhook's own short path through the app (knock/web/webhook.py): a caller hears what
FastAPI's routes for the same paths would say, and every other request still reaches FastAPI.

`KnockApp` (what `uvicorn mknock:app` serves) answers webhook posts itself; the FastAPI app
alone (`create_api`) answers them through its routes. Each test posts to both and compares.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from knock.core.lifecycle import State
from knock.services.invites.reception import Reception
from knock.services.runtime import Runtime
from knock.web.app import KnockApp, create_api
from tests.services.fake_homeserver import SERVER

TOKEN = "webhook-token-0123456789"
LIMIT = 4096


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"webhook_token": TOKEN, "max_body_bytes": LIMIT}


@pytest.fixture
async def apps(runtime: Runtime) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The deployed app and the FastAPI app alone, each behind a client."""
    clients = {}
    for name, app in (("deployed", KnockApp(runtime)), ("fastapi", create_api(runtime))):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        clients[name] = httpx.AsyncClient(transport=transport, base_url="http://knock")
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


def delivery(user: str) -> dict[str, Any]:
    return {
        "content": json.dumps({"matrix_id": f"@{user}:{SERVER}"}).encode(),
        "headers": {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    }


@pytest.mark.parametrize("path", ["/invite_from_form", "/invite_from_form/"])
async def test_both_apps_commit_the_knock_before_202(
    apps: dict[str, httpx.AsyncClient], runtime: Runtime, path: str
) -> None:
    for name, http in apps.items():
        answer = await http.post(path, **delivery(f"{name}{len(path)}"))

        assert answer.status_code == 202, name
        assert answer.json()["status"] == "accepted"
        knock = await runtime.store.get_knock(answer.json()["knock_id"])
        assert knock is not None and knock.state is State.QUEUED, name


async def test_both_apps_refuse_the_same_way(apps: dict[str, httpx.AsyncClient]) -> None:
    answers = {}
    for name, http in apps.items():
        unsigned = await http.post(
            "/invite_from_form",
            content=b'{"matrix_id": "@a:example.org"}',
            headers={"Content-Type": "application/json"},
        )
        no_door = await http.post("/doors/nowhere/invite_from_form", **delivery("b"))
        too_large = await http.post(
            "/invite_from_form",
            content=b'{"matrix_id": "' + b"x" * LIMIT + b'"}',
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        not_json = await http.post(
            "/invite_from_form",
            content=b"{",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        answers[name] = [
            (a.status_code, a.json(), a.headers["content-type"], a.content)
            for a in (unsigned, no_door, too_large, not_json)
        ]

    assert answers["deployed"] == answers["fastapi"]
    assert [answer[0] for answer in answers["deployed"]] == [401, 404, 413, 400]


async def test_other_methods_and_paths_still_reach_fastapi(
    apps: dict[str, httpx.AsyncClient],
) -> None:
    http = apps["deployed"]

    assert (await http.get("/invite_from_form")).status_code == 405
    assert (await http.post("/invite_from_form/extra", **delivery("c"))).status_code == 404
    assert (await http.post("/doors/a/b/invite_from_form", **delivery("d"))).status_code == 404
    assert (await http.get("/")).json()["status"] == "running"


async def test_behind_a_root_path_the_webhook_is_served_under_it(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=KnockApp(runtime), root_path="/knock")
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as http:
        answer = await http.post("/knock/invite_from_form", **delivery("rooted"))

    assert answer.status_code == 202


async def test_a_database_that_cannot_answer_is_503_with_retry_after(
    apps: dict[str, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake: the reception fails as a database that refuses a connection would, at a point
    # where a real database cannot be made to fail on cue.
    async def refuse(self: Reception, delivery: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))

    monkeypatch.setattr(Reception, "receive", refuse)
    for name, http in apps.items():
        answer = await http.post("/invite_from_form", **delivery("down"))

        assert answer.status_code == 503, name
        assert answer.headers["Retry-After"].isdigit()
        assert "unable to open" not in answer.text


async def test_a_defect_is_a_bare_500_with_nothing_of_it_in_the_answer(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake: a defect cannot be provoked through a real part.
    async def broken(self: Reception, delivery: object) -> None:
        raise RuntimeError("secret detail of a defect")

    monkeypatch.setattr(Reception, "receive", broken)
    transport = httpx.ASGITransport(app=KnockApp(runtime), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as http:
        answer = await http.post("/invite_from_form", **delivery("defect"))

    assert answer.status_code == 500
    assert answer.text == "Internal Server Error"
