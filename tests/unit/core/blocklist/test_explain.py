"""Explanations: what a moderator reads about how a request was made to meet an entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from knock.core.blocklist import Transform, TransformKind
from knock.core.blocklist.explain import describe, show
from knock.core.blocklist.fold import fold, light_alike, light_key

K = TransformKind
EVAL_VARIANTS = Path(__file__).resolve().parents[3] / "data" / "blocklist_eval" / "variants.txt"


def explain(request: str, entry: str, *, fuzzy: bool = False) -> tuple[Transform, ...]:
    return describe(fold(request, fuzzy=fuzzy), fold(entry, fuzzy=fuzzy))


def said(request: str, entry: str, *, fuzzy: bool = False) -> tuple[str, ...]:
    """What a moderator reads."""
    return tuple(map(str, explain(request, entry, fuzzy=fuzzy)))


def kinds(request: str, entry: str, *, fuzzy: bool = False) -> tuple[TransformKind, ...]:
    return tuple(note.kind for note in explain(request, entry, fuzzy=fuzzy))


def test_a_leet_digit_and_a_numeric_suffix() -> None:
    assert explain("tr0ll_99", "troll", fuzzy=True) == (
        Transform(K.LEET, "0->o"),
        Transform(K.SUFFIX, 'removed suffix "_99"'),
    )


def test_a_numeric_prefix() -> None:
    assert explain("99troll", "troll", fuzzy=True) == (Transform(K.PREFIX, 'removed prefix "99"'),)


def test_the_entrys_own_suffix_is_named_as_the_entrys() -> None:
    assert said("troll", "troll1987", fuzzy=True) == ('ignored the entry\'s suffix "1987"',)
    assert kinds("troll", "troll1987", fuzzy=True) == (K.SUFFIX,)


@pytest.mark.parametrize(
    ("request_", "notes"),
    [
        (
            "t.r.o.l.l",
            (
                (K.JOINED_ACROSS_SEPARATOR, 'joined repeated letters "l.l"'),
                (K.SEPARATORS, 'removed separators "."'),
            ),
        ),
        (
            "t.r.ol.l",
            (
                (K.JOINED_ACROSS_SEPARATOR, 'joined repeated letters "l.l"'),
                (K.SEPARATORS, 'removed separators "."'),
            ),
        ),
        ("t.r.oll", ((K.SEPARATORS, 'removed separators "."'),)),
        ("t_r.oll", ((K.SEPARATORS, 'removed separators "_."'),)),
        ("trolll", ((K.COLLAPSED_REPEAT, 'collapsed repeated "lll"'),)),
        ("TROLL", ((K.LOWER_CASED, "lower-cased"),)),
        ("tr\u043ell", ((K.LOOK_ALIKE, 'look-alike "\u043e" (Cyrillic) -> "o"'),)),
        ("tr\u03bfll", ((K.LOOK_ALIKE, 'look-alike "\u03bf" (Greek) -> "o"'),)),
        ("ｔｒｏｌｌ", ((K.FULL_WIDTH, "full-width letters -> ASCII"),)),
        ("tr\U0001d428ll", ((K.STYLED, 'styled "\U0001d428" -> "o"'),)),
        ("tröll", ((K.ACCENT, 'removed accent "ö" -> "o"'),)),
        ("tro\u0308ll", ((K.ACCENT, "removed accents"),)),
        ("tro\u200bll", ((K.INVISIBLE, "removed invisible characters"),)),
        ("tro1l", ((K.LEET, "1->l"),)),
        ("TR0LL", ((K.LOWER_CASED, "lower-cased"), (K.LEET, "0->o"))),
    ],
)
def test_each_transformation_is_named(
    request_: str, notes: tuple[tuple[TransformKind, str], ...]
) -> None:
    assert explain(request_, "troll") == tuple(Transform(kind, text) for kind, text in notes)


def test_look_alike_pairs() -> None:
    assert explain("rnallory", "mallory") == (
        Transform(K.LOOK_ALIKE_PAIR, 'look-alike "rn" -> "m"'),
    )
    assert explain("mallory", "rnallory") == (
        Transform(K.LOOK_ALIKE_PAIR, 'read the entry\'s "rn" as "m"'),
    )


def test_leet_in_the_entry_is_named_as_the_entrys() -> None:
    assert said("troll", "tr00ll") == (
        'read the entry\'s "0" as "o"',
        'collapsed the entry\'s repeated "00"',
    )
    assert kinds("troll", "tr00ll") == (K.LEET, K.COLLAPSED_REPEAT)
    assert said("tr0ll", "tro1l") == ("0->o", 'read the entry\'s "1" as "l"')
    assert kinds("tr0ll", "tro1l") == (K.LEET, K.LEET)


def test_separators_placed_alike_are_not_mentioned() -> None:
    assert said("tr0ll_king", "troll_king") == ("0->o",)
    assert explain("trollking", "troll_king") == (
        Transform(K.SEPARATORS, 'ignored the entry\'s separators "_"'),
    )


def test_edits_are_named_when_the_keys_differ() -> None:
    assert explain("darkblade_destroyr", "darkblade_destroyer", fuzzy=True) == (
        Transform(K.MISSING, 'missing "e"'),
    )
    assert explain("xdarkblade", "darkblade", fuzzy=True) == (Transform(K.EXTRA, 'extra "x"'),)
    # i and l fold together in the keys, but they are different letters
    assert explain("darkbiade", "darkblade", fuzzy=True) == (
        Transform(K.MERGED_LETTERS, 'read letter "i" as "l"'),
    )
    assert explain("darkbkade", "darkblade", fuzzy=True) == (
        Transform(K.SUBSTITUTED, '"k" instead of "l"'),
    )


@pytest.mark.parametrize(
    ("request_", "entry", "notes"),
    [
        (
            "christopher",
            "christopher_r",
            ((K.COLLAPSED_REPEAT, 'collapsed the entry\'s repeated "rr"'),),
        ),
        (
            "christopherr",
            "christopher_r",
            ((K.JOINED_ACROSS_SEPARATOR, 'joined the entry\'s repeated letters "r_r"'),),
        ),
        ("gabriella", "gabriela", ((K.COLLAPSED_REPEAT, 'collapsed repeated "ll"'),)),
        ("aliyah", "aaliyah", ((K.COLLAPSED_REPEAT, 'collapsed the entry\'s repeated "aa"'),)),
        (
            "alani",
            "ailani",
            (
                (K.MERGED_LETTERS, 'read the entry\'s letter "i" as "l"'),
                (K.COLLAPSED_REPEAT, "collapsed the entry's"),
            ),
        ),
        (
            "ailani",
            "alani",
            (
                (K.MERGED_LETTERS, 'read letter "i" as "l"'),
                (K.COLLAPSED_REPEAT, 'collapsed repeated "il"'),
            ),
        ),
        # the same letters in another order: "bi" both
        ("bil", "bli", ((K.MERGED_LETTERS, "read letter"),)),
        ("arnie", "amie", ((K.LOOK_ALIKE_PAIR, 'look-alike "rn" -> "m"'),)),
        ("wendy", "vvendy", ((K.LOOK_ALIKE_PAIR, 'read the entry\'s "vv" as "w"'),)),
        (
            "ｔｒｏｌ.ｌ",
            "troll",
            (
                (K.FULL_WIDTH, "full-width letters -> ASCII"),
                (K.JOINED_ACROSS_SEPARATOR, 'joined repeated letters "ｌ.ｌ"'),
            ),
        ),
        # Both hold "vv": no pair is named, but the lossy fold still is.
        ("vvvv", "wwvv", ((K.TOOK, 'took "vvvv" for "wwvv"'),)),
    ],
)
def test_lossy_folds_are_named(
    request_: str, entry: str, notes: tuple[tuple[TransformKind, str], ...]
) -> None:
    found = explain(request_, entry)
    for kind, text in notes:
        assert any(note.kind == kind and note.text.startswith(text) for note in found), found
    assert any(note.lossy for note in found)


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
    assert not any(note.lossy for note in explain(request_, entry))


def test_the_internal_key_is_never_quoted() -> None:
    notes = " ".join(said("tr0lll_99", "troll", fuzzy=True))
    assert "troi" not in notes  # "troll" folds to "troi" inside


def test_show_escapes_control_characters_and_shortens() -> None:
    assert show("a\x00b") == "a\\x00b"
    assert show("x" * 100) == "x" * 40 + "…"


@given(st.text(max_size=16), st.text(max_size=16), st.booleans())
def test_describe_never_raises(request_: str, entry: str, fuzzy: bool) -> None:
    notes = explain(request_, entry, fuzzy=fuzzy)
    assert all(isinstance(note, Transform) and note.text == str(note) != "" for note in notes)
    assert len({note.text for note in notes}) == len(notes)
    for note in notes:
        assert_typed_as_worded(note)


# Each kind's wording, and the lossy kinds: what the notes say and what they mean must agree.
_WORDING = {
    K.ACCENT: r'removed accents|removed accent ".+" -> ".+"',
    K.INVISIBLE: r"removed invisible characters",
    K.LOWER_CASED: r"lower-cased",
    K.FULL_WIDTH: r"full-width letters -> ASCII",
    K.STYLED: r'styled ".+" -> ".+"',
    K.LOOK_ALIKE: r'look-alike ".+" \(\w+\) -> ".+"',
    K.LEET: r'(?!look-alike |styled |read the entry\'s "(rn|vv)")'
    r'(.+->.+|read the entry\'s ".+" as ".+")',
    K.SEPARATORS: r'removed separators ".+"|ignored the entry\'s separators ".+"',
    K.PREFIX: r'removed prefix ".+"|ignored the entry\'s prefix ".+"',
    K.SUFFIX: r'removed suffix ".+"|ignored the entry\'s suffix ".+"',
    K.LOOK_ALIKE_PAIR: r'look-alike "rn" -> "m"|look-alike "vv" -> "w"'
    r'|read the entry\'s "rn" as "m"|read the entry\'s "vv" as "w"',
    K.MERGED_LETTERS: r'read letter "[il]" as "[il]"|read the entry\'s letter "[il]" as "[il]"',
    K.COLLAPSED_REPEAT: r'collapsed repeated ".+"|collapsed the entry\'s repeated ".+"',
    K.JOINED_ACROSS_SEPARATOR: r'joined repeated letters ".+"'
    r'|joined the entry\'s repeated letters ".+"',
    K.TOOK: r'took ".+" for ".+"',
    K.EXTRA: r'extra ".+"',
    K.MISSING: r'missing ".+"',
    K.SUBSTITUTED: r'".+" instead of ".+"',
}
_LOSSY = {
    K.LOOK_ALIKE_PAIR,
    K.MERGED_LETTERS,
    K.COLLAPSED_REPEAT,
    K.JOINED_ACROSS_SEPARATOR,
    K.TOOK,
}


def assert_typed_as_worded(note: Transform) -> None:
    assert re.fullmatch(_WORDING[note.kind], note.text, re.DOTALL), note
    assert note.lossy == (note.kind in _LOSSY), note


def test_the_lossy_kinds() -> None:
    assert {kind for kind in TransformKind if kind.lossy} == _LOSSY


def test_every_note_for_the_evaluation_variants_is_typed_as_worded() -> None:
    seen: set[TransformKind] = set()
    for line in EVAL_VARIANTS.read_text("utf-8").splitlines():
        variant, original, _ = line.split("\t")
        request, entry = variant[1:].split(":")[0], original[1:].split(":")[0]
        for fuzzy in (False, True):
            for note in explain(request, entry, fuzzy=fuzzy):
                assert_typed_as_worded(note)
                seen.add(note.kind)
    # The set exercises the lossy kinds and the commonest lossless ones.
    assert seen >= {K.LEET, K.LOOK_ALIKE, K.SEPARATORS, K.COLLAPSED_REPEAT, K.MERGED_LETTERS}


# Names respelled to fold to the same normalised key, losslessly or not.
_SPELLINGS = {
    "o": ["o", "0", "O", "ｏ", "\u043e", "ö", "o\u0308"],
    "i": ["i", "1", "!", "I", "l", "\U0001d422"],
    "l": ["l", "1", "|", "L", "i"],
    "e": ["e", "3", "E", "é"],
    "s": ["s", "5", "$"],
    "m": ["m", "rn", "M"],
    "w": ["w", "vv", "W"],
    "r": ["r", "R"],
    "n": ["n", "N"],
    "a": ["a", "4", "@", "ａ"],
    "g": ["g", "9"],
}


@st.composite
def _respelled(draw: st.DrawFn, parts: tuple[str, str]) -> str:
    name, suffix = parts
    out = []
    for letter in name:
        out.append(draw(st.sampled_from(["", "", "", ".", "_", "\u200b"])))
        out.append(draw(st.sampled_from(_SPELLINGS[letter])) * draw(st.sampled_from([1, 1, 2])))
    out.append(draw(st.sampled_from(["", "", "_"])) + suffix * draw(st.sampled_from([1, 1, 2])))
    return "".join(out)


_NAMES = st.tuples(
    st.text(alphabet="".join(_SPELLINGS), min_size=1, max_size=9),
    st.sampled_from(["", "", "9", "1"]),  # a numeric suffix, folded on its own
)


@given(_NAMES.flatmap(lambda parts: st.tuples(_respelled(parts), _respelled(parts))))
def test_a_lossy_fold_is_named_exactly_where_the_light_keys_differ(names: tuple[str, str]) -> None:
    request, entry = names
    ours, theirs = fold(request), fold(entry)
    assume(ours.key == theirs.key)
    notes = describe(ours, theirs)
    for note in notes:
        assert_typed_as_worded(note)
    lossy = [note for note in notes if note.lossy]
    assert bool(lossy) != light_alike(light_key(request), light_key(entry)), (names, notes)
