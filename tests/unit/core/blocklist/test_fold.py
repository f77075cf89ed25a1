"""Folding names to keys: every transformation, and the fast path agreeing with the slow one."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.fold import (
    FOLD_VERSION,
    JOIN,
    alike,
    fold,
    keys,
    light_alike,
    light_key,
    reads_as,
)


def key(text: str) -> str:
    return keys(text)[0]


def fuzzy(text: str) -> str:
    return keys(text)[1]


@pytest.mark.parametrize(
    ("disguised", "plain"),
    [
        ("tr0ll", "troll"),  # {0, o}
        ("1ris", "iris"),  # {1, i, l, |, !}
        ("lris", "iris"),
        ("|ris", "iris"),
        ("!ris", "iris"),
        ("dr3d", "dred"),  # {3, e}
        ("b4rn", "barn"),  # {4, @, a}
        ("b@rn", "barn"),
        ("5pam", "spam"),  # {5, $, s}
        ("$pam", "spam"),
        ("7rap", "trap"),  # {7, t}
        ("8ear", "bear"),  # {8, b}
        ("9oat", "goat"),  # {9, g}
    ],
)
def test_each_leet_class_folds_to_one_letter(disguised: str, plain: str) -> None:
    assert key(disguised) == key(plain)


def test_letters_of_different_classes_stay_apart() -> None:
    assert len({key(name) for name in ("toll", "tall", "tell", "till", "tull")}) == 5


@pytest.mark.parametrize(
    "separated", ["t.r.o.l.l", "t_roll", "tr-oll", "tro=ll", "t/r+oll", "t r o ll"]
)
def test_separators_and_spaces_are_removed(separated: str) -> None:
    assert key(separated) == key("troll")


@pytest.mark.parametrize("repeated", ["trolll", "ttroll", "trooooll", "trol"])
def test_repeated_letters_collapse(repeated: str) -> None:
    assert key(repeated) == key("troll")


def test_repeats_collapse_after_leet_folding() -> None:
    assert key("tro1l") == key("troll")
    assert key("g00d") == key("god")


@pytest.mark.parametrize(("pair", "letter"), [("rnallory", "mallory"), ("vvallace", "wallace")])
def test_multi_letter_look_alikes_fold(pair: str, letter: str) -> None:
    assert key(pair) == key(letter)


@pytest.mark.parametrize("affixed", ["troll_99", "troll1987", "troll-42", "99troll", "2008_troll"])
def test_a_numeric_prefix_or_suffix_is_cut_from_the_fuzzy_key_only(affixed: str) -> None:
    assert fuzzy(affixed) == fuzzy("troll")
    assert key(affixed) != key("troll")


@pytest.mark.parametrize("kept", ["b0b", "1337", "ab12", "x5852815"])
def test_digits_stay_when_too_little_would_be_left(kept: str) -> None:
    assert fuzzy(kept) == key(kept)


def test_digits_inside_a_name_are_leet_not_an_affix() -> None:
    assert fuzzy("l33tspeak") == key("leetspeak")


def test_fullwidth_letters_fold_to_ascii() -> None:
    assert key("ｔｒｏｌｌ") == key("troll")
    assert fuzzy("ｔｒｏｌｌ＿９９") == key("troll")


@pytest.mark.parametrize(
    "look_alike",
    [
        "tr\u043ell",  # Cyrillic о
        "tr\u03bfll",  # Greek ο
        "\u0430lex",  # Cyrillic а, in "alex" below
        "tro\u04cf\u04cf",  # Cyrillic palochka ӏ looks like l
    ],
)
def test_cyrillic_and_greek_look_alikes_fold_to_latin(look_alike: str) -> None:
    plain = "alex" if look_alike.endswith("lex") else "troll"
    assert key(look_alike) == key(plain)


def test_case_is_folded() -> None:
    assert key("TrOLL") == key("troll")
    assert key("STRASSE") == key("straße")


def test_accents_and_invisible_characters_are_dropped() -> None:
    assert key("tröll") == key("troll")
    assert key("tro\u0308ll") == key("troll")  # a lone combining diaeresis
    assert key("tro\u200bll") == key("troll")  # zero-width space


def test_styled_and_small_capital_letters_read_as_plain_ones() -> None:
    assert reads_as("\U0001d42d") == "t"  # mathematical bold t
    assert reads_as("\u029c") == "h"  # Latin letter small capital H
    assert reads_as("\ufb01") == "fi"  # ligature


def test_ascii_is_not_sent_through_the_skeleton() -> None:
    # TR39 would read "m" as "rn" and "d" as "cl": different names would meet.
    assert reads_as("m") == "m"
    assert key("dan") != key("clan")


def test_the_key_of_nothing_is_empty() -> None:
    assert keys("") == ("", "")
    assert keys("._-") == ("", "")


def test_fold_keeps_the_written_text_behind_each_key_letter() -> None:
    folded = fold("Tr0lll_99")
    assert len(folded.chunks) == len(folded.key)
    assert folded.chunks == ("T", "r", "0", "lll", "99")
    fuzzed = fold("Tr0lll_99", fuzzy=True)
    assert fuzzed.key == key("troll")
    assert (fuzzed.prefix, fuzzed.suffix) == ("", "_99")


def test_fold_records_removed_separators_and_invisible_characters() -> None:
    folded = fold("t.r\u200bo")
    assert folded.separators == ((1, "."),)
    assert folded.invisible == ("\u200b",)


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=24))
def test_fast_ascii_keys_equal_the_slow_fold(text: str) -> None:
    assert keys(text) == (fold(text).key, fold(text, fuzzy=True).key)


@given(st.text(max_size=24))
def test_keys_equal_the_slow_fold_for_any_text(text: str) -> None:
    assert keys(text) == (fold(text).key, fold(text, fuzzy=True).key)


@given(st.text(max_size=24))
def test_every_key_letter_has_its_written_text(text: str) -> None:
    for fuzzy_key in (False, True):
        folded = fold(text, fuzzy=fuzzy_key)
        assert len(folded.chunks) == len(folded.key)
        assert all(chunk for chunk in folded.chunks)


# The light key: lossless folds only.


@pytest.mark.parametrize(
    ("written", "light"),
    [
        ("TR0LL", "troll"),  # case and a leet digit
        ("ｔｒｏｌｌ", "troll"),  # full-width
        ("tr\u043ell", "troll"),  # Cyrillic о
        ("tröll", "troll"),  # accent
        ("t_r.oll", "troll"),  # separators between different letters
        ("b@$3", "base"),
        ("tr0ll_k1ng", "trollk1ng"),  # "1" stays: it may read "i" or "l"
        ("tro|l!", "tro1l1"),
        ("christopher_r", "christopher.r"),  # removing "_" would join "r" and "r"
        ("rosalie.e", "rosalie.e"),
        ("t.r.o.l.l", "trol.l"),
        ("greg_99", "greg|.gg"),  # 9 reads "g"; the suffix "gg" folds apart from "greg"
        ("greg99", "greg|gg"),
        ("troll99", "trollgg"),
        ("trol\u200bl", "trol.l"),  # an invisible character separates too
        ("trol\u0308l", "troll"),  # a combining mark does not
        ("gabriella", "gabriella"),  # repeats are not collapsed
        ("ailani", "ailani"),  # "l" is not "i"
        ("arnie", "arnie"),  # "rn" is not "m"
        ("._-", ""),
    ],
)
def test_the_light_key_keeps_only_lossless_folds(written: str, light: str) -> None:
    assert light_key(written) == light


def test_light_keys_are_alike_where_one_may_read_i_or_l() -> None:
    assert light_alike(light_key("a1lani"), light_key("ailani"))
    assert light_alike(light_key("wi11iam"), light_key("william"))
    assert not light_alike(light_key("alani"), light_key("ailani"))
    assert not light_alike(light_key("troii"), light_key("troll"))
    assert not light_alike(light_key("trol.l"), light_key("troll"))
    assert alike("1", "l") and alike("i", "1") and not alike("i", "l") and not alike("1", ".")


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=24))
def test_the_fast_ascii_light_key_equals_the_slow_fold(text: str) -> None:
    assert light_key(text) == "".join(fold(text).lights)


@given(st.text(max_size=24))
def test_the_light_key_equals_the_slow_fold_for_any_text(text: str) -> None:
    assert light_key(text) == "".join(fold(text).lights)


@given(st.text(max_size=24))
def test_each_key_letter_has_its_light_reading_and_joins(text: str) -> None:
    for fuzzy_key in (False, True):
        folded = fold(text, fuzzy=fuzzy_key)
        assert len(folded.lights) == len(folded.key)
        assert all(light.replace(JOIN, "") for light in folded.lights)
        assert len(folded.joins) == "".join(folded.lights).count(JOIN)


# Stored keys: a load reads each user entry's keys as stored with the folding's version, so a
# change to what keys() returns must come with a new FOLD_VERSION (entries stored with another
# version are folded again at load, and their keys stored again by the lease holder).

_WRITTEN = [
    "troll",
    "TR0LL_99",
    "2008_troll",
    "tr.o-l_l",
    "trolll",
    "arnie",
    "vvalter",
    "b0b",
    "1337",
    "ｔｒｏｌｌ",  # full-width
    "𝐭𝐫𝐨𝐥𝐥",  # styled
    "тroll",  # a Cyrillic letter
    "tröll",
    "t\u200broll",  # an invisible character
    "ʜᴇʟʟᴏ",  # small capitals
    "greg99",
    "christopher_r",
    "al!ce|",
    "$4m",
    "",
]
_ALPHABET = "abcilmnorstuvw01345789|!@$._-=/+ ЁОоοᴀａ𝐚é\u0301\u200b"


def _corpus() -> list[str]:
    chooser = random.Random(19)
    made = ["".join(chooser.choices(_ALPHABET, k=chooser.randint(1, 14))) for _ in range(3000)]
    return _WRITTEN + made


def test_what_keys_returns_is_the_fold_versions() -> None:
    folded = "\n".join(f"{key}\t{fuzzy}" for key, fuzzy in map(keys, _corpus()))
    digest = hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert (FOLD_VERSION, digest) == (1, "4fbe556725ad7bbd"), (
        "keys() changed: give FOLD_VERSION a new number, and pin its digest here"
    )
