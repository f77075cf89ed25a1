"""Many worker processes on one database: every knock invited exactly once, one leader.

Both ways of running several processes are covered: `uvicorn mknock:app --workers 4` and
`knock serve --workers 4`. Each runs on SQLite and on PostgreSQL (the integration fixtures).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests.integration.harness import database_rows, process_env, wait_for

KNOCKS = 500
WORKERS = 4


@pytest.fixture(scope="session")
def crowd(synapse: Sandbox, synapse_admin: SandboxUser) -> list[str]:
    """Five hundred people who exist on the homeserver."""
    return synapse.add_accounts(synapse_admin, [f"crowd{n:03d}" for n in range(KNOCKS)])


LAUNCHERS = {
    "uvicorn": lambda port: [
        sys.executable, "-m", "uvicorn", "mknock:app", "--port", str(port),
        "--workers", str(WORKERS),
    ],
    "knock serve": lambda port: [
        sys.executable, "-m", "knock", "serve", "--port", str(port), "--workers", str(WORKERS),
    ],
}  # fmt: skip


@pytest.fixture(params=list(LAUNCHERS))
def four_workers(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
) -> Iterator[tuple[str, Path]]:
    """Knock with four worker processes behind one port; yields its URL and its log."""
    env = process_env(
        tmp_path,
        synapse,
        bot,
        private_room,
        WEBHOOK_TOKEN="t",
        LOG_LEVEL="INFO",
        # One flood from one address: let admission admit it all, so that what is measured is
        # the processes sharing the work.
        MAX_REQUESTS_PER_WINDOW="100000",
        JOIN_WAVE_THRESHOLD="100000",
        LIMIT_PER_IP="off",
        LIMIT_PER_SERVER="off",
        WORKER_CONCURRENCY="4",
    )
    port = free_port()
    log = tmp_path / "knock.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            LAUNCHERS[request.param](port), env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: log.read_text().count("Knock is running as") == WORKERS,
            lambda: f"four workers to start:\n{log.read_text()[-3000:]}",
            timeout=60,
        )
        yield url, log
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_four_workers_invite_500_knocks_exactly_once_with_one_leader(
    four_workers: tuple[str, Path],
    crowd: list[str],
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
) -> None:
    url, log = four_workers

    def knock(n: int) -> int:
        answer = httpx.post(
            f"{url}/invite_from_form?token=t",
            json={"matrix_id": crowd[n], "submission_id": f"crowd-{n}"},
            timeout=60,
        )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(knock, range(KNOCKS)))
    assert statuses == [202] * KNOCKS

    def invited_count() -> int:
        rows = database_rows("SELECT count(*) FROM knocks WHERE state = 'invited'")
        return int(rows[0][0])

    wait_for(
        lambda: invited_count() == KNOCKS,
        lambda: f"{KNOCKS} invites:\n{log.read_text()[-3000:]}",
        timeout=180,
    )

    # The homeserver's own record: one invite event per person, no more.
    events = synapse.member_events(bot, private_room, None)
    invites = Counter(e["state_key"] for e in events if e["content"]["membership"] == "invite")
    assert set(invites) == set(crowd)
    assert max(invites.values()) == 1
    assert sum(1 for row in database_rows("SELECT knock_id FROM knocks")) == KNOCKS

    # Four processes served (the fixture waited for each); exactly one led the background work.
    text = log.read_text()
    leaders = set(re.findall(r"(\S+) now leads the background work", text))
    assert len(leaders) == 1, text[-3000:]
    holders = database_rows("SELECT holder FROM leases WHERE name = 'singleton'")
    assert [holder for (holder,) in holders] == list(leaders)
