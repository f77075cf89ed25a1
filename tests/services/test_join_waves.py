"""Each door's join wave is its own: summarised in that door's moderation room, reset alone.

Two doors, each with its moderation room: a flood at the club door trips its breaker only, and
its one summary goes to the club's moderators, naming the door; the default door's wave, tripped
later, goes to the main room. Resetting the club's wave leaves the default door's alone, and the
club's next wave is announced afresh.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from knock.config import Settings
from knock.core.admission_batch import wave_announced_key, wave_tripped_key
from knock.core.forms import Field, Submission
from knock.core.lifecycle import State
from knock.services.runtime import Runtime
from tests.clock import FakeClock
from tests.services.conftest import BOT, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver
from tests.services.test_doors import running

CLUB = f"!club:{SERVER}"
MOD_ROOM, CLUB_MODS = f"!moderators:{SERVER}", f"!club-moderators:{SERVER}"
KEY = "admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def doors_file(tmp_path: Path) -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(
        f'[doors.club]\nroom = "{CLUB}"\nmoderation_room_id = "{CLUB_MODS}"\n'
        "join_wave_threshold = 2\n"
    )
    return path


class Flood:
    """Seven knocks at once at a door: two go ahead, the third trips its breaker."""

    def __init__(self, runtime: Runtime, homeserver: FakeHomeserver) -> None:
        self.runtime = runtime
        self.homeserver = homeserver
        self.count = 0

    async def at(self, door: str) -> None:
        for _ in range(7):
            self.count += 1
            user = self.homeserver.add_user(f"@flood-{self.count}:{SERVER}")
            fields = (Field("Matrix ID", "matrix_id", None, user),)
            submission = Submission("tally", f"s{self.count}", fields)
            await self.runtime.services.intake.knock(submission, user, None, door=door)
        await drain(self.runtime.services)
        self.runtime.services.duties.force()
        await self.runtime.services.duties.run_once()


def posts(homeserver: FakeHomeserver, room: str) -> list[str]:
    return [m["content"]["body"] for m in homeserver.messages(room) if m["sender"] == BOT]


async def test_a_doors_join_wave_is_announced_in_its_moderation_room_and_reset_alone(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=CLUB)
    homeserver.create_room(BOT, room_id=MOD_ROOM)
    homeserver.create_room(BOT, room_id=CLUB_MODS)
    changes = {
        "doors_file": doors_file(tmp_path),
        "moderation_room_id": MOD_ROOM,
        "join_wave_threshold": 2,
        "max_requests_per_window": 100,
        "api_key": SecretStr(KEY),
    }
    async with running(settings, clock, homeserver, **changes) as (runtime, http):
        flood, store = Flood(runtime, homeserver), runtime.store
        await flood.at("club")
        [club_post] = posts(homeserver, CLUB_MODS)
        assert club_post.startswith("Join wave at door club: 7 knocks within JOIN_WAVE_WINDOW")
        assert "5 held for review so far" in club_post
        assert "/join_wave/reset?door=club" in club_post
        assert posts(homeserver, MOD_ROOM) == []
        default_wave = await http.get("/join_wave", headers=ADMIN)
        assert default_wave.json()["tripped"] is False
        assert await store.get_value(wave_tripped_key("default")) is None

        await flood.at("default")
        [default_post] = posts(homeserver, MOD_ROOM)
        assert default_post.startswith("Join wave at door default: 7 knocks")
        assert "5 held for review so far" in default_post
        assert len(posts(homeserver, CLUB_MODS)) == 1
        held = await store.list_knocks(state=State.REVIEW, reason="join_wave", door="club")
        assert len(held) == 5

        # Resetting the club's wave clears its announcement, and only its own.
        default_tripped = await store.get_value(wave_tripped_key("default"))
        reset = await http.post("/join_wave/reset", params={"door": "club"}, headers=ADMIN)
        assert reset.status_code == 200 and reset.json()["tripped"] is False
        assert await store.get_value(wave_announced_key("club")) is None
        assert await store.get_value(wave_tripped_key("default")) == default_tripped
        assert await store.get_value(wave_announced_key("default")) == default_tripped
        assert (await http.get("/join_wave", headers=ADMIN)).json()["tripped"] is True

        # The club's next wave is announced afresh; the default door's is not again.
        clock.advance(1)
        await flood.at("club")
        club_posts = posts(homeserver, CLUB_MODS)
        assert len(club_posts) == 2 and club_posts[1].startswith("Join wave at door club")
        assert len(posts(homeserver, MOD_ROOM)) == 1


async def test_a_door_without_its_own_moderation_room_has_its_wave_announced_in_the_main_one(
    tmp_path: Path, settings: Settings, clock: FakeClock, homeserver: FakeHomeserver
) -> None:
    homeserver.create_room(BOT, room_id=CLUB)
    homeserver.create_room(BOT, room_id=MOD_ROOM)
    path = tmp_path / "doors.toml"
    path.write_text(f'[doors.club]\nroom = "{CLUB}"\njoin_wave_threshold = 2\n')
    changes = {
        "doors_file": path,
        "moderation_room_id": MOD_ROOM,
        "join_wave_threshold": 50,
        "max_requests_per_window": 100,
    }
    async with running(settings, clock, homeserver, **changes) as (runtime, _):
        await Flood(runtime, homeserver).at("club")
        [post] = posts(homeserver, MOD_ROOM)
        assert post.startswith("Join wave at door club: 7 knocks")
        assert "!approve wave" in post
        assert await runtime.store.get_value(wave_tripped_key("default")) is None
