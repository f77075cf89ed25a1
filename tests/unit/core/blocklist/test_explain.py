"""Explanations: what a moderator reads about how a request was made to meet an entry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.explain import describe, is_lossy, show
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
        ("t.r.o.l.l", ('joined repeated letters "l.l"', 'removed separators "."')),
        ("t.r.ol.l", ('joined repeated letters "l.l"', 'removed separators "."')),
        ("t.r.oll", ('removed separators "."',)),
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
    # i and l fold together in the keys, but they are different letters
    assert explain("darkbiade", "darkblade", fuzzy=True) == ('read letter "i" as "l"',)
    assert explain("darkbkade", "darkblade", fuzzy=True) == ('"k" instead of "l"',)


@pytest.mark.parametrize(
    ("request_", "entry", "notes"),
    [
        ("christopher", "christopher_r", ('collapsed the entry\'s repeated "rr"',)),
        ("christopherr", "christopher_r", ('joined the entry\'s repeated letters "r_r"',)),
        ("gabriella", "gabriela", ('collapsed repeated "ll"',)),
        ("aliyah", "aaliyah", ('collapsed the entry\'s repeated "aa"',)),
        ("alani", "ailani", ('read the entry\'s letter "i" as "l"', "collapsed the entry's")),
        ("ailani", "alani", ('read letter "i" as "l"', 'collapsed repeated "il"')),
        ("bil", "bli", ("read letter",)),  # the same letters in another order: "bi" both
        ("arnie", "amie", ('look-alike "rn" -> "m"',)),
        (
            "ｔｒｏｌ.ｌ",
            "troll",
            ("full-width letters -> ASCII", 'joined repeated letters "ｌ.ｌ"'),
        ),
    ],
)
def test_lossy_folds_are_named(request_: str, entry: str, notes: tuple[str, ...]) -> None:
    found = explain(request_, entry)
    for note in notes:
        assert any(said.startswith(note) for said in found), (note, found)
    assert any(map(is_lossy, found))


@pytest.mark.parametrize(
    ("request_", "entry"),
    [
        ("tr0ll", "troll"),
        ("TRoll", "troll"),
        ("ｔｒｏｌｌ", "troll"),
        ("tr\u043ell", "troll"),
        ("tro1l", "troll"),
        ("tr0l!", "troll"),
        ("tröll", "troll"),
        ("t.r.oll", "troll"),
        ("trol_l", "trol.l"),  # a join on both sides, in the same place
        ("greg_99", "greg-99"),
        ("a1lani", "ailani"),  # "1" may be "i" or "l"
    ],
)
def test_lossless_folds_are_not_named_lossy(request_: str, entry: str) -> None:
    assert not any(map(is_lossy, explain(request_, entry)))


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
