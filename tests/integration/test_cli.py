"""On the real Synapse: a moderator approves a held knock from a shell, and the running Knock
invites the person."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path

import pytest

from knock.cli import main
from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.harness import (
    DATABASE,
    eventually,
    invited,
    knock_settings,
    start_knock,
    tally_delivery,
)


async def test_knock_approve_with_a_matrix_id_lets_the_running_knock_invite_the_person(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = make_user("approved-from-a-shell")
    knock = await start_knock(
        knock_settings(tmp_path, synapse, bot, private_room, repair_action="review")
    )
    # The moderator's shell: the deployment's environment, no `.env`.
    shell = tmp_path / "shell"
    shell.mkdir()
    monkeypatch.chdir(shell)
    for name, value in {
        "NEW_ROOM_ID": private_room,
        "MATRIX_BASE_URL": synapse.base_url,
        "MATRIX_ACCESS_TOKEN": bot.access_token,
        "DATABASE_URL": DATABASE.url,
        "TOKENS_FILE": str(tmp_path / "tokens.json"),
        "REQUEST_DELAY": "0",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        # Typed without "@": repaired, and with REPAIR_ACTION=review held for a moderator.
        body, headers = tally_delivery(person.user_id.removeprefix("@"), "held-for-the-cli")
        answer = await knock.http.post("/invite_from_form", content=body, headers=headers)
        knock_id = answer.json()["knock_id"]
        held = await knock.knock_state(knock_id)

        code = await asyncio.to_thread(main, ["approve", person.user_id, "--note", "known"])
        out, err = capsys.readouterr()

        await eventually(
            lambda: invited(synapse, bot, private_room, person.user_id),
            what="the invite on Synapse",
        )
        history = await knock.runtime.store.history(knock_id)
    finally:
        await knock.stop()

    assert held == (State.REVIEW, "repaired_id")
    assert code == 0, err
    [shown] = [json.loads(line) for line in out.splitlines()]
    assert (shown["knock_id"], shown["state"]) == (knock_id, "queued")
    actor = f"cli:{getpass.getuser()}"
    assert ("approved", actor, "known") in [(h.event, h.actor, h.detail) for h in history]
