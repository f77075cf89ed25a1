"""What admission makes of the Matrix ID as typed: no invented people, no renamed old accounts."""

from __future__ import annotations

import pytest

from knock.core.admission import read_id
from knock.core.mxid import lower_cased

SERVER = "example.org"
SPACES = "a Matrix ID has no spaces between words, like @alice:example.org"


@pytest.mark.parametrize(
    "typed",
    ["not an id at all", "alice smith", "@ali ce:example.org", "Alice Smith@example.org"],
)
def test_words_with_spaces_between_them_are_refused_not_glued_into_an_id(typed: str) -> None:
    identity = read_id(typed, SERVER)

    assert identity.problem == SPACES
    assert identity.repairs == ()


@pytest.mark.parametrize(
    ("typed", "user_id"),
    [
        ("  @alice:example.org\n", "@alice:example.org"),
        ("@alice : example.org", "@alice:example.org"),
        ("@alice:\u00a0example.org", "@alice:example.org"),
        ("alice", "@alice:example.org"),
        ("alice,", "@alice:example.org"),
    ],
)
def test_spaces_that_separate_no_words_are_still_removed(typed: str, user_id: str) -> None:
    identity = read_id(typed, SERVER)

    assert (identity.user_id, identity.problem) == (user_id, None)


@pytest.mark.parametrize(
    "typed",
    ["@Alice:example.org", "@al!ce:example.org", "@A~B#c:example.org", "@x[1]:example.org"],
)
def test_a_valid_historical_id_is_kept_as_typed(typed: str) -> None:
    identity = read_id(typed, SERVER)

    assert (identity.user_id, identity.repairs, identity.problem) == (typed, (), None)


def test_a_historical_id_knows_the_lower_cased_id_to_try_when_it_is_unknown() -> None:
    assert read_id("@Alice:example.org", SERVER).fallback == "@alice:example.org"
    assert read_id("@al!ce:example.org", SERVER).fallback is None  # no repair makes it valid
    assert read_id("@alice:example.org", SERVER).fallback is None
    assert lower_cased("@Alice:example.org") == "@alice:example.org"


def test_a_bare_capitalised_name_is_completed_as_typed_and_lower_cased_only_as_a_fallback() -> None:
    identity = read_id("Alice", SERVER)

    assert identity.user_id == "@Alice:example.org"
    assert identity.fallback == "@alice:example.org"
    assert identity.repairs == ('added "@"', 'added the default server "example.org"')


def test_the_server_name_is_still_lower_cased() -> None:
    identity = read_id("@Alice:Example.ORG", SERVER)

    assert identity.user_id == "@Alice:example.org"
    assert identity.repairs == ("lower-cased the server name",)


def test_a_candidate_over_255_bytes_is_refused_before_any_repair() -> None:
    padded = "@alice" + "\u200b" * 100 + ":example.org"  # 318 bytes, 18 once the padding goes

    identity = read_id(padded, SERVER)

    assert identity.problem == "a Matrix ID is at most 255 bytes long, this one has 318"
    assert identity.repairs == ()
    assert not identity.matchable  # nor is it matched against the block-list
