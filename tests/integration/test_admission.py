"""Admission, on the real test Synapse: honeypots, windows, back-off, the join wave, pacing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.clock import FakeClock
from tests.conftest import MakeUser
from tests.integration.harness import (
    BROWSER,
    FIXTURE_SECRET,
    WITH_TOKEN,
    KnockUnderTest,
    database_rows,
    invite_count,
    invited,
    knock_settings,
    process_env,
    start_knock,
    start_processes,
    tally_delivery,
)

ROOT = Path(__file__).resolve().parents[2]


async def _drain(knock: KnockUnderTest) -> None:
    while await knock.runtime.services.worker.run_once():
        pass


async def test_a_filled_honeypot_gets_the_same_answer_and_invites_nobody(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    knock = await start_knock(settings, background=False)
    try:
        person = make_user("bot")
        body, headers = tally_delivery(person.user_id, "honey", honeypot="https://spam.example")
        answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
        await _drain(knock)
        state = await knock.knock_state(answer.json()["knock_id"])
    finally:
        await knock.stop()

    assert answer.status_code == 202 and set(answer.json()) == {"status", "knock_id"}
    assert state == (State.DROPPED, "honeypot")
    assert person.user_id not in synapse.members(bot, private_room)


async def test_per_address_callers_past_limit_per_ip_get_429_but_platforms_never_do(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, limit_per_ip="2/1h", limit_per_user="off"
    )
    knock = await start_knock(settings, background=False)
    try:
        browser = [
            await knock.http.post(
                "/invite_from_form",
                json={"matrix_id": f"@direct{n}:{synapse.server_name}"},
                headers=BROWSER,
            )
            for n in range(3)
        ]
        platform = []
        for n in range(5):  # all from the same address as the browser's posts above
            body, headers = tally_delivery(f"@viatally{n}:{synapse.server_name}", f"ip-{n}")
            platform.append(
                await knock.http.post("/invite_from_form", content=body, headers=headers)
            )
        scripts = [  # the token, no Origin: a script, server-to-server
            await knock.http.post(
                "/invite_from_form",
                json={"matrix_id": f"@script{n}:{synapse.server_name}"},
                headers=WITH_TOKEN,
            )
            for n in range(3)
        ]
    finally:
        await knock.stop()

    assert [a.status_code for a in browser] == [202, 202, 429]
    assert int(browser[2].headers["Retry-After"]) > 0
    assert "blocked" not in browser[2].text.lower()
    assert [a.status_code for a in platform] == [202] * 5
    assert [a.status_code for a in scripts] == [202] * 3


async def test_back_off_follows_a_refusal_and_a_duplicate_starts_none(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    clock = FakeClock()
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        limit_per_user="off",
    )
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        ghost = f"@ghost{os.getpid()}:{synapse.server_name}"  # does not exist: rejected
        states = []
        body, headers = tally_delivery(ghost, "ghost-1")
        first = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        await _drain(knock)
        states.append(await knock.knock_state(first["knock_id"]))
        body, headers = tally_delivery(ghost, "ghost-2")
        second = await knock.http.post("/invite_from_form", content=body, headers=headers)
        states.append(await knock.knock_state(second.json()["knock_id"]))
        clock.advance(settings.backoff_base * 4 + 1)  # past both lock-outs (1m, then 2m)
        body, headers = tally_delivery(ghost, "ghost-3")
        third = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        states.append(await knock.knock_state(third["knock_id"]))

        person = make_user("twice")
        body, headers = tally_delivery(person.user_id, "twice-1")
        await knock.http.post("/invite_from_form", content=body, headers=headers)
        body, headers = tally_delivery(person.user_id, "twice-2")
        dup = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        states.append(await knock.knock_state(dup["knock_id"]))
        await _drain(knock)
        body, headers = tally_delivery(person.user_id, "twice-3")  # invited now: no back-off
        again = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        await _drain(knock)
        states.append(await knock.knock_state(again["knock_id"]))
    finally:
        await knock.stop()

    assert second.status_code == 202
    assert states == [
        (State.REJECTED, "unknown_user"),
        (State.DROPPED, "backed_off"),
        (State.QUEUED, None),
        (State.DROPPED, "duplicate"),
        (State.DROPPED, "duplicate"),  # the worker found the invite pending in the room
    ]
    assert invite_count(synapse, bot, private_room, person.user_id) == 1


async def test_someone_who_left_can_knock_again(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    knock = await start_knock(settings, background=False)
    person = make_user("returner")
    try:
        body, headers = tally_delivery(person.user_id, "return-1")
        await knock.http.post("/invite_from_form", content=body, headers=headers)
        await _drain(knock)
        synapse.join(person, private_room)
        synapse.api(
            "POST",
            f"/_matrix/client/v3/rooms/{quote(private_room, safe='')}/leave",
            user=person,
            json={},
        ).raise_for_status()
        body, headers = tally_delivery(person.user_id, "return-2")
        again = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        await _drain(knock)
        state = await knock.knock_state(again["knock_id"])
    finally:
        await knock.stop()

    assert state == (State.INVITED, None)
    assert invited(synapse, bot, private_room, person.user_id)


async def test_the_join_wave_breaker_holds_knocks_for_review_and_lets_go_after_the_cooldown(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    clock = FakeClock()
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        join_wave_threshold=3,
        join_wave_cooldown="30m",
    )
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        states = []
        for n in range(5):
            body, headers = tally_delivery(f"@wave{n}:{synapse.server_name}", f"wave-{n}")
            answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
            assert answer.status_code == 202
            states.append((await knock.knock_state(answer.json()["knock_id"]))[1])
        public = (await knock.http.get("/")).text
        admin = (await knock.http.get("/join_wave", headers=knock.admin)).json()
        clock.advance(31 * 60)
        body, headers = tally_delivery(f"@calm:{synapse.server_name}", "calm")
        calm = (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()
        after = await knock.knock_state(calm["knock_id"])
    finally:
        await knock.stop()

    assert states == [None, None, None, "join_wave", "join_wave"]
    assert admin["tripped"] is True and admin["threshold"] == 3
    assert "wave" not in public
    assert after == (State.QUEUED, None)


@pytest.mark.slow
async def test_a_burst_over_the_global_window_is_invited_in_arrival_order(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    people = [make_user("burst") for _ in range(200)]
    clock = FakeClock()
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        max_requests_per_window=50,
        spam_window_seconds=60,
        join_wave_threshold=1000,
        limit_per_form="off",
    )
    knock = await start_knock(settings, background=False, clock=clock)
    try:
        answers = []
        for n, person in enumerate(people):
            body, headers = tally_delivery(person.user_id, f"burst-{n}")
            answers.append(
                await knock.http.post("/invite_from_form", content=body, headers=headers)
            )
            clock.advance(0.01)  # distinct arrival times
        await _drain(knock)
        first_window = set(synapse.members(bot, private_room, "invite"))
        rounds = 0
        while await knock.runtime.store.knocks_in([State.DEFERRED], limit=1):
            clock.advance(61)
            await knock.runtime.services.intake.release_deferred()
            await _drain(knock)
            rounds += 1
        order = _invite_order(synapse, bot, private_room, {p.user_id for p in people})
    finally:
        await knock.stop()

    assert all(a.status_code == 202 for a in answers)
    assert first_window == {p.user_id for p in people[:50]}
    assert rounds == 3
    assert order == [p.user_id for p in people]


def _invite_order(synapse: Sandbox, viewer: SandboxUser, room: str, users: set[str]) -> list[str]:
    """Return the people in the order the room saw their invites."""
    params = {"dir": "f", "limit": "1000", "filter": json.dumps({"types": ["m.room.member"]})}
    page = synapse.api(
        "GET",
        f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages",
        user=viewer,
        params=params,
    ).json()
    return [
        event["state_key"]
        for event in page["chunk"]
        if event["content"].get("membership") == "invite" and event["state_key"] in users
    ]


@pytest.fixture
def two_processes(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> Iterator[list[str]]:
    """Two real Knock processes on one SQLite database, with a global window of 10 per hour."""
    env = process_env(
        tmp_path,
        synapse,
        bot,
        private_room,
        WEBHOOK_TOKEN="shared-token",
        MAX_REQUESTS_PER_WINDOW="10",
        SPAM_WINDOW_SECONDS="1h",
        LIMIT_PER_IP="off",
    )
    processes = start_processes(tmp_path, env, 2)
    yield [p.url for p in processes]
    for process in processes:
        process.stop()


@pytest.mark.slow
def test_two_processes_share_the_global_window(
    two_processes: list[str], tmp_path: Path, synapse: Sandbox
) -> None:
    def post(n: int) -> httpx.Response:
        return httpx.post(
            f"{two_processes[n % 2]}/invite_from_form",
            json={"matrix_id": f"@shared{n}:{synapse.server_name}", "submission_id": f"s{n}"},
            headers={"Authorization": "Bearer shared-token"},
            timeout=30,
        )

    # All at once, against both processes, so their transactions really overlap.
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(post, range(30)))
    assert [a.status_code for a in answers] == [202] * 30

    states = dict(database_rows("SELECT state, count(*) FROM knocks GROUP BY state"))
    admitted = sum(count for state, count in states.items() if state != "deferred")
    assert admitted == 10, states
    assert states["deferred"] == 20


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    async def statuses(trusted: str | None) -> list[int]:
        directory = tmp_path / ("trusted" if trusted else "untrusted")
        directory.mkdir()
        settings = knock_settings(
            directory,
            synapse,
            bot,
            private_room,
            limit_per_ip="1/1h",
            limit_per_user="off",
            trusted_proxies=trusted,
        )
        knock = await start_knock(settings, background=False)
        try:
            answers = []
            for n, forwarded in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.1"]):
                answer = await knock.http.post(  # an HTML form, behind the proxy
                    "/invite_from_form",
                    # Each run knocks for other people: both runs share the test's database.
                    data={"matrix_id": f"@xff{n}-{directory.name}:{synapse.server_name}"},
                    headers={"X-Forwarded-For": forwarded},
                )
                answers.append(answer.status_code)
            return answers
        finally:
            await knock.stop()

    # The test client connects from 203.0.113.7 (see the harness).
    assert await statuses("203.0.113.0/24") == [202, 202, 429]
    assert await statuses(None) == [202, 429, 429]


async def test_moderators_deny_a_whole_batch_held_for_review(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        join_wave_threshold=1,
    )
    knock = await start_knock(settings, background=False)
    try:
        ids = []
        for n in range(4):
            body, headers = tally_delivery(f"@batch{n}:{synapse.server_name}", f"batch-{n}")
            ids.append(
                (await knock.http.post("/invite_from_form", content=body, headers=headers)).json()[
                    "knock_id"
                ]
            )
        denied = await knock.http.post(
            "/knocks/deny", headers=knock.admin, json={"reason": "join_wave"}
        )
        states = [await knock.knock_state(knock_id) for knock_id in ids]
    finally:
        await knock.stop()

    assert denied.status_code == 200 and denied.json()["count"] == 3
    assert states[0] == (State.QUEUED, None)
    assert states[1:] == [(State.REJECTED, "denied")] * 3


async def test_a_second_knock_for_a_blocked_id_and_for_an_innocent_id_get_the_same_answer(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    innocent, blocked, banned = make_user("innocent"), make_user("blocked"), make_user("banned")
    unknown = f"@nobody{os.getpid()}:{synapse.server_name}"
    synapse.invite(bot, private_room, banned.user_id)
    synapse.api(
        "POST",
        f"/_matrix/client/v3/rooms/{quote(private_room, safe='')}/ban",
        user=bot,
        json={"user_id": banned.user_id},
    ).raise_for_status()
    settings = knock_settings(tmp_path, synapse, bot, private_room, limit_per_user="off")
    knock = await start_knock(settings, background=False)
    try:
        block = await knock.http.post(
            "/block_user", headers=knock.admin, json={"user_id": blocked.user_id}
        )
        assert block.status_code == 200, block.text
        answers: dict[str, list[int]] = {}
        for name, user_id in [
            ("innocent", innocent.user_id),
            ("blocked", blocked.user_id),
            ("banned", banned.user_id),
            ("unknown", unknown),
        ]:
            answers[name] = []
            for _ in range(2):  # twice from the same browser, the worker deciding in between
                answer = await knock.http.post(
                    "/invite_from_form", json={"matrix_id": user_id}, headers=BROWSER
                )
                answers[name].append(answer.status_code)
                await _drain(knock)
    finally:
        await knock.stop()

    assert answers == {name: [202, 202] for name in answers}


async def test_one_typo_does_not_lock_an_address_out_but_three_do(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    clock = FakeClock()
    settings = knock_settings(tmp_path, synapse, bot, private_room, limit_per_user="off")
    knock = await start_knock(settings, background=False, clock=clock)

    async def post(matrix_id: str, **fields: str) -> int:
        form = {"matrix_id": matrix_id, **fields}
        return (await knock.http.post("/invite_from_form", data=form)).status_code

    try:
        typo_then_right = [await post("@alice:bad_server!"), await post("@alice:localhost")]
        three_typos = [await post(f"@typo{n}:bad_server!") for n in range(2)]
        locked = await post("@bob:localhost")
        clock.advance(settings.backoff_base + 1)
        released = await post("@carol:localhost")
        clock.advance(settings.backoff_reset + 1)  # strikes are forgotten after a quiet week
        bots = [await post(f"@bot{n}:localhost", honeypot="https://spam.example") for n in range(3)]
        after_bots = await post("@dave:localhost")
    finally:
        await knock.stop()

    assert typo_then_right == [422, 202]
    assert three_typos == [422, 422]  # the third strike from this address...
    assert locked == 429  # ...backs it off,
    assert released == 202  # for BACKOFF_BASE
    assert bots == [202, 202, 202]  # a bot learns nothing from a honeypot...
    assert after_bots == 429  # ...but its address is backed off after three
