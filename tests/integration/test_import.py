"""Moving from the original service: `knock import` keeps the block-list and pending invites."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    FIXTURE_SECRET,
    KnockUnderTest,
    invited,
    knock_settings,
    process_env,
    start_knock,
    tally_delivery,
)


def _original_files(tmp_path: Path, blocked: str, pending: dict[str, Any] | str) -> list[str]:
    """Write the original service's two files; return the command's arguments for them."""
    folder = tmp_path / "original"
    folder.mkdir(exist_ok=True)
    blocked_file = folder / "blocked_users.txt"
    pending_file = folder / "pending_invites.json"
    blocked_file.write_text(blocked, encoding="utf-8")
    text = pending if isinstance(pending, str) else json.dumps(pending, indent=2)
    pending_file.write_text(text, encoding="utf-8")
    return ["--blocklist", str(blocked_file), "--pending", str(pending_file)]


async def _knock_import(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, room: str, args: list[str]
) -> tuple[int, list[str], list[str]]:
    """Run `knock import ARGS` as a moderator would; return its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "knock",
        "import",
        *args,
        env=process_env(tmp_path, synapse, bot, room),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode().splitlines()


async def _get(knock: KnockUnderTest, path: str, **params: str) -> Any:
    answer = await knock.http.get(path, headers=knock.admin, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _knock_for(knock: KnockUnderTest, user_id: str, submission: str) -> str:
    body, headers = tally_delivery(user_id, submission_id=submission)
    answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202
    return str(answer.json()["knock_id"])


async def test_an_import_keeps_the_block_list_and_follows_the_invites_from_their_first_day(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    server = synapse.server_name
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    waiting, dawdler, stale = make_user("waiting"), make_user("dawdler"), make_user("stale")
    for person in (waiting, dawdler, stale):
        synapse.invite(bot, private_room, person.user_id)  # as the original service did
    now = int(time.time())
    sent = {
        waiting.user_id: now - 3600,
        dawdler.user_id: now - int(settings.reminder_after) - 3600,
        stale.user_id: now - int(settings.invite_ttl) - 3600,
    }
    args = _original_files(
        tmp_path,
        f"@troll:{server} Reason: spam\n@*:evil.example\n",
        {user: {"invite_time": at, "last_checked": now - 60} for user, at in sent.items()},
    )

    code, out, err = await _knock_import(tmp_path, synapse, bot, private_room, args)

    assert (code, err) == (0, [])
    assert out == [
        "block-list: 2 added, 0 already present",
        "pending invites: 3 imported, 0 skipped",
        "pending invites: 1 older than INVITE_TTL; Knock revokes them at its next invite check",
    ]
    knock = await start_knock(settings, background=False)
    try:
        listing = (await _get(knock, "/blocklist"))["blocked_users"]
        troll = await knock.knock_state(await _knock_for(knock, f"@troll:{server}", "troll"))
        pending = (await _get(knock, "/pending_invites"))["pending_invites"]
        await knock.runtime.services.follower.check_invites()  # Knock's own periodic invite check
        still_pending = (await _get(knock, "/pending_invites"))["pending_invites"]
        shown = {row["user_id"]: await _get(knock, f"/knocks/{row['knock_id']}") for row in pending}
    finally:
        await knock.stop()

    assert sorted((e["user_id"], e["reason"], e["source"]) for e in listing) == [
        ("@*:evil.example", None, "import"),
        (f"@troll:{server}", "spam", "import"),
    ]
    assert troll == (State.REJECTED, "blocked")  # the block-list holds at admission
    assert {row["user_id"]: row["invite_time"] for row in pending} == sent
    assert all(row["expires_at"] == row["invite_time"] + settings.invite_ttl for row in pending)
    events = {user: [h["event"] for h in knock["history"]] for user, knock in shown.items()}
    assert events[waiting.user_id] == ["received", "queued", "invited"]
    assert {h["actor"] for h in shown[waiting.user_id]["history"]} == {"import"}
    first_day = datetime.fromtimestamp(sent[waiting.user_id], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shown[waiting.user_id]["history"][-1]["detail"].endswith(first_day)
    assert events[dawdler.user_id].count("reminded") == 1  # due since the original invite
    assert shown[stale.user_id]["state"] == "expired"
    assert not invited(synapse, bot, private_room, stale.user_id)
    assert {row["user_id"] for row in still_pending} == {waiting.user_id, dawdler.user_id}


async def test_importing_twice_changes_nothing_and_leaves_knocks_own_invites_alone(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str, make_user: MakeUser
) -> None:
    server = synapse.server_name
    settings = knock_settings(
        tmp_path, synapse, bot, private_room, tally_signing_secret=FIXTURE_SECRET
    )
    knocker, other = make_user("knocker"), make_user("other")
    knock = await start_knock(settings, background=False)
    try:
        # Both services ran for a while: Knock itself invited `knocker`.
        own = await _knock_for(knock, knocker.user_id, "knocker")
        await knock.runtime.services.worker.run_once()
        synapse.invite(bot, private_room, other.user_id)
        sent = int(time.time()) - 600
        args = _original_files(
            tmp_path,
            f"@troll:{server} Reason: spam\n",
            {user: {"invite_time": sent} for user in (knocker.user_id, other.user_id)},
        )

        first = await _knock_import(tmp_path, synapse, bot, private_room, args)
        second = await _knock_import(tmp_path, synapse, bot, private_room, args)
        listing = (await _get(knock, "/blocklist"))["blocked_users"]
        pending = (await _get(knock, "/pending_invites"))["pending_invites"]
        knocks = {
            user: (await _get(knock, "/knocks", user_id=user))["knocks"]
            for user in (knocker.user_id, other.user_id)
        }
    finally:
        await knock.stop()

    assert first == (
        0,
        [
            "block-list: 1 added, 0 already present",
            "pending invites: 1 imported, 1 skipped (1 already followed by Knock)",
        ],
        [],
    )
    assert second == (
        0,
        [
            "block-list: 0 added, 1 already present",
            "pending invites: 0 imported, 2 skipped "
            "(1 already imported, 1 already followed by Knock)",
        ],
        [],
    )
    assert [e["user_id"] for e in listing] == [f"@troll:{server}"]
    assert [len(knocks[knocker.user_id]), len(knocks[other.user_id])] == [1, 1]
    rows = {row["user_id"]: row for row in pending}
    assert rows[knocker.user_id]["knock_id"] == own  # Knock's own invite, with its own time
    assert rows[knocker.user_id]["invite_time"] > sent
    assert rows[other.user_id]["invite_time"] == sent


async def test_a_malformed_pending_file_is_one_line_and_imports_nothing(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    server = synapse.server_name
    args = _original_files(
        tmp_path, f"@troll:{server}\n", '{"@alice:example.org": {"invite_time": 1700000000},'
    )

    code, out, err = await _knock_import(tmp_path, synapse, bot, private_room, args)

    assert (code, out, len(err)) == (2, [], 1)
    assert err[0].startswith(f"knock: {args[3]} is not valid JSON (line 1, column ")
    assert err[0].endswith("; nothing imported")
    knock = await start_knock(
        knock_settings(tmp_path, synapse, bot, private_room), background=False
    )
    try:
        listing = (await _get(knock, "/blocklist"))["blocked_users"]
        knocks = (await _get(knock, "/knocks"))["knocks"]
    finally:
        await knock.stop()
    assert (listing, knocks) == ([], [])  # the good block-list file was not imported either


async def test_every_bad_invite_is_named_and_nothing_is_imported(
    tmp_path: Path, synapse: Sandbox, bot: SandboxUser, private_room: str
) -> None:
    server = synapse.server_name
    now = int(time.time())
    args = _original_files(
        tmp_path,
        f"@troll:{server} Reason: spam\n@nobody Reason: typo\n",
        {
            f"@fine:{server}": {"invite_time": now},
            f"@Shouty:{server}": {"invite_time": now},
            f"@lost:{server}": {"last_checked": now},
            f"@millis:{server}": {"invite_time": now * 1000},
        },
    )
    blocked, pending = args[1], args[3]

    code, out, err = await _knock_import(tmp_path, synapse, bot, private_room, args)
    missing = await _knock_import(
        tmp_path, synapse, bot, private_room, ["--blocklist", str(tmp_path / "nowhere.txt")]
    )

    assert (code, out) == (2, [])
    # A block-list line that is not an entry is skipped and named; the bad invites stop it all.
    assert err[0].startswith(f'knock: {blocked}:2: skipped "@nobody Reason: typo": ')
    assert [line.split(": ")[1:3] for line in err[1:-1]] == [
        [pending, f'"@Shouty:{server}"'],
        [pending, f'"@lost:{server}"'],
        [pending, f'"@millis:{server}"'],
    ]
    assert err[2].endswith('"invite_time" is missing')
    assert err[-1] == "knock: 3 problems; nothing imported"
    nowhere = tmp_path / "nowhere.txt"
    assert missing == (
        2,
        [],
        [f"knock: cannot read {nowhere}: No such file or directory; nothing imported"],
    )
    knock = await start_knock(
        knock_settings(tmp_path, synapse, bot, private_room), background=False
    )
    try:
        listing = (await _get(knock, "/blocklist"))["blocked_users"]
        knocks = (await _get(knock, "/knocks"))["knocks"]
    finally:
        await knock.stop()
    assert (listing, knocks) == ([], [])
