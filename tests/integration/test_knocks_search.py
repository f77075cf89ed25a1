"""The console's knock search on both engines: any case, `%` and `_` literal, keyset pages."""

from __future__ import annotations

import json

from sqlalchemy import insert

from knock.core.history import KNOCK, HistoryLine
from knock.core.knock_filter import Cursor, KnockFilter
from knock.core.knocks import NewKnock
from knock.core.lifecycle import Event, State
from knock.store import Store
from knock.store.schema import knocks
from knock.store.writes import add_history, knock_row

NOW = 1_800_000_000.0


async def add(store: Store, n: int, typed: str, answers: dict[str, str], at: float) -> str:
    knock_id = f"k{n:04}"
    new = NewKnock(
        knock_id=knock_id,
        user_id=typed.lower(),
        requested_id=typed,
        state=State.QUEUED,
        reason=None,
        source="tally",
        submission_key=f"tally:{n}",
        ip_hash=None,
        answers=json.dumps(answers, ensure_ascii=False),
    )
    async with store.engine.begin() as conn:
        await conn.execute(insert(knocks).values(knock_row(new, at)))
    return knock_id


async def found(store: Store, text: str) -> list[str]:
    return [k.knock_id for k in await store.search.knocks(KnockFilter(text=text), limit=100)]


async def test_text_is_found_in_any_case_and_its_wildcards_are_literal(store: Store) -> None:
    await add(store, 1, "@Alice:example.org", {"Why": "Gardening 100%"}, NOW)
    await add(store, 2, "@bob:example.org", {"Why": "Grüße aus Köln"}, NOW + 1)
    await add(store, 3, "@carol_x:example.org", {"Why": "back\\slash"}, NOW + 2)

    assert await found(store, "ALICE") == ["k0001"]
    assert await found(store, "@Alice") == ["k0001"]
    assert await found(store, "GARDEN") == ["k0001"]
    assert await found(store, "Köln") == ["k0002"]
    assert await found(store, "100%") == ["k0001"]
    assert await found(store, "%") == ["k0001"]
    assert await found(store, "l_x") == ["k0003"]
    assert await found(store, "o_") == []  # `_` is no wildcard: "ob" does not match
    assert await found(store, "\\\\slash") == ["k0003"]  # as JSON keeps a backslash
    assert await found(store, "example.org") == ["k0003", "k0002", "k0001"]


async def test_pages_read_both_ways_through_knocks_of_one_second(store: Store) -> None:
    ids = [await add(store, n, f"@p{n}:example.org", {}, NOW) for n in range(7)]
    newest_first = sorted(ids, reverse=True)

    first = await store.search.knocks(KnockFilter(), limit=3)
    place = Cursor(first[-1].received_at, first[-1].knock_id)
    second = await store.search.knocks(KnockFilter(), limit=3, older_than=place)
    back = await store.search.knocks(
        KnockFilter(), limit=3, newer_than=Cursor(second[0].received_at, second[0].knock_id)
    )

    assert [k.knock_id for k in first + second] == newest_first[:6]
    assert back == first


async def test_reminders_are_read_for_many_knocks_at_once(store: Store) -> None:
    reminded = await add(store, 1, "@a:example.org", {}, NOW)
    await add(store, 2, "@b:example.org", {}, NOW)
    async with store.engine.begin() as conn:
        await add_history(conn, reminded, [HistoryLine(Event.REMINDED, KNOCK)], NOW + 60)

    assert await store.search.reminded_at(["k0001", "k0002", "k9999"]) == {"k0001": NOW + 60}
    assert await store.search.reminded_at([]) == {}
    assert await store.search.sources() == ["tally"]
