"""The array-backed hash multimap behind the name index."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.multimap import HashMultimap


def test_values_are_found_under_their_key_only() -> None:
    table = HashMultimap(bits=2)
    table.add(5, 1)
    table.add(5, 2)
    table.add(9, 3)  # same bucket as 5 with 2 bits
    assert sorted(table.get(5)) == [1, 2]
    assert table.get(9) == [3]
    assert table.get(13) == []
    assert len(table) == 3


def test_discard_removes_one_pair_and_frees_its_node() -> None:
    table = HashMultimap(bits=2)
    table.add(-7, 1)
    table.add(-7, 1)
    assert table.discard(-7, 1)
    assert table.get(-7) == [1]
    assert not table.discard(-7, 2)
    table.add(3, 4)  # reuses the freed node
    assert table.get(3) == [4]
    assert len(table) == 2


def test_collect_gathers_the_values_of_many_keys() -> None:
    table = HashMultimap()
    for key, value in [(1, 10), (2, 20), (2, 21), (3, 30)]:
        table.add(key, value)
    found: set[int] = set()
    table.collect([2, 3, 4], found)
    assert found == {20, 21, 30}


def test_growing_and_reserving_keep_every_pair() -> None:
    table = HashMultimap(bits=1)
    for key in range(1000):
        table.add(key * 7919, key)
    table.reserve(100_000)
    assert all(table.get(key * 7919) == [key] for key in range(1000))


@given(
    st.lists(
        st.tuples(
            st.booleans(), st.integers(-(2**63), 2**63 - 1) | st.integers(0, 8), st.integers(0, 5)
        ),
        max_size=200,
    )
)
def test_it_behaves_like_a_multiset_of_pairs(operations: list[tuple[bool, int, int]]) -> None:
    table = HashMultimap(bits=1)
    model: Counter[tuple[int, int]] = Counter()
    for adding, key, value in operations:
        if adding:
            table.add(key, value)
            model[(key, value)] += 1
        else:
            assert table.discard(key, value) == (model[(key, value)] > 0)
            model[(key, value)] -= min(1, model[(key, value)])
    assert len(table) == sum(model.values())
    for key in {key for key, _ in model}:
        expected = Counter({value: n for (k, value), n in model.items() if k == key and n})
        assert Counter(table.get(key)) == expected


@given(
    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 8), st.integers(0, 5))),
    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 8), st.integers(0, 5))),
    st.booleans(),
)
def test_extending_is_adding_each_pair_in_turn(
    before: list[tuple[int, int]], pairs: list[tuple[int, int]], free_a_node: bool
) -> None:
    one_by_one, at_once = HashMultimap(bits=1), HashMultimap(bits=1)
    for table in (one_by_one, at_once):
        for key, value in before:
            table.add(key, value)
        if free_a_node and before:
            table.discard(*before[0])
    for key, value in pairs:
        one_by_one.add(key, value)
    at_once.extend([key for key, _ in pairs], [value for _, value in pairs])
    assert len(at_once) == len(one_by_one)
    for key in {key for key, _ in before + pairs}:
        assert at_once.get(key) == one_by_one.get(key)  # the same values, newest first
