"""The block-list at work on the real test Synapse: blocking, fuzzy matches, files, policy rooms."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    KnockUnderTest,
    eventually,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
)


@pytest.fixture
async def knock(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> AsyncIterator[KnockUnderTest]:
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    instance = await start_knock(settings)
    yield instance
    await instance.stop()


async def _knock_for(knock: KnockUnderTest, user_id: str, submission: str) -> str:
    body, headers = tally_delivery(user_id, submission_id=submission)
    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202  # the same answer as anyone else's
    assert set(answer.json()) == {"status", "knock_id"}
    return str(answer.json()["knock_id"])


async def _settled(knock: KnockUnderTest, knock_id: str) -> tuple[State, str | None]:
    async def decided() -> tuple[State, str | None] | None:
        state = await knock.knock_state(knock_id)
        return None if state[0] is State.QUEUED else state

    return await eventually(decided, what=f"knock {knock_id} to be decided")


async def _block(knock: KnockUnderTest, user_id: str, **extra: Any) -> Any:
    return await knock.http.post(
        "/block_user", headers=knock.admin, json={"user_id": user_id, "reason": "spam", **extra}
    )


async def test_blocking_a_joined_member_removes_them(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    member = make_user("member")
    await _knock_for(knock, member.user_id, "member")
    await eventually(lambda: invited(synapse, bot, private_room, member.user_id), what="invite")
    synapse.join(member, private_room)

    answer = await _block(knock, member.user_id)

    assert answer.status_code == 200, answer.text
    assert answer.json()["actions"]["removed"] == [member.user_id]
    assert synapse.members(bot, private_room).get(member.user_id) == "leave"
    leave = synapse.member_events(bot, private_room, member.user_id)[-1]
    assert leave["content"].get("reason") == knock.runtime.settings.kick_reason


async def test_blocking_a_pattern_revokes_matching_pending_invites_only(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    spam = [make_user("spamwave"), make_user("spamwave")]
    honest = make_user("honest")
    for n, person in enumerate([*spam, honest]):
        await _knock_for(knock, person.user_id, f"pattern-{n}")
    for person in [*spam, honest]:
        await eventually(
            lambda p=person: invited(synapse, bot, private_room, p.user_id), what="invites"
        )

    dry = await _block(knock, f"@spamwave-*:{synapse.server_name}", dry_run=True)
    assert dry.json()["dry_run"] is True
    assert all(invited(synapse, bot, private_room, p.user_id) for p in spam)  # nothing changed
    answer = await _block(knock, f"@spamwave-*:{synapse.server_name}")

    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["actions"]["rescinded"]) == sorted(p.user_id for p in spam)
    assert dry.json()["actions"] == answer.json()["actions"]
    members = synapse.members(bot, private_room)
    assert [members.get(p.user_id) for p in spam] == ["leave", "leave"]
    assert members.get(honest.user_id) == "invite"


async def test_removing_more_than_the_threshold_needs_confirmation(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room, block_confirm_threshold=1)
    knock = await start_knock(settings, background=False)
    try:
        people = [make_user("crowd"), make_user("crowd")]
        for person in people:
            synapse.invite(bot, private_room, person.user_id)
            synapse.join(person, private_room)
        pattern = f"@crowd-*:{synapse.server_name}"

        refused = await _block(knock, pattern)
        still_in = [synapse.members(bot, private_room).get(p.user_id) for p in people]
        held = (await knock.http.get("/blocklist", headers=knock.admin)).json()["blocked_users"]
        confirmed = await _block(knock, pattern, confirm=True)
        gone = [synapse.members(bot, private_room).get(p.user_id) for p in people]
    finally:
        await knock.stop()

    assert refused.status_code == 409
    assert sorted(refused.json()["actions"]["removed"]) == sorted(p.user_id for p in people)
    assert still_in == ["join", "join"]
    assert [(e["user_id"], e["status"]) for e in held] == [(pattern, "held")]
    assert confirmed.status_code == 200
    assert gone == ["leave", "leave"]


async def test_ban_on_block_bans_and_unblocking_lifts_the_ban(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room, ban_on_block=True)
    knock = await start_knock(settings, background=False)
    try:
        person = make_user("banned")
        synapse.invite(bot, private_room, person.user_id)
        synapse.join(person, private_room)

        blocked = await _block(knock, person.user_id)
        banned = synapse.members(bot, private_room).get(person.user_id)
        unblocked = await knock.http.post(
            "/unblock_user", headers=knock.admin, json={"user_id": person.user_id}
        )
        after = synapse.members(bot, private_room).get(person.user_id)
        listing = (await knock.http.get("/blocklist", headers=knock.admin)).json()
    finally:
        await knock.stop()

    assert blocked.status_code == 200 and banned == "ban"
    assert unblocked.json() == {
        "status": "unblocked",
        "entry": person.user_id,
        "unbanned": [person.user_id],
        "door": None,  # an entry of every door
    }
    assert after == "leave"
    assert listing["blocked_users"] == []


@pytest.mark.parametrize(("action", "expected"), [("review", "review"), ("block", "rejected")])
async def test_a_disguised_id_is_held_for_review_or_blocked_as_configured(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    action: str,
    expected: str,
) -> None:
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        fuzzy_action=action,
    )
    knock = await start_knock(settings, background=False)
    try:
        server = synapse.server_name
        await _block(knock, f"@troll:{server}")
        knock_id = await _knock_for(knock, f"@tr0ll_99:{server}", "disguised")
        state = await knock.knock_state(knock_id)
        shown = (await knock.http.get(f"/knocks/{knock_id}", headers=knock.admin)).json()
    finally:
        await knock.stop()

    assert state[0].value == expected
    matches = shown["history"][-1]["detail"]
    assert matches[0]["entry"] == f"@troll:{server}"
    assert "0->o" in matches[0]["transforms"]


async def test_a_look_alike_display_name_is_held_for_review_and_can_be_approved(
    knock: KnockUnderTest,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    server = synapse.server_name
    await _block(knock, f"@grumpytroll:{server}")
    person = make_user("quiet")
    path = f"/_matrix/client/v3/profile/{quote(person.user_id, safe='')}/displayname"
    synapse.api("PUT", path, user=person, json={"displayname": "grumpytrоll"}).raise_for_status()

    knock_id = await _knock_for(knock, person.user_id, "display-name")

    assert await _settled(knock, knock_id) == (State.REVIEW, "fuzzy_match")
    assert not invited(synapse, bot, private_room, person.user_id)
    approved = await knock.http.post(f"/knocks/{knock_id}/approve", headers=knock.admin)
    assert approved.status_code == 200 and approved.json()["state"] == "queued"
    await eventually(lambda: invited(synapse, bot, private_room, person.user_id), what="invite")
    again = await knock.http.post(f"/knocks/{knock_id}/deny", headers=knock.admin)
    assert again.status_code == 409


async def test_a_policy_room_rule_blocks_the_next_knock_and_its_removal_unblocks(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
) -> None:
    curator = make_user("curator")
    policy_room = synapse.create_room(curator, join_rule="public", name="Ban list")
    evil = make_user("evil")
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        policy_room_ids=policy_room,
        backoff_base=0,  # the second knock comes at once; back-off is tested elsewhere
    )
    knock = await start_knock(settings, background=False)
    rule_path = (
        f"/_matrix/client/v3/rooms/{quote(policy_room, safe='')}/state/m.policy.rule.user/rule1"
    )
    try:
        synapse.api(
            "PUT",
            rule_path,
            user=curator,
            json={"entity": evil.user_id, "recommendation": "m.ban", "reason": "spam"},
        ).raise_for_status()
        knock.runtime.services.duties.force()
        await knock.runtime.services.duties.run_once()
        first = await _knock_for(knock, evil.user_id, "policy-1")
        blocked = await knock.knock_state(first)
        check = (
            await knock.http.get(
                "/blocklist/check", params={"user_id": evil.user_id}, headers=knock.admin
            )
        ).json()

        synapse.api("PUT", rule_path, user=curator, json={}).raise_for_status()
        knock.runtime.services.duties.force()
        await knock.runtime.services.duties.run_once()
        second = await _knock_for(knock, evil.user_id, "policy-2")
        after = await knock.knock_state(second)
    finally:
        await knock.stop()

    assert blocked == (State.REJECTED, "blocked")
    assert check["verdict"] == "block"
    assert check["matches"][0]["source"] == f"policy:{policy_room}"
    assert after == (State.QUEUED, None)


async def test_the_block_list_file_mirrors_entries_and_a_persons_edits_apply(
    knock: KnockUnderTest, synapse: Sandbox
) -> None:
    server = synapse.server_name
    blocklist_file = knock.runtime.settings.blocklist_file
    await _block(knock, f"@viaapi:{server}")
    knock.runtime.services.duties.force()
    await knock.runtime.services.duties.run_once()
    assert f"@viaapi:{server} Reason: spam" in blocklist_file.read_text().splitlines()

    # A person edits the file: adds a line, removes the API's line.
    blocklist_file.write_text(f"@viafile:{server} Reason: handwritten\n")
    knock.runtime.services.duties.force()
    await knock.runtime.services.duties.run_once()
    listing = (await knock.http.get("/blocklist", headers=knock.admin)).json()["blocked_users"]

    assert [(e["user_id"], e["reason"], e["source"]) for e in listing] == [
        (f"@viafile:{server}", "handwritten", "file")
    ]
    assert knock.runtime.services.blocklist.check(f"@viafile:{server}").verdict == "block"
    assert knock.runtime.services.blocklist.check(f"@viaapi:{server}").verdict == "allow"


async def test_another_process_sees_a_new_entry_within_seconds(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    settings = knock_settings(tmp_path, synapse, bot, private_room)
    first = await start_knock(settings, background=False)
    second = await start_knock(settings)  # runs its periodic duties
    try:
        await _block(first, f"@latecomer:{synapse.server_name}")

        def sees_it() -> bool:
            return (
                second.runtime.services.blocklist.check(f"@latecomer:{synapse.server_name}").verdict
                == "block"
            )

        await eventually(sees_it, timeout=10, what="the second process to see the entry")
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.no_database  # `--blocklist FILE` reads the file instead of the store
def test_knock_check_with_a_file_prints_one_json_line_per_id(tmp_path: Path) -> None:
    listing = tmp_path / "blocked.txt"
    listing.write_text("@troll:example.org Reason: spam\n@*:evil.example\n")

    result = subprocess.run(
        [sys.executable, "-m", "knock", "check", "--blocklist", str(listing), "@troll:example.org"],
        input="@someone:evil.example\n@alice:example.org\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["user_id"], line["verdict"]) for line in lines] == [
        ("@troll:example.org", "block"),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "knock", "check", "--blocklist", str(listing)],
        input="@someone:evil.example\n@alice:example.org\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["user_id"], line["verdict"]) for line in lines] == [
        ("@someone:evil.example", "block"),
        ("@alice:example.org", "allow"),
    ]
    assert lines[0]["matches"][0]["rule"] in ("glob", "server")


JUNK_AND_CATCH_ALLS = [
    "not a valid line",  # 1
    "Alice Troll",  # 2
    "*",  # 3
    "@*:*",  # 4
    "# a comment is skipped silently",  # 5
    "",  # 6
    "@*:*.org",  # 7
    "@?:* everyone with a one-letter name",  # 8
    "localhost",  # 9: a bare server; the file wants @*:localhost
]


async def test_a_block_list_file_of_junk_and_catch_alls_removes_nobody_and_lets_knocks_through(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    members = [make_user("alice"), make_user("member")]
    for person in members:
        synapse.invite(bot, private_room, person.user_id)
        synapse.join(person, private_room)
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    settings.blocklist_file.write_text("\n".join(JUNK_AND_CATCH_ALLS) + "\n", encoding="utf-8")
    knock = await start_knock(settings, background=False)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(2):  # the file is read, then the scan runs (on the lease holder)
                knock.runtime.services.duties.force()
                await knock.runtime.services.duties.run_once()
        fresh = make_user("fresh")
        knock_id = await _knock_for(knock, fresh.user_id, "fresh")
        await knock.runtime.services.worker.run_once()
        state = await knock.knock_state(knock_id)
        listing = (await knock.http.get("/blocklist", headers=knock.admin)).json()
    finally:
        await knock.stop()

    room = synapse.members(bot, private_room)
    assert [room.get(person.user_id) for person in members] == ["join", "join"]
    assert state == (State.INVITED, None)
    assert invited(synapse, bot, private_room, fresh.user_id)
    assert listing["blocked_users"] == []
    warned = [
        r.getMessage() for r in caplog.records if str(settings.blocklist_file) in r.getMessage()
    ]
    assert [line.split(": skipped ")[0] for line in warned] == [
        f"{settings.blocklist_file}:{number}" for number in (1, 2, 3, 4, 7, 8, 9)
    ]
    assert all("name a server instead" in warned[n] for n in (2, 3, 4, 5))


async def test_a_file_entry_over_the_threshold_is_held_until_a_moderator_confirms_it(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    settings = knock_settings(
        tmp_path,
        synapse,
        bot,
        private_room,
        tally_signing_secret=FIXTURE_SECRET,
        block_confirm_threshold=1,
    )
    people = [make_user("herd"), make_user("herd")]
    for person in people:
        synapse.invite(bot, private_room, person.user_id)
        synapse.join(person, private_room)
    pattern = f"@herd-*:{synapse.server_name}"
    settings.blocklist_file.write_text(f"{pattern} Reason: spam wave\n", encoding="utf-8")
    knock = await start_knock(settings, background=False)
    duties = knock.runtime.services.duties
    try:
        for _ in range(2):
            duties.force()
            await duties.run_once()
        held_in = [synapse.members(bot, private_room).get(p.user_id) for p in people]
        held = (await knock.http.get("/blocklist", headers=knock.admin)).json()["blocked_users"]
        late = make_user("herd")
        refused = await knock.knock_state(await _knock_for(knock, late.user_id, "late"))

        confirmed = await _block(knock, pattern, confirm=True)
        gone = [synapse.members(bot, private_room).get(p.user_id) for p in people]
        active = (await knock.http.get("/blocklist", headers=knock.admin)).json()["blocked_users"]
    finally:
        await knock.stop()

    assert held_in == ["join", "join"]
    assert [(e["user_id"], e["status"]) for e in held] == [(pattern, "held")]
    assert refused == (State.REJECTED, "blocked")
    assert confirmed.status_code == 200, confirmed.text
    assert gone == ["leave", "leave"]
    assert [(e["user_id"], e["status"]) for e in active] == [(pattern, "active")]
