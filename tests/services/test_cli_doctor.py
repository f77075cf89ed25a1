"""`knock doctor` in-process on the fake homeserver: one verdict for one room, one section per door
with DOORS_FILE; and `/readyz` reporting each door, a space door's rooms included."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from knock.cli import main
from knock.config import Settings
from tests.clock import FakeClock
from tests.services.fake_homeserver import BASE_URL, SERVER, FakeHomeserver
from tests.services.test_doors import running

BOT = f"@knock:{SERVER}"
OWNER = f"@owner:{SERVER}"
ROOM, MODS = f"!members:{SERVER}", f"!moderators:{SERVER}"
SPACE, GENERAL, EVENTS = (f"!{name}:{SERVER}" for name in ("space", "general", "events"))
KEY = "admin-key-0123456789abcdef"


@pytest.fixture
def homeserver() -> FakeHomeserver:
    """The bot, in the members' room, the moderation room, the space and its general room; the
    events room is its owner's, and the bot has not joined it."""
    server = FakeHomeserver()
    server.add_user(BOT, "Knock", token="bot-token")
    server.add_user(OWNER)
    for room in (ROOM, MODS, SPACE, GENERAL):
        server.create_room(BOT, room_id=room)
    server.create_room(OWNER, room_id=EVENTS)
    return server


def doors_file(tmp_path: Path) -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(
        f'[doors.guild]\nroom = "{SPACE}"\nrooms = ["{GENERAL}", "{EVENTS}"]\n'
        f'welcome_room = "{GENERAL}"\n'
    )
    return path


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's shell: the environment (no `.env`), the fake homeserver."""
    monkeypatch.chdir(tmp_path)
    for name in ("BLOCKLIST_FILE", "ALLOWLIST_FILE", "DEFAULT_SERVER_NAME", "MATRIX_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "DATABASE_URL": f"sqlite:///{tmp_path}/knock.db",
        "NEW_ROOM_ID": ROOM,
        "MODERATION_ROOM_ID": MODS,
        "MATRIX_BASE_URL": BASE_URL,
        "MATRIX_ACCESS_TOKEN": "bot-token",
        "TOKENS_FILE": str(tmp_path / "tokens.json"),
        "WEBHOOK_TOKEN": "webhook-token-0123456789",
        "REQUEST_DELAY": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def doctor(homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["doctor"], transport=homeserver.transport)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_with_one_room_doctor_says_ok_in_one_line(
    shell: Path, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = doctor(homeserver, capsys)
    assert (code, err) == (0, "")
    assert out == f"OK: signed in as {BOT}; it can invite, kick and ban in {ROOM}\n"


def test_with_doors_doctor_gives_each_door_a_section_and_a_verdict(
    shell: Path,
    homeserver: FakeHomeserver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOORS_FILE", str(doors_file(shell)))

    code, out, err = doctor(homeserver, capsys)

    assert code == 1
    sections = out.split("\n\n")
    assert sections[0] == f"Signed in as {BOT}."
    assert sections[1].splitlines() == [
        "Door default: ready",
        f"  room {ROOM}: OK, it can invite, kick and ban",
        f"  moderation room {MODS}: OK, it can post",
    ]
    guild = sections[2].splitlines()
    assert guild[:3] == [
        "Door guild: NOT READY",
        f"  space {SPACE}: OK, it can invite, kick and ban",
        f"  room of the space {GENERAL}: OK, it can invite, kick and ban",
    ]
    assert guild[3].startswith(
        f"  room of the space {EVENTS}: NOT READY: the bot {BOT} has not joined a room of door "
        f"guild {EVENTS}"
    )
    assert guild[4] == f"  moderation room {MODS}: OK, it can post"
    assert err == "knock: 1 of 2 doors not ready: guild\n"

    # Joined, but without the power to invite there: still not ready, saying what is missing.
    homeserver.set_state(EVENTS, OWNER, "m.room.power_levels", "", {"invite": 50})
    homeserver.join(BOT, EVENTS)
    code, out, err = doctor(homeserver, capsys)
    assert code == 1
    assert f"room of the space {EVENTS}: NOT READY: the bot {BOT} has power level 0" in out
    assert "cannot invite (needs 50), kick (needs 50), ban (needs 50)" in out

    homeserver.set_state(EVENTS, OWNER, "m.room.power_levels", "", {"users": {BOT: 100}})
    code, out, err = doctor(homeserver, capsys)
    assert (code, err) == (0, "")
    assert "Door guild: ready" in out
    assert out.endswith("\nOK: every door is ready (2)\n")


async def test_readyz_reports_a_door_whose_space_room_lacks_the_bot_and_the_others_ready(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    changes = {"doors_file": doors_file(tmp_path), "api_key": SecretStr(KEY)}
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        keyed = await http.get("/readyz", headers={"Authorization": f"Bearer {KEY}"})
        assert keyed.json()["checks"]["rooms"] is False
        doors = keyed.json()["details"]["doors"]
        assert doors["default"] == {"ready": True, "problems": []}
        assert doors["guild"]["ready"] is False
        [problem] = doors["guild"]["problems"]
        assert problem.startswith(f"the bot {BOT} has not joined a room of door guild {EVENTS}")
        assert keyed.json()["details"]["rooms"] == {EVENTS: problem}
        public = await http.get("/readyz")
        assert EVENTS not in public.text and "guild" not in public.text

        # Invited and joined: the link sees the room change, and the door is ready.
        homeserver.set_state(EVENTS, OWNER, "m.room.power_levels", "", {"users": {BOT: 100}})
        homeserver.join(BOT, EVENTS)
        await runtime.services.link.check_rooms()
        keyed = await http.get("/readyz", headers={"Authorization": f"Bearer {KEY}"})
        assert keyed.json()["details"]["doors"]["guild"] == {"ready": True, "problems": []}
        assert keyed.json()["checks"]["rooms"] is True
