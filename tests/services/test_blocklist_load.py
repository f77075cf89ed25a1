"""A load files a pattern stored by several origins once, in force when any origin's entry is,
however the rows fall into the batches it reads."""

from __future__ import annotations

import pytest

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
