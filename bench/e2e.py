"""End to end: knocks posted to a deployed Knock until every invite is visible on the homeserver.

    python -m bench.e2e                       # 1000 knocks on each engine, then 100 rate-limited
    python -m bench.e2e --knocks 200 --engines sqlite --limited 0

Run 1 (per engine): N distinct knocks to N invites on a throwaway Synapse (the bot's rate limits
lifted, REQUEST_DELAY=0), one `uvicorn mknock:app` process with WORKER_CONCURRENCY=C, timed from
the first request to the last invite visible in the room; against a baseline in the same run that
makes the same homeserver calls per person (profile, membership, invite) with C tasks at once.
Baseline and Knock alternate for several rounds (fresh rooms, people and database each time) and
the median ratio is reported: single runs on two shared cores move by about ±0.15.

Run 2: M knocks against a Synapse with its default rate limits for the bot: all must be invited,
none twice, Knock waiting as each 429's Retry-After asks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.processes import Server, base_env, serve, status_kib
from knock_testing.postgres import PostgresSandbox
from knock_testing.synapse import Sandbox, SandboxUser

API = "/_matrix/client/v3"
POSTERS = 32  # webhook deliveries in flight while knocking


@contextmanager
def deployed_knock(
    work: Path, hs: Sandbox, bot: SandboxUser, room: str, database_url: str, **extra: str
) -> Iterator[Server]:
    """One `uvicorn mknock:app` process configured through its environment, as deployed."""
    env = base_env() | {
        "NEW_ROOM_ID": room,
        "MATRIX_BASE_URL": hs.base_url,
        "MATRIX_ACCESS_TOKEN": bot.access_token,
        "DATABASE_URL": database_url,
        "TOKENS_FILE": str(work / "tokens.json"),
        "BLOCKLIST_FILE": str(work / "blocked.txt"),
        "ALLOWLIST_FILE": str(work / "allowed.txt"),
        "WEBHOOK_TOKEN": "bench",
        "LOG_LEVEL": "INFO",
        # One flood from one address: admission admits it all, so that what is timed is the
        # pipeline, not admission's pacing.
        "MAX_REQUESTS_PER_WINDOW": "1000000",
        "JOIN_WAVE_THRESHOLD": "1000000",
        "LIMIT_PER_IP": "off",
        "LIMIT_PER_SERVER": "off",
        "INVITE_CHECK_INTERVAL": "0",
        "BLOCKLIST_SCAN_INTERVAL": "0",
        **extra,
    }
    knock = serve(f"knock-{room[1:9]}", "mknock:app", env, work, "/readyz")
    try:
        yield knock
    finally:
        knock.stop()


async def invited_count(http: httpx.AsyncClient, room: str) -> int:
    answer = await http.get(
        f"{API}/rooms/{quote(room, safe='')}/members", params={"membership": "invite"}
    )
    answer.raise_for_status()
    return len(answer.json()["chunk"])


async def wait_for_invites(http: httpx.AsyncClient, room: str, count: int) -> None:
    while await invited_count(http, room) < count:
        await asyncio.sleep(0.25)


async def baseline(hs: Sandbox, bot: SandboxUser, room: str, users: list[str], tasks: int) -> float:
    """The same homeserver calls per person as Knock's worker, straight from httpx."""
    headers = {"Authorization": f"Bearer {bot.access_token}"}
    queue = list(reversed(users))
    async with httpx.AsyncClient(base_url=hs.base_url, headers=headers, timeout=60) as http:

        async def work() -> None:
            while queue:
                user = queue.pop()
                seg = quote(user, safe="")
                (await http.get(f"{API}/profile/{seg}")).raise_for_status()
                state = f"{API}/rooms/{quote(room, safe='')}/state/m.room.member/{seg}"
                assert (await http.get(state)).status_code == 404
                invite = await http.post(
                    f"{API}/rooms/{quote(room, safe='')}/invite", json={"user_id": user}
                )
                invite.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(tasks)))
        await wait_for_invites(http, room, len(users))
        return time.perf_counter() - start


async def knock_through(
    url: str, hs: Sandbox, bot: SandboxUser, room: str, users: list[str]
) -> float:
    """Post every knock (POSTERS in flight) and wait until every invite is visible."""
    headers = {"Authorization": f"Bearer {bot.access_token}"}
    queue = list(reversed(list(enumerate(users))))
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as knock,
        httpx.AsyncClient(base_url=hs.base_url, headers=headers, timeout=60) as matrix,
    ):

        async def post() -> None:
            while queue:
                n, user = queue.pop()
                answer = await knock.post(
                    "/invite_from_form?token=bench",
                    json={"matrix_id": user, "submission_id": f"e2e-{n}"},
                )
                assert answer.status_code == 202, answer.text

        start = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(POSTERS)))
        await wait_for_invites(matrix, room, len(users))
        return time.perf_counter() - start


def invites_per_person(hs: Sandbox, bot: SandboxUser, room: str) -> Counter[str]:
    events = hs.member_events(bot, room, None)
    return Counter(e["state_key"] for e in events if e["content"].get("membership") == "invite")


def run_engine(
    engine: str, knocks: int, tasks: int, rounds: int, stack: ExitStack, work: Path
) -> dict[str, object]:
    """Alternate baseline and Knock `rounds` times (fresh rooms, people and database each time)."""
    hs = stack.enter_context(Sandbox(work / f"hs-{engine}"))
    admin = hs.register("admin", admin=True)
    bot = hs.register("knockbot")
    hs.lift_rate_limits(admin, bot.user_id)
    cluster = stack.enter_context(PostgresSandbox()) if engine == "postgresql" else None
    base_times, knock_times, ratios, twice, peak = [], [], [], 0, 0.0
    for r in range(rounds):
        base_users = hs.add_accounts(admin, [f"base{r}-{n:04d}" for n in range(knocks)])
        knock_users = hs.add_accounts(admin, [f"knock{r}-{n:04d}" for n in range(knocks)])
        base_room, knock_room = hs.create_room(bot), hs.create_room(bot)
        if cluster is None:
            url = f"sqlite:///{work / f'knock-{engine}-{r}.db'}"
        else:
            url = cluster.create_database(f"bench{r}")
        base_s = asyncio.run(baseline(hs, bot, base_room, base_users, tasks))
        with deployed_knock(
            work, hs, bot, knock_room, url, REQUEST_DELAY="0", WORKER_CONCURRENCY=str(tasks)
        ) as knock:
            knock_s = asyncio.run(knock_through(knock.url, hs, bot, knock_room, knock_users))
            peak = max(peak, status_kib(knock.pid).get("VmHWM", 0) / 1024)
        twice += sum(1 for n in invites_per_person(hs, bot, knock_room).values() if n > 1)
        base_times.append(round(base_s, 2))
        knock_times.append(round(knock_s, 2))
        ratios.append(round(knock_s / base_s, 2))
    return {
        "engine": engine,
        "knocks": knocks,
        "concurrency": tasks,
        "baseline_s": base_times,
        "knock_s": knock_times,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "invited_twice": twice,
        "knock_peak_rss_mib": round(peak, 1),
    }


def run_limited(knocks: int, stack: ExitStack, work: Path) -> dict[str, object]:
    """Knocks against Synapse's default rate limits: every one invited once, at Synapse's pace."""
    hs = stack.enter_context(Sandbox(work / "hs-limited", synapse_defaults=True))
    admin = hs.register("admin", admin=True)
    bot = hs.register("knockbot")  # rate limits not lifted
    users = hs.add_accounts(admin, [f"limited{n:03d}" for n in range(knocks)])
    room = hs.create_room(bot)
    url = f"sqlite:///{work / 'knock-limited.db'}"
    with deployed_knock(work, hs, bot, room, url, REQUEST_DELAY="0") as knock:
        seconds = asyncio.run(knock_through(knock.url, hs, bot, room, users))
        waits = [float(w) for w in re.findall(r"waiting ([\d.]+)s as asked", knock.log.read_text())]
    invites = invites_per_person(hs, bot, room)
    return {
        "knocks": knocks,
        "seconds": round(seconds, 1),
        "all_invited": set(invites) == set(users),
        "invited_twice": sum(1 for n in invites.values() if n > 1),
        "rate_limited_answers": len(waits),
        "waited_as_asked_s": round(sum(waits), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--knocks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/Knock pairs per engine")
    parser.add_argument("--limited", type=int, default=100, help="knocks at default limits")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results: dict[str, object] = {"machine": machine}
    with tempfile.TemporaryDirectory(prefix="knock-e2e-") as tmp:
        work = Path(tmp)
        for engine in args.engines.split(","):
            with ExitStack() as stack:
                result = run_engine(engine, args.knocks, args.concurrency, args.rounds, stack, work)
            print(json.dumps(result), flush=True)
            results[engine] = result
        if args.limited:
            with ExitStack() as stack:
                limited = run_limited(args.limited, stack, work)
            print(json.dumps({"default_rate_limits": limited}), flush=True)
            results["default_rate_limits"] = limited
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
