"""GET /metrics on real Knock processes and a real Synapse: knocks posted, counts read back.

One process; two processes sharing PROMETHEUS_MULTIPROC_DIR (as the README tells an operator
running `uvicorn mknock:app` several times), each told a part of the knocks, each scraped; and
`knock serve --workers 2`, which shares the counts of its workers by itself. Whichever process
answers a scrape must report every process's events.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests.integration.harness import (
    WITH_TOKEN,
    database_rows,
    process_env,
    start_processes,
    wait_for,
)

METRICS_TOKEN = "integration-metrics-token"
MakeUser = Callable[..., SandboxUser]


def scrape(url: str) -> str:
    answer = httpx.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def knock(url: str, user_id: str) -> int:
    answer = httpx.post(
        f"{url}/invite_from_form",
        json={"matrix_id": user_id, "submission_id": f"metrics-{user_id}"},
        headers=WITH_TOKEN,
        timeout=60,
    )
    return answer.status_code


def invited_in_database() -> int:
    return int(database_rows("SELECT count(*) FROM knocks WHERE state = 'invited'")[0][0])


def assert_counted(text: str, knocks: int) -> None:
    """Every knock's delivery, states, invite time and invite call are in one scrape."""
    door = {"door": "default"}
    assert value(text, "knock_deliveries_total", platform="generic", answer="202", **door) == (
        knocks
    )
    for state in ("queued", "invited"):
        assert value(text, "knock_knocks_total", state=state, reason="", **door) == knocks, state
    assert value(text, "knock_knock_to_invite_seconds_count", **door) == knocks
    assert value(text, "knock_knock_to_invite_seconds_bucket", le="+Inf", **door) == knocks
    assert value(text, "knock_knock_to_invite_seconds_sum", **door) > 0
    invites = value(text, "knock_homeserver_calls_total", endpoint="rooms/invite", outcome="ok")
    assert invites >= knocks
    assert value(text, "knock_homeserver_up") == 1


@pytest.mark.slow
def test_one_process_counts_knocks_invites_and_welcomes(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    env = process_env(tmp_path, synapse, bot, private_room, METRICS_TOKEN=METRICS_TOKEN)
    [process] = start_processes(tmp_path, env, 1)
    try:
        people = [make_user("metrics-one") for _ in range(3)]
        assert [knock(process.url, person.user_id) for person in people] == [202] * 3
        wait_for(lambda: invited_in_database() == 3, "three invites", timeout=60)
        synapse.join(people[0], private_room)
        welcomed = "knock_join_to_welcome_seconds_count"
        wait_for(
            lambda: value(scrape(process.url), welcomed, door="default") == 1,
            lambda: f"the welcome counted:\n{process.log.read_text()[-3000:]}",
            timeout=60,
        )
        text = scrape(process.url)
        assert_counted(text, 3)
        assert value(text, "knock_knocks_total", door="default", state="joined", reason="") == 1
        assert value(text, "knock_leader") == 1
        assert value(text, "knock_jobs_waiting", kind="invite") == 0
    finally:
        process.stop()


@pytest.mark.slow
def test_two_processes_each_report_the_knocks_both_took(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = process_env(
        tmp_path,
        synapse,
        bot,
        private_room,
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    first, second = start_processes(tmp_path, env, 2)
    try:
        people = [make_user("metrics-two").user_id for _ in range(5)]
        # Two knocks to one process, three to the other: neither heard all five.
        assert [knock(first.url, user_id) for user_id in people[:2]] == [202] * 2
        assert [knock(second.url, user_id) for user_id in people[2:]] == [202] * 3
        wait_for(lambda: invited_in_database() == 5, "five invites", timeout=60)
        for process in (first, second):
            assert_counted(scrape(process.url), 5)
        # Each process answers with the same leader, read from the database.
        assert value(scrape(first.url), "knock_leader") == 1
        assert value(scrape(second.url), "knock_leader") == 1
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_knock_serve_with_two_workers_reports_both_workers_counts(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = process_env(
        tmp_path,
        synapse,
        bot,
        private_room,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_LEVEL="INFO",
        TMPDIR=str(scratch),  # where `knock serve` makes its workers' metrics directory
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "knock.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "knock", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
    try:
        wait_for(
            lambda: log.read_text().count("Knock is running as") == 2,
            lambda: f"two workers to start:\n{log.read_text()[-3000:]}",
            timeout=60,
        )
        assert [p.name for p in scratch.iterdir()][0].startswith("knock-metrics-")
        people = [make_user("metrics-serve").user_id for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(lambda user_id: knock(url, user_id), people)) == [202] * 8
        wait_for(lambda: invited_in_database() == 8, "eight invites", timeout=60)
        # The kernel hands each connection to either worker: every answer has all eight.
        for _ in range(6):
            assert_counted(scrape(url), 8)
        assert "PROMETHEUS_MULTIPROC_DIR is not set" not in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(scratch.iterdir()) == [], "the workers' metrics directory was left behind"
