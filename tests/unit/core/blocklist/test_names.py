"""The name index: same folded name here or elsewhere, and near misses by symmetric deletion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from knock.core.blocklist.model import MatchPolicy
from knock.core.blocklist.names import NameIndex

POLICY = MatchPolicy()
LETTERS = "abcdefgh"


def index_of(*fuzzy_keys: str) -> NameIndex:
    names = NameIndex(POLICY)
    for item, fuzzy in enumerate(fuzzy_keys):
        names.add(item, "example.org", fuzzy, fuzzy)
    return names


def near_items(names: NameIndex, fuzzy: str) -> dict[int, int]:
    """Entry -> distance for everything near ``fuzzy``."""
    return {
        item: distance
        for name, distance, _ in names.near(fuzzy)
        for item in names.members(name, 100)
    }


def test_same_name_on_the_same_server_and_anywhere() -> None:
    names = NameIndex(POLICY)
    names.add(1, "example.org", "troi", "troi")
    names.add(2, "other.org", "troi", "troi")
    assert names.same_server("example.org", "troi") == [1]
    assert sorted(names.anywhere("troi")) == [1, 2]
    assert names.same_server("example.org", "") == []


def test_entries_sharing_a_fuzzy_key_share_one_name() -> None:
    names = NameIndex(POLICY)
    for item in range(5):
        names.add(item, "example.org", f"user{item}", "user")
    ((name, distance, _),) = names.near("user")
    assert distance == 0
    assert sorted(names.members(name, 10)) == [0, 1, 2, 3, 4]
    assert len(names.members(name, 2)) == 2


def test_one_edit_is_allowed_from_six_letters_and_two_from_nine() -> None:
    names = index_of("marios", "darkblades", "maria")
    assert near_items(names, "mario") == {}  # five letters: no edit
    assert near_items(names, "marioz") == {0: 1}
    assert near_items(names, "darkbladez") == {1: 1}
    assert near_items(names, "darkbladexy") == {1: 2}
    assert near_items(names, "maria") == {2: 0}


def test_a_swap_of_neighbours_is_one_edit() -> None:
    assert near_items(index_of("hunter"), "huntre") == {0: 1}


def test_removing_the_last_entry_of_a_name_unfiles_it() -> None:
    names = NameIndex(POLICY)
    names.add(1, "a.org", "hunter1", "hunter")
    names.add(2, "b.org", "hunter2", "hunter")
    names.discard(1, "a.org", "hunter1", "hunter")
    assert near_items(names, "hunter") == {2: 0}
    names.discard(2, "b.org", "hunter2", "hunter")
    assert names.near("hunter") == []
    assert names.anywhere("hunter2") == []
    names.add(3, "c.org", "hunters", "hunters")  # the freed name number is reused
    assert near_items(names, "hunter") == {3: 1}


def test_keys_too_short_are_not_compared() -> None:
    names = index_of("ab")
    assert names.near("ab") == []


_KEY = st.text(alphabet=LETTERS, min_size=3, max_size=14)


@given(st.lists(_KEY, min_size=1, max_size=20), _KEY)
def test_everything_found_is_within_the_cutoff(keys: list[str], query: str) -> None:
    names = index_of(*keys)
    for name, distance, cutoff in names.near(query):
        (item,) = names.members(name, 1)
        assert OSA.distance(query, keys[item]) == distance <= cutoff
        assert cutoff == POLICY.cutoff(min(len(query), len(keys[item])))


@st.composite
def one_edit(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.text(alphabet=LETTERS, min_size=6, max_size=14))
    position = draw(st.integers(0, len(key) - 1))
    letter = draw(st.sampled_from(LETTERS))
    edit = draw(st.sampled_from(["insert", "delete", "substitute", "swap"]))
    if edit == "insert":
        return key, key[:position] + letter + key[position:]
    if edit == "delete":
        return key, key[:position] + key[position + 1 :]
    if edit == "substitute":
        return key, key[:position] + letter + key[position + 1 :]
    position = min(position, len(key) - 2)
    return key, key[:position] + key[position + 1] + key[position] + key[position + 2 :]


@given(one_edit(), st.lists(_KEY, max_size=10))
def test_every_name_one_edit_away_is_found(pair: tuple[str, str], others: list[str]) -> None:
    key, query = pair
    names = index_of(key, *others)
    if POLICY.cutoff(min(len(key), len(query))) >= 1:
        assert 0 in near_items(names, query)


@given(
    st.text(alphabet=LETTERS, min_size=9, max_size=14),
    st.integers(0, 14),
    st.integers(0, 14),
    st.text(alphabet=LETTERS, min_size=2, max_size=2),
)
def test_a_long_name_with_two_letters_added_is_found(
    key: str, first: int, second: int, letters: str
) -> None:
    once = key[:first] + letters[0] + key[first:]
    query = once[:second] + letters[1] + once[second:]
    assert 0 in near_items(index_of(key), query)
