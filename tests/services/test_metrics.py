"""GET /metrics: who may read it, and what Prometheus reads there (README: Metrics and alerts).

One process here, on the fake homeserver: the counts of several processes are read back in
tests/integration/test_metrics.py, against Synapse.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.services.conftest import Submit, drain

API_KEY = "an-admin-key-long-enough"
METRICS_TOKEN = "a-metrics-token-long-enough"
README = Path(__file__).resolve().parents[2] / "README.md"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a counter not counted yet)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, token: str = API_KEY) -> str:
    answer = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize("knock_options", [{}])
async def test_metrics_are_off_while_neither_token_is_set(http: httpx.AsyncClient) -> None:
    answer = await http.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 403
    assert "METRICS_TOKEN" in answer.json()["detail"]


@pytest.mark.parametrize("knock_options", [{"api_key": API_KEY, "metrics_token": METRICS_TOKEN}])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": f"Bearer {API_KEY}"},  # METRICS_TOKEN is set: the API key is not it
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    ],
    ids=["none", "wrong", "api-key", "not-bearer"],
)
async def test_metrics_refuse_a_caller_without_the_metrics_token(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await http.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "METRICS_TOKEN" in answer.json()["detail"]
    assert METRICS_TOKEN not in answer.text


@pytest.mark.parametrize("knock_options", [{"api_key": API_KEY, "metrics_token": METRICS_TOKEN}])
async def test_metrics_answer_the_metrics_token_in_the_prometheus_text_format(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(answer.text, "knock_homeserver_up") == 1


@pytest.mark.parametrize("knock_options", [{"api_key": API_KEY}])
async def test_metrics_take_the_api_key_while_metrics_token_is_unset(
    http: httpx.AsyncClient,
) -> None:
    assert value(await scrape(http, API_KEY), "knock_homeserver_up") == 1
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-api-key"})
    assert wrong.status_code == 401
    assert "API_KEY" in wrong.json()["detail"]


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": API_KEY}


async def test_every_metric_is_named_knock_and_listed_in_the_readme(
    http: httpx.AsyncClient, submit: Submit, services: Any, homeserver: Any
) -> None:
    homeserver.add_user("@alice:hs.test")
    await submit("@alice:hs.test")
    await drain(services)
    families = {family.name for family in text_string_to_metric_families(await scrape(http))}
    assert families, "no metric at all"
    assert [name for name in families if not name.startswith("knock_")] == []
    readme = README.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(knock_[a-z_]+)` \|", readme, re.MULTILINE))
    # The README names counters with their `_total` suffix, as Prometheus shows them.
    shown = {name + "_total" if name + "_total" in listed else name for name in families}
    assert shown <= listed, f"not in the README: {sorted(shown - listed)}"


async def test_a_knock_counts_its_states_and_its_time_to_invite(
    http: httpx.AsyncClient, submit: Submit, services: Any, clock: Any, homeserver: Any
) -> None:
    homeserver.add_user("@bob:hs.test")
    before = await scrape(http)
    outcome = await submit("@bob:hs.test")
    waiting = await scrape(http)
    assert value(waiting, "knock_jobs_waiting", kind="invite") >= 1
    clock.advance(42)
    assert value(await scrape(http), "knock_jobs_oldest_age_seconds") >= 42
    await drain(services)
    after = await scrape(http)
    for state in ("queued", "invited"):
        entered = value(after, "knock_knocks_total", door="default", state=state, reason="")
        was = value(before, "knock_knocks_total", door="default", state=state, reason="")
        assert entered - was == 1, state
    invites = "knock_knock_to_invite_seconds_count"
    assert value(after, invites, door="default") - value(before, invites, door="default") == 1
    # 42 s after the knock: in the 60 s bucket, not in the 15 s one.
    for bucket, more in (("15.0", 0), ("60.0", 1)):
        now, was = (
            value(t, "knock_knock_to_invite_seconds_bucket", door="default", le=bucket)
            for t in (after, before)
        )
        assert now - was == more, bucket
    assert value(after, "knock_jobs_waiting", kind="invite") == 0
    assert value(after, "knock_jobs_oldest_age_seconds") == 0
    assert outcome.knock_id


async def test_a_webhook_delivery_is_counted_by_platform_and_answer(
    http: httpx.AsyncClient,
) -> None:
    refused = {"door": "default", "platform": "unknown", "answer": "401"}
    accepted = {"door": "default", "platform": "html", "answer": "202"}
    before = await scrape(http)
    unsigned = await http.post(
        "/invite_from_form", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    form = await http.post("/invite_from_form", data={"matrix_id": "@dave:hs.test"})
    assert form.status_code == 202, form.text
    after = await scrape(http)
    for labels in (refused, accepted):
        counted = value(after, "knock_deliveries_total", **labels)
        assert counted - value(before, "knock_deliveries_total", **labels) == 1, labels


async def test_homeserver_calls_are_counted_by_endpoint_without_ids(
    http: httpx.AsyncClient, submit: Submit, services: Any, homeserver: Any
) -> None:
    homeserver.add_user("@carol:hs.test")
    before = await scrape(http)
    await submit("@carol:hs.test")
    await drain(services)
    after = await scrape(http)
    invite = {"endpoint": "rooms/invite", "outcome": "ok"}
    assert (
        value(after, "knock_homeserver_calls_total", **invite)
        - value(before, "knock_homeserver_calls_total", **invite)
        == 1
    )
    endpoints = {
        dict(labels)["endpoint"]
        for name, labels in samples(after)
        if name == "knock_homeserver_calls_total"
    }
    assert [e for e in endpoints if "!" in e or "@" in e or "%" in e] == []


async def test_the_leader_gauge_follows_the_lease(http: httpx.AsyncClient, services: Any) -> None:
    # Started without background work: no process has taken the lease.
    assert value(await scrape(http), "knock_leader") == 0
    await services.duties.run_once()
    assert value(await scrape(http), "knock_leader") == 1
    await services.duties.release_lease()
    assert value(await scrape(http), "knock_leader") == 0
