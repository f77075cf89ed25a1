"""Start-up checks the room on the homeserver and says in one line what is missing."""

from __future__ import annotations

from typing import Any

import pytest

from knock.config import Settings
from knock.services.runtime import Runtime, StartupError
from tests.clock import FakeClock
from tests.services.conftest import BOT, ROOM
from tests.services.fake_homeserver import SERVER, FakeHomeserver

MOD_ROOM = f"!moderators:{SERVER}"


async def refused_start(settings: Settings, clock: FakeClock, homeserver: FakeHomeserver) -> str:
    runtime = Runtime(settings, clock=clock, transport=homeserver.transport)
    with pytest.raises(StartupError) as failed:
        await runtime.start(background=False)
    return str(failed.value)


async def test_a_bot_without_kick_and_ban_power_is_told_to_raise_it(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.set_state(ROOM, BOT, "m.room.power_levels", "", {"users": {BOT: 10}})

    said = await refused_start(settings, clock, homeserver)

    assert said == (
        f"the bot {BOT} has power level 10 in {ROOM} but cannot kick (needs 50), "
        "ban (needs 50): raise its power level"
    )


async def test_a_bot_that_is_not_in_the_room_is_told_to_join(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.leave(BOT, ROOM)

    said = await refused_start(settings, clock, homeserver)

    assert said.startswith(f"the bot {BOT} has not joined NEW_ROOM_ID {ROOM}")


MODERATED: dict[str, Any] = {"moderation_room_id": MOD_ROOM}


@pytest.mark.parametrize("knock_options", [MODERATED], ids=["moderation_room"])
async def test_an_encrypted_moderation_room_stops_start_up(
    settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=MOD_ROOM, encrypted=True)

    said = await refused_start(settings, clock, homeserver)

    assert said.startswith(f"MODERATION_ROOM_ID {MOD_ROOM} is encrypted")
