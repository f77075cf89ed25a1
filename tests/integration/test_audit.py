"""The console's audit on both engines: knocks' history, block-list entries and the moderators'
own log, read as one list newest first, filtered, paged both ways and erased by RETENTION."""

from __future__ import annotations

import pytest

from knock.core.admission_batch import AddKnock, ResetWave
from knock.core.history import Actor, ActorKind, Change, HistoryLine, ModeratorAction
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Event, State
from knock.store import Store, StoredEntry
from knock.store.audit import AuditCursor, AuditFilter, AuditRow
from knock.store.blocklist import MODERATOR, NEW
from knock.store.writes import add_action, add_history

ALICE = "@alice:example.org"
TROLL = "@troll:example.org"
FRIEND = "@friend:example.org"
PATTERN = "@spam*:example.org"
MOD = "@mod:example.org"
CONSOLE = Actor(ActorKind.CONSOLE, "mod")


@pytest.fixture
async def acted(store: Store) -> None:
    """A moderator's action every ten seconds, from 100 to 160, by every route."""
    new = NewKnock("k1", ALICE, ALICE, State.REVIEW, "fuzzy_match", "tally", "s1", None, None)
    await store.admit(AddKnock(new, (HistoryLine(Event.RECEIVED, Actor.form("tally")),)), 90.0)
    blocks = store.blocklist
    await blocks.add(StoredEntry(TROLL, False, MODERATOR, "api:admin", "spam", 100.0))
    await blocks.add(StoredEntry(FRIEND, True, MODERATOR, "cli:ops", None, 110.0))
    await blocks.remove(FRIEND, True, MODERATOR, 120.0, by=Actor.cli("ops"))
    await blocks.add(StoredEntry(PATTERN, False, MODERATOR, "file", "wave", 130.0, status=NEW))
    assert await blocks.hold(PATTERN, 130.0) is not None
    await blocks.add(StoredEntry(PATTERN, False, MODERATOR, str(CONSOLE), None, 140.0), by=CONSOLE)
    await store.admit(ResetWave(Actor.api("admin")), 150.0)
    async with store.engine.begin() as conn:
        await add_history(conn, "k1", [HistoryLine(Event.DENIED, Actor.matrix(MOD), "no")], 160.0)


def shown(rows: list[AuditRow]) -> list[tuple[float, str, str, str | None, str | None]]:
    return [(row.at, row.actor, row.action, row.target, row.detail) for row in rows]


async def test_every_kind_of_action_is_read_newest_first(acted: None, store: Store) -> None:
    rows = await store.audit.actions(AuditFilter(), limit=50)

    assert shown(rows) == [
        (160.0, f"matrix:{MOD}", "denied", ALICE, "no"),
        (150.0, "api:admin", "reset_join_wave", None, None),
        (140.0, "console:mod", "confirm_block", PATTERN, "blocked by file: wave"),
        # A confirmed entry keeps its time and takes its confirmer as its source.
        (130.0, "console:mod", "block", PATTERN, None),
        (120.0, "cli:ops", "unallow", FRIEND, "allowed by cli:ops"),
        (100.0, "api:admin", "block", TROLL, "spam"),
    ]
    assert rows[0].knock_id == "k1" and {row.knock_id for row in rows[1:]} == {None}
    assert await store.audit.actors() == ["api:admin", "cli:ops", "console:mod", f"matrix:{MOD}"]


async def test_pages_read_both_ways_through_every_table(acted: None, store: Store) -> None:
    everything = await store.audit.actions(AuditFilter(), limit=50)
    pages, cursor = [], None
    while True:
        page = await store.audit.actions(AuditFilter(), limit=2, older_than=cursor)
        if not page:
            break
        pages.append(page)
        cursor = AuditCursor(page[-1].at, page[-1].key)
    last = pages[-1][0]
    back = await store.audit.actions(
        AuditFilter(), limit=2, newer_than=AuditCursor(last.at, last.key)
    )

    assert [row for page in pages for row in page] == everything
    assert back == pages[-2]


async def test_filters_narrow_by_action_actor_and_door(acted: None, store: Store) -> None:
    async with store.engine.begin() as conn:
        # A change about one door only (a join wave is a door's; the lists are every door's)
        # shows with that door's actions, and not with another door's.
        side = ModeratorAction(Change.RESET_JOIN_WAVE, Actor.api("side"), door="side")
        await add_action(conn, side, 170.0)

    unallowed = await store.audit.actions(AuditFilter(action="unallow"), limit=50)
    by_console = await store.audit.actions(AuditFilter(actor="CONSOLE:"), limit=50)
    default = await store.audit.actions(AuditFilter(door="default"), limit=50)
    other = await store.audit.actions(AuditFilter(door="side"), limit=50)

    assert [row.target for row in unallowed] == [FRIEND]
    assert [row.action for row in by_console] == ["confirm_block", "block"]
    assert [row.action for row in default] == [
        "denied",
        "reset_join_wave",
        "confirm_block",
        "block",
        "unallow",
        "block",
    ]
    assert [row.action for row in other] == [
        "reset_join_wave",
        "confirm_block",
        "block",
        "unallow",
        "block",
    ]
    assert other[0].actor == "api:side"


async def test_retention_erases_the_moderators_log_before_a_time(acted: None, store: Store) -> None:
    erased = await store.audit.forget(before=145.0)
    rows = await store.audit.actions(AuditFilter(), limit=50)

    assert erased == 2
    assert [row.action for row in rows] == ["denied", "reset_join_wave", "block", "block"]
