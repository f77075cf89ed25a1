"""The fake homeserver keeps the spec's promises that Knock relies on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from knock.matrix.client import LocalPacer, MatrixClient, MatrixError
from tests.clock import FakeClock
from tests.services.conftest import BOT, BOT_TOKEN, ROOM
from tests.services.fake_homeserver import BASE_URL, SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"


@pytest.fixture
async def matrix(homeserver: FakeHomeserver) -> AsyncIterator[MatrixClient]:
    clock = FakeClock()
    async with httpx.AsyncClient(transport=homeserver.transport) as http:
        client = MatrixClient(http, BASE_URL, clock, pacer=LocalPacer(clock, 0))
        client.access_token = BOT_TOKEN
        yield client


async def test_a_repeated_transaction_id_gives_the_first_event_and_sends_once(
    homeserver: FakeHomeserver, matrix: MatrixClient
) -> None:
    first = await matrix.send_message(ROOM, "hello", txn_id="t1")
    again = await matrix.send_message(ROOM, "hello", txn_id="t1")
    other = await matrix.send_message(ROOM, "hello", txn_id="t2")

    assert first == again != other
    assert len(homeserver.messages(ROOM)) == 2


@pytest.mark.parametrize(
    ("membership", "errcode"), [("ban", "M_BAD_STATE"), ("join", "M_FORBIDDEN")]
)
async def test_inviting_a_banned_or_joined_user_is_refused(
    homeserver: FakeHomeserver, matrix: MatrixClient, membership: str, errcode: str
) -> None:
    homeserver.set_membership(ROOM, ALICE, membership, by=BOT if membership == "ban" else None)

    with pytest.raises(MatrixError) as refused:
        await matrix.invite(ROOM, ALICE, "")

    assert (refused.value.status, refused.value.errcode) == (403, errcode)
    assert homeserver.membership(ROOM, ALICE) == membership


async def test_an_unknown_profile_is_404(matrix: MatrixClient) -> None:
    with pytest.raises(MatrixError) as missing:
        await matrix.profile(f"@nobody:{SERVER}")

    assert (missing.value.status, missing.value.errcode) == (404, "M_NOT_FOUND")


async def test_sync_returns_what_happened_since_its_token_in_the_rooms_asked_for(
    homeserver: FakeHomeserver, matrix: MatrixClient
) -> None:
    elsewhere = homeserver.create_room(BOT)
    wanted = {"room": {"rooms": [ROOM], "timeline": {"types": ["m.room.member"]}}}
    first = await matrix.sync(None, 0, wanted)
    homeserver.join(ALICE, ROOM)
    homeserver.join(ALICE, elsewhere)
    homeserver.send(ALICE, ROOM, "not a membership")

    second = await matrix.sync(first["next_batch"], 0, wanted)
    third = await matrix.sync(second["next_batch"], 0, wanted)

    assert first["rooms"]["join"] == {}
    [event] = second["rooms"]["join"][ROOM]["timeline"]["events"]
    assert (event["state_key"], event["content"]["membership"]) == (ALICE, "join")
    assert list(second["rooms"]["join"]) == [ROOM]
    assert third["rooms"]["join"] == {}
