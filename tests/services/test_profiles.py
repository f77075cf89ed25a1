"""Display names and avatars: looked up once per knock by the worker, kept, served from the cache.

The console reads the cache only, so the fake homeserver's request log shows every call a page
view would make: none.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from knock.core.history import Actor
from knock.core.jobs import JobKind
from knock.core.lifecycle import State
from knock.core.media import MAX_AVATAR_BYTES
from knock.services.console.profiles import Avatar, Profile
from knock.services.runtime import Runtime
from knock.store import Store
from knock.store.schema import jobs
from tests.clock import FakeClock
from tests.images import PNG, SVG, png
from tests.services.conftest import KnockState, Submit, drain
from tests.services.console import KEY
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
TROLL = f"@troll:{SERVER}"
MOD = Actor.api("admin")
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "http://knock"}


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": KEY, "repair_action": "review"}


async def signed_in(http: httpx.AsyncClient) -> httpx.AsyncClient:
    answer = await http.post("/console/sign-in", data={"api_key": KEY})
    assert answer.status_code == 303 and "knock_console" in http.cookies
    return http


def with_avatar(homeserver: FakeHomeserver, user_id: str, name: str, content: bytes) -> str:
    homeserver.add_user(user_id, name)
    uri = homeserver.upload(content, "image/png")  # the label is never trusted
    homeserver.set_avatar(user_id, uri)
    return uri


def count(homeserver: FakeHomeserver, endpoint: str) -> int:
    return len(homeserver.calls(endpoint, status=None))


async def job_kinds(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        return [row.kind for row in await conn.execute(jobs.select().order_by(jobs.c.id))]


async def test_the_invites_lookup_keeps_the_name_and_avatar_and_page_views_never_ask_again(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, http: httpx.AsyncClient
) -> None:
    with_avatar(homeserver, ALICE, "Alice Liddell", PNG)

    await submit(ALICE)
    await drain(services)

    assert homeserver.membership(services.settings.new_room_id, ALICE) == "invite"
    assert (count(homeserver, "profile"), count(homeserver, "media_download")) == (1, 1)
    calls = len(homeserver.requests)
    await signed_in(http)
    for _ in range(3):
        assert await services.profiles.of([ALICE, BOB]) == {ALICE: Profile("Alice Liddell", True)}
        assert await services.profiles.avatar(ALICE) == Avatar(PNG, "image/png")
        assert (await http.get(f"/console/avatars/{ALICE}")).content == PNG
    assert len(homeserver.requests) == calls  # the cache answered every view


async def test_an_avatar_is_served_as_the_image_its_bytes_show_with_headers_that_keep_it_one(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, http: httpx.AsyncClient
) -> None:
    homeserver.add_user(ALICE, "Alice")
    homeserver.set_avatar(ALICE, homeserver.upload(PNG, "text/html"))
    await submit(ALICE)
    await drain(services)

    answer = await (await signed_in(http)).get(f"/console/avatars/{ALICE}")

    assert answer.status_code == 200 and answer.content == PNG
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "default-src 'none'"
    assert answer.headers["cache-control"] == "private, max-age=3600"


async def test_without_a_session_no_avatar_is_served(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, http: httpx.AsyncClient
) -> None:
    with_avatar(homeserver, ALICE, "Alice", PNG)
    await submit(ALICE)
    await drain(services)

    unsigned = await http.get(f"/console/avatars/{ALICE}")
    http.cookies.set("knock_console", "a-forged-session-token", path="/console/")
    forged = await http.get(f"/console/avatars/{ALICE}")

    for answer in (unsigned, forged):
        assert answer.status_code == 401 and answer.content == b""
        assert answer.headers["cache-control"] == "no-store"


async def test_someone_without_an_avatar_or_never_looked_up_gets_a_404(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, http: httpx.AsyncClient
) -> None:
    homeserver.add_user(BOB, "Bob")
    await submit(BOB)
    await drain(services)
    await signed_in(http)

    assert await services.profiles.of([BOB]) == {BOB: Profile("Bob", False)}
    assert (await http.get(f"/console/avatars/{BOB}")).status_code == 404
    assert (await http.get("/console/avatars/@nobody:hs.test")).status_code == 404


async def test_an_svg_avatar_is_refused_and_not_downloaded_again_until_it_changes(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    http: httpx.AsyncClient,
    store: Store,
) -> None:
    with_avatar(homeserver, ALICE, "Alice", SVG)  # labelled image/png
    await submit(ALICE)
    await drain(services)

    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", False)}
    assert (await (await signed_in(http)).get(f"/console/avatars/{ALICE}")).status_code == 404
    async with store.engine.connect() as conn:
        kept = (await conn.exec_driver_sql("SELECT avatar, avatar_type FROM profiles")).all()
    assert [tuple(row) for row in kept] == [(None, None)]

    await submit(ALICE)  # knocks again: looked up again, the same avatar is not downloaded
    await drain(services)
    assert (count(homeserver, "profile"), count(homeserver, "media_download")) == (2, 1)

    homeserver.set_avatar(ALICE, homeserver.upload(png(1, 2, 3), "image/svg+xml"))
    await submit(ALICE)
    await drain(services)
    assert count(homeserver, "media_download") == 2
    assert await services.profiles.avatar(ALICE) == Avatar(png(1, 2, 3), "image/png")


@pytest.mark.parametrize(
    "content",
    [
        PNG + b"\0" * MAX_AVATAR_BYTES,  # too large
        b"<html><body onload=alert(1)>",
        b"",
    ],
)
async def test_an_avatar_too_large_or_not_a_raster_image_is_not_kept(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit, content: bytes
) -> None:
    with_avatar(homeserver, ALICE, "Alice", content)

    await submit(ALICE)
    await drain(services)

    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", False)}
    assert await services.profiles.avatar(ALICE) is None


async def test_an_avatar_that_is_no_media_uri_is_never_asked_for(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit
) -> None:
    homeserver.add_user(ALICE, "Alice")
    homeserver.set_avatar(ALICE, f"mxc://{SERVER}/../../_synapse/admin/v1/users")

    await submit(ALICE)
    await drain(services)

    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", False)}
    assert count(homeserver, "media_download") == count(homeserver, "unknown") == 0


async def test_a_failed_download_never_stops_the_invite_and_is_tried_at_the_next_lookup(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit
) -> None:
    with_avatar(homeserver, ALICE, "Alice", PNG)
    homeserver.fail_next(1, 502, endpoint="media_download")  # a remote server's failure

    outcome = await submit(ALICE)
    await drain(services)

    assert homeserver.membership(services.settings.new_room_id, ALICE) == "invite"
    assert outcome.state is State.QUEUED
    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", False)}
    await submit(ALICE)
    await drain(services)
    assert await services.profiles.avatar(ALICE) == Avatar(PNG, "image/png")


async def test_a_homeserver_without_authenticated_media_is_asked_at_the_legacy_endpoint(
    services: Runtime, homeserver: FakeHomeserver, submit: Submit
) -> None:
    homeserver.authenticated_media = False
    with_avatar(homeserver, ALICE, "Alice", PNG)
    with_avatar(homeserver, BOB, "Bob", png(0, 0, 0))

    await submit(ALICE)
    await submit(BOB)
    await drain(services)

    assert await services.profiles.avatar(ALICE) == Avatar(PNG, "image/png")
    assert await services.profiles.avatar(BOB) == Avatar(png(0, 0, 0), "image/png")
    assert [c.status for c in homeserver.calls("media_download", status=None)] == [404]
    assert count(homeserver, "legacy_media_download") == 2


async def test_a_knock_held_for_review_at_admission_gets_a_lookup_of_its_own(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    store: Store,
) -> None:
    with_avatar(homeserver, ALICE, "Alice", PNG)

    outcome = await submit(ALICE, typed=f"alice@{SERVER}")  # repaired: held (REPAIR_ACTION)
    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")
    assert await job_kinds(store) == [JobKind.PROFILE.value]
    await drain(services)

    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", True)}
    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")
    assert homeserver.calls("invite", status=None) == []
    assert await job_kinds(store) == []


async def test_a_lookup_that_keeps_failing_gives_up_and_leaves_the_knock_held(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    clock: FakeClock,
    store: Store,
) -> None:
    homeserver.add_user(ALICE, "Alice")
    homeserver.down("profile")

    outcome = await submit(ALICE, typed=f"alice@{SERVER}")
    await drain(services)
    clock.advance(services.settings.invite_retry_for + 1)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REVIEW, "repaired_id")
    assert await job_kinds(store) == []
    assert await services.profiles.of([ALICE]) == {}


async def test_a_knock_the_invite_step_holds_is_kept_by_that_steps_own_lookup(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    knock_state: KnockState,
    store: Store,
) -> None:
    homeserver.add_user(TROLL)
    await services.blocking.block(services.blocklist.entry_for(TROLL, source="test"), MOD)
    with_avatar(homeserver, BOB, "trоll", PNG)  # a Cyrillic о: held for review at invite time

    outcome = await submit(BOB)
    await drain(services)

    assert await knock_state(outcome.knock_id) == (State.REVIEW, "fuzzy_match")
    assert await services.profiles.of([BOB]) == {BOB: Profile("trоll", True)}
    assert count(homeserver, "profile") == 1  # no second lookup
    assert await job_kinds(store) == []


async def test_a_knock_pages_account_check_keeps_the_profile(
    services: Runtime, homeserver: FakeHomeserver, http: httpx.AsyncClient, store: Store
) -> None:
    with_avatar(homeserver, ALICE, "Alice", PNG)

    answer = await http.post("/knock", data={"matrix_id": ALICE}, headers=SAME_ORIGIN)
    assert answer.status_code == 303
    assert sorted(await job_kinds(store)) == [JobKind.CHECK_ACCOUNT.value, JobKind.INVITE.value]
    await drain(services)

    assert await services.profiles.of([ALICE]) == {ALICE: Profile("Alice", True)}
    # The account check and the invite each looked Alice up; the avatar came down once.
    assert (count(homeserver, "profile"), count(homeserver, "media_download")) == (2, 1)


async def test_retention_erases_the_profiles_of_people_with_no_knock_left(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    store: Store,
    clock: FakeClock,
) -> None:
    with_avatar(homeserver, ALICE, "Alice", PNG)
    await submit(ALICE)
    await drain(services)
    await store.profiles.record(BOB, "Bob", None, None, clock.now())  # a knock since erased

    clock.advance(services.settings.retention + 1)
    services.duties.force()
    await services.duties.run_once()

    assert set(await services.profiles.of([ALICE, BOB])) == {ALICE}  # Alice is still invited
