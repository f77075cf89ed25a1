"""`python -m bench`: the welcome, measured against a baseline side by side on a throwaway Synapse.

Welcome: the time from a join to Knock's welcome, against a bare /sync seeing the join.

End to end (knocks to invites on both databases, and at Synapse's default rate limits) is
`python -m bench.e2e`; intake (webhook throughput, latency and memory of a deployed Knock process)
is `python -m bench.intake`. Figures are ratios, so the machine's speed cancels out;
bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from knock.config import load_settings
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from knock.web.app import create_api
from knock_testing.synapse import Sandbox, SandboxUser

API = "/_matrix/client/v3"
WEBHOOK_TOKEN = "bench-webhook-token"  # JSON deliveries need it (or a signature)


async def knock_invites(runtime: Runtime, users: list[str]) -> float:
    """Knock for every user and wait until all are recorded invited; return the seconds taken."""
    api = create_api(runtime)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        start = time.perf_counter()
        for n, user in enumerate(users):
            answer = await client.post(
                "/invite_from_form",
                json={"matrix_id": user, "submission_id": f"e2e-{n}"},
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            )
            assert answer.status_code == 202, answer.text
        while len(await runtime.store.knocks_in([State.INVITED], limit=len(users) + 1)) < len(
            users
        ):
            await asyncio.sleep(0.02)
        return time.perf_counter() - start


WELCOMES = 20


async def welcome_latency(
    hs: Sandbox, bot: SandboxUser, runtime: Runtime, people: list[SandboxUser], room: str
) -> tuple[list[float], list[float]]:
    """Time, per person, from their join to (a) a bare /sync seeing it and (b) Knock's welcome.

    The baseline is the least any live view can do: a long-polling /sync of the same room,
    run side by side with Knock's own loop.
    """
    bare: list[float] = []
    knock: list[float] = []
    headers = {"Authorization": f"Bearer {bot.access_token}"}
    room_filter = json.dumps({"room": {"rooms": [room], "timeline": {"types": ["m.room.member"]}}})
    async with httpx.AsyncClient(base_url=hs.base_url, headers=headers, timeout=60) as http:
        since = (await http.get(f"{API}/sync", params={"filter": room_filter})).json()["next_batch"]
        for person in people:
            record = await runtime.store.latest_knock(person.user_id, [State.INVITED])
            assert record is not None
            start = time.perf_counter()
            await asyncio.to_thread(hs.join, person, room)
            since = await _sync_until_join(http, since, room_filter, person.user_id)
            bare.append(time.perf_counter() - start)
            while "welcomed" not in [h.event for h in await runtime.store.history(record.knock_id)]:
                await asyncio.sleep(0.005)
            knock.append(time.perf_counter() - start)
    return bare, knock


async def _sync_until_join(
    http: httpx.AsyncClient, since: str, room_filter: str, user_id: str
) -> str:
    while True:
        params = {"since": since, "timeout": "30000", "filter": room_filter}
        body = (await http.get(f"{API}/sync", params=params)).json()
        since = body["next_batch"]
        for room in body.get("rooms", {}).get("join", {}).values():
            for event in room.get("timeline", {}).get("events", []):
                if (
                    event.get("state_key") == user_id
                    and event["content"].get("membership") == "join"
                ):
                    return str(since)


async def main(people: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "hs") as hs:
        admin = hs.register("admin", admin=True)
        bot = hs.register("knockbot")
        hs.lift_rate_limits(admin, bot.user_id)
        knock_people = [hs.register(f"knock{n}") for n in range(people)]
        knock_room = hs.create_room(bot)
        settings = load_settings(
            env_file=None,
            new_room_id=knock_room,
            matrix_base_url=hs.base_url,
            matrix_access_token=bot.access_token,
            database_url=f"sqlite:///{tmp}/knock.db",
            tokens_file=f"{tmp}/tokens.json",
            request_delay=0,
            webhook_token=WEBHOOK_TOKEN,
            log_level="WARNING",
        )
        runtime = Runtime(settings)
        await runtime.start()
        try:
            await knock_invites(runtime, [person.user_id for person in knock_people])
            welcome = await welcome_latency(hs, bot, runtime, knock_people, knock_room)
        finally:
            await runtime.stop()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    bare_p50, knock_p50 = statistics.median(welcome[0]), statistics.median(welcome[1])
    print(f"welcome after a join, {people} people, one at a time (median):")
    print(
        f"  bare /sync sees the join {bare_p50 * 1000:.0f} ms  knock's welcome sent "
        f"{knock_p50 * 1000:.0f} ms  ratio {knock_p50 / bare_p50:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--people", type=int, default=WELCOMES)
    args = parser.parse_args()
    asyncio.run(main(args.people))
