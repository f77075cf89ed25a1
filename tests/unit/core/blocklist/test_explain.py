"""Explanations: what a moderator reads about how a request was made to meet an entry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.explain import describe, show
from knock.core.blocklist.fold import fold


def explain(request: str, entry: str, *, fuzzy: bool = False) -> tuple[str, ...]:
    return describe(fold(request, fuzzy=fuzzy), fold(entry, fuzzy=fuzzy))


def test_a_leet_digit_and_a_numeric_suffix() -> None:
    assert explain("tr0ll_99", "troll", fuzzy=True) == ("0->o", 'removed suffix "_99"')


def test_a_numeric_prefix() -> None:
    assert explain("99troll", "troll", fuzzy=True) == ('removed prefix "99"',)


def test_the_entrys_own_suffix_is_named_as_the_entrys() -> None:
    assert explain("troll", "troll1987", fuzzy=True) == ('ignored the entry\'s suffix "1987"',)


@pytest.mark.parametrize(
    ("request_", "notes"),
    [
        ("t.r.o.l.l", ('removed separators "."',)),
        ("t_r.oll", ('removed separators "_."',)),
        ("trolll", ('collapsed repeated "lll"',)),
        ("TROLL", ("lower-cased",)),
        ("tr\u043ell", ('look-alike "\u043e" (Cyrillic) -> "o"',)),
        ("tr\u03bfll", ('look-alike "\u03bf" (Greek) -> "o"',)),
        ("ｔｒｏｌｌ", ("full-width letters -> ASCII",)),
        ("tröll", ('removed accent "ö" -> "o"',)),
        ("tro\u200bll", ("removed invisible characters",)),
        ("tro1l", ("1->l",)),
        ("TR0LL", ("lower-cased", "0->o")),
    ],
)
def test_each_transformation_is_named(request_: str, notes: tuple[str, ...]) -> None:
    assert explain(request_, "troll") == notes


def test_look_alike_pairs() -> None:
    assert explain("rnallory", "mallory") == ('look-alike "rn" -> "m"',)
    assert explain("mallory", "rnallory") == ('read the entry\'s "rn" as "m"',)


def test_leet_in_the_entry_is_named_as_the_entrys() -> None:
    assert explain("troll", "tr00ll") == (
        'read the entry\'s "0" as "o"',
        'collapsed the entry\'s repeated "00"',
    )
    assert explain("tr0ll", "tro1l") == ("0->o", 'read the entry\'s "1" as "l"')


def test_separators_placed_alike_are_not_mentioned() -> None:
    assert explain("tr0ll_king", "troll_king") == ("0->o",)
    assert explain("trollking", "troll_king") == ('ignored the entry\'s separators "_"',)


def test_edits_are_named_when_the_keys_differ() -> None:
    assert explain("darkblade_destroyr", "darkblade_destroyer", fuzzy=True) == ('missing "e"',)
    assert explain("xdarkblade", "darkblade", fuzzy=True) == ('extra "x"',)
    assert explain("darkbiade", "darkblade", fuzzy=True) == ("i->l",)  # i and l fold together
    assert explain("darkbkade", "darkblade", fuzzy=True) == ('"k" instead of "l"',)


def test_the_internal_key_is_never_quoted() -> None:
    notes = " ".join(explain("tr0lll_99", "troll", fuzzy=True))
    assert "troi" not in notes  # "troll" folds to "troi" inside


def test_show_escapes_control_characters_and_shortens() -> None:
    assert show("a\x00b") == "a\\x00b"
    assert show("x" * 100) == "x" * 40 + "…"


@given(st.text(max_size=16), st.text(max_size=16), st.booleans())
def test_describe_never_raises(request_: str, entry: str, fuzzy: bool) -> None:
    notes = explain(request_, entry, fuzzy=fuzzy)
    assert all(isinstance(note, str) and note for note in notes)
    assert len(set(notes)) == len(notes)
