"""A load files a pattern stored by several origins once, in force when any origin's entry is,
however the rows fall into the batches it reads."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from knock.core.blocklist import FOLD_VERSION
from knock.services.blocklist import index as blocklist_index
from knock.services.runtime import Runtime
from knock.store import Store, StoredEntry
from knock.store.blocklist import ACTIVE, HELD
from tests.services.fake_homeserver import SERVER

SAME_BATCH = f"@held-then-in-force:{SERVER}"
ACROSS_BATCHES = f"@held-then-in-force-later:{SERVER}"
IN_FORCE_FIRST = f"@in-force-then-held:{SERVER}"
DOOR_OWN = f"@lobby-only-held:{SERVER}"
OTHER = f"@someone-else:{SERVER}"


async def test_a_pattern_is_in_force_when_any_origin_puts_it_in_force(
    runtime: Runtime, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocklist_index, "LOAD_BATCH", 2)  # read the rows two at a time
    rows = [  # in the order they are stored, and read
        (SAME_BATCH, HELD),  # batch 1
        (SAME_BATCH, ACTIVE),
        (ACROSS_BATCHES, HELD),  # batch 2
        (OTHER, HELD),
        (ACROSS_BATCHES, ACTIVE),  # batch 3
        (IN_FORCE_FIRST, ACTIVE),
        (IN_FORCE_FIRST, HELD),  # batch 4
        (DOOR_OWN, ACTIVE),  # every door's, in force; the lobby's own below is held
    ]
    for number, (pattern, status) in enumerate(rows):
        await _store(store, f"policy:!list{number}:{SERVER}", pattern, status)
    await _store(store, "door:lobby", DOOR_OWN, HELD)
    blocklist = runtime.services.blocklist

    await blocklist.load()

    assert blocklist.size() == 6
    for pattern in (SAME_BATCH, ACROSS_BATCHES, IN_FORCE_FIRST, DOOR_OWN):
        assert blocklist.check_in_force(pattern).verdict == "block", pattern
    assert blocklist.check_in_force(OTHER).verdict == "allow"  # held: refuses, removes nobody
    assert blocklist.check(OTHER).verdict == "block"
    lobby = blocklist.door_indexes["lobby"].get(DOOR_OWN)
    assert lobby is not None and lobby.held


async def _store(store: Store, origin: str, pattern: str, status: str) -> None:
    entry = StoredEntry(pattern, False, origin, origin, None, 0.0, status=status)
    await store.blocklist.replace_origin(origin, [entry], 0.0)


# Stored fold keys: a load reads each user entry's keys instead of folding its name again.

TROLL = f"@trollking:{SERVER}"
DISGUISED = f"@tr0llk1ng_99:{SERVER}"


async def _set_keys(store: Store, name_key: str | None, folded: int | None) -> None:
    """Make every entry's stored keys what an older (or newer) Knock would have left."""
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE blocklist_entries SET name_key = :k, fuzzy_key = NULL, folded = :v"),
            {"k": name_key, "v": folded},
        )


async def _stored_keys(store: Store) -> dict[str, tuple[str | None, str | None, int | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT pattern, name_key, fuzzy_key, folded FROM blocklist_entries")
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def test_a_load_reads_the_keys_stored_with_this_version_and_folds_any_other(
    runtime: Runtime, store: Store
) -> None:
    blocklist = runtime.services.blocklist
    await blocklist.add(blocklist.entry_for(TROLL))
    # Keys of another name, stored as this version's: the load believes them.
    await _set_keys(store, "zebra", FOLD_VERSION)
    await blocklist.load()
    assert blocklist.check(f"@zebra:{SERVER}").verdict == "review"
    assert blocklist.check(DISGUISED).verdict == "allow"
    # The same keys as another version's: folded again from the pattern.
    await _set_keys(store, "zebra", FOLD_VERSION + 1)
    await blocklist.load()
    assert blocklist.check(f"@zebra:{SERVER}").verdict == "allow"
    assert blocklist.check(DISGUISED).verdict == "review"


async def test_entries_stored_without_keys_match_and_the_lease_holder_stores_their_keys(
    runtime: Runtime, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocklist = runtime.services.blocklist
    patterns = [
        TROLL,
        f"@spam-*:{SERVER}",
        "evil.example",
        *(f"@user{n}:{SERVER}" for n in range(4)),
    ]
    for pattern in patterns:
        await blocklist.add(blocklist.entry_for(pattern))
    written = await _stored_keys(store)
    assert written[TROLL] == ("troiking", None, FOLD_VERSION)
    assert written["evil.example"] == (None, None, FOLD_VERSION)
    await _set_keys(store, None, None)  # as stored before keys were
    monkeypatch.setattr(blocklist_index, "REFOLD_BATCH", 3)  # three ticks for seven entries

    await blocklist.load()
    assert blocklist.check(DISGUISED).verdict == "review"  # folded at load
    duties = runtime.services.duties
    await duties.run_once(starting=True)  # start-up does not wait for it
    assert all(folded is None for *_, folded in (await _stored_keys(store)).values())
    for _ in range(3):
        assert any(folded is None for *_, folded in (await _stored_keys(store)).values())
        duties.force()
        await duties.run_once()

    assert await _stored_keys(store) == written
    assert await blocklist.refold() == 0  # nothing left to do, and no query made for it
    await blocklist.load()
    assert blocklist.check(DISGUISED).verdict == "review"
