"""BlockIndex: every rule with its verdict, the policy, allow-lists, incremental changes."""

from __future__ import annotations

import json
import string
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from knock.core.blocklist import (
    BlockIndex,
    Decision,
    Entry,
    Match,
    MatchPolicy,
    Transform,
    TransformKind,
    covers_anyone,
    new_entry,
)
from knock.core.blocklist.decide import MAX_MATCHES
from knock.core.blocklist.fold import keys
from knock.core.blocklist.ids import id_hash, split_user_id
from knock.core.blocklist.index import DISTINCT_KEY

DEFAULT = MatchPolicy()
TROLL = "@troll:example.org"
KING = "@trollking:example.org"


def index(*patterns: str, policy: MatchPolicy = DEFAULT) -> BlockIndex:
    return BlockIndex((Entry(pattern, source="test") for pattern in patterns), policy)


def top(decision: Decision) -> Match:
    assert decision.matches, decision
    return decision.matches[0]


def said(match: Match) -> tuple[str, ...]:
    """The transforms as a moderator reads them."""
    return tuple(map(str, match.transforms))


def lossy(match: Match) -> bool:
    return any(transform.lossy for transform in match.transforms)


# Each rule and its verdict.


def test_exact() -> None:
    decision = index(TROLL).check(TROLL)
    assert decision.verdict == "block"
    assert top(decision) == Match(TROLL, "test", "exact", (), None, None, "block")


def test_normalised_on_the_same_server_blocks_a_distinctive_name() -> None:
    decision = index(KING).check("@tr0ll.k1ng:example.org")
    assert decision.verdict == "block"
    assert top(decision).rule == "normalised"
    assert said(top(decision)) == ("0->o", "1->i", 'removed separators "."')


def test_normalised_on_a_short_name_only_asks_review() -> None:
    decision = index(TROLL).check("@tr0ll:example.org")  # "troll" folds to 4 letters
    assert (decision.verdict, top(decision).rule) == ("review", "normalised")


# A lossy fold may meet a different person: it never blocks on its own.


@pytest.mark.parametrize(
    ("blocked", "checked"),
    [
        ("christopher_r", "christopher"),  # "_" removed, then "rr" collapsed
        ("christopher", "christopher_r"),
        ("rosalie.e", "rosalie"),
        ("rosalie", "rosalie.e"),
        ("gabriella", "gabriela"),  # a genuine double letter
        ("gabriela", "gabriella"),
        ("aaliyah", "aliyah"),
        ("aliyah", "aaliyah"),
        ("alani", "ailani"),  # "l" read as "i", then collapsed
        ("ailani", "alani"),
        ("christopher_r", "christopherr"),  # "r" and "r" joined across the "_"
        ("arnie", "amie"),  # "rn" read as "m" ("amie" has 4 letters: review anyway)
        ("arnold", "amold"),
    ],
)
def test_a_lossy_fold_asks_review_and_says_why(blocked: str, checked: str) -> None:
    decision = index(f"@{blocked}:matrix.org").check(f"@{checked}:matrix.org")
    assert (decision.verdict, top(decision).rule) == ("review", "normalised")
    assert lossy(top(decision)), top(decision).transforms
    assert not BlockIndex().covers(Entry(f"@{blocked}:matrix.org"), f"@{checked}:matrix.org")


@pytest.mark.parametrize(
    ("checked", "notes"),
    [
        ("@tr0ll:example.org", ("0->o",)),
        ("@t.r.o.l.l:example.org", ('joined repeated letters "l.l"', 'removed separators "."')),
        ("@ＴＲＯＬＬ:example.org", ("full-width letters -> ASCII", "lower-cased")),
        ("@tr\u043ell:example.org", ('look-alike "\u043e" (Cyrillic) -> "o"',)),
        ("@trolll:example.org", ('collapsed repeated "lll"',)),
        ("@trollll:example.org", ('collapsed repeated "llll"',)),
    ],
)
def test_disguises_of_a_short_name_are_caught_for_review(
    checked: str, notes: tuple[str, ...]
) -> None:
    decision = index(TROLL).check(checked)
    assert decision.verdict == "review"
    match = top(decision)
    assert replace(match, transforms=()) == Match(
        TROLL, "test", "normalised", (), None, None, "review"
    )
    assert said(match) == notes


@pytest.mark.parametrize(
    "checked",
    [
        "@tr0llk1ng:example.org",
        "@tr0ll.k1ng:example.org",
        "@ＴＲＯＬＬＫＩＮＧ:example.org",
        "@tr\u043ellking:example.org",
        "@TROLL_KING:example.org",
        "@tro|lking:example.org",
    ],
)
def test_lossless_disguises_of_a_distinctive_name_block(checked: str) -> None:
    decision = index(KING).check(checked)
    assert (decision.verdict, top(decision).rule) == ("block", "normalised")
    assert not lossy(top(decision)), top(decision).transforms
    assert BlockIndex().covers(Entry(KING), checked)


@pytest.mark.parametrize(
    ("checked", "note"),
    [
        ("@trolllking:example.org", 'collapsed repeated "lll"'),
        ("@trolkking:example.org", 'collapsed repeated "kk"'),
        ("@t.r.o.l.l.k.i.n.g:example.org", 'joined repeated letters "l.l"'),
        ("@troiiking:example.org", 'read letter "i" as "l"'),
    ],
)
def test_lossy_disguises_of_a_distinctive_name_ask_review(checked: str, note: str) -> None:
    decision = index(KING).check(checked)
    assert (decision.verdict, top(decision).rule) == ("review", "normalised")
    assert note in said(top(decision))
    assert lossy(top(decision))


def test_the_verdict_lines_up_with_the_key_letters_around_a_numeric_affix() -> None:
    # Both read "aaaaaaeae", but the prefix folds on its own: "4" met "44", "aaaaa" met "aaaa".
    decision = index("@4aaaaaeae:example.org").check("@44aaaaeae:example.org")
    assert decision.verdict == "review"
    assert (
        Transform(TransformKind.COLLAPSED_REPEAT, 'collapsed repeated "44"')
        in top(decision).transforms
    )
    decision = index("@goliath:example.org").check("@9oliath:example.org")
    assert (decision.verdict, said(top(decision))) == ("block", ("9->g",))


def test_the_id_as_typed_may_meet_an_entry_losslessly_where_the_repaired_id_did_not() -> None:
    blocks = index("@christopher_r:matrix.org")
    assert blocks.check("@christopherr:matrix.org").verdict == "review"
    decision = blocks.check("@christopherr:matrix.org", typed="@christopher r:matrix.org")
    assert decision.verdict == "block"
    assert top(decision).transforms[0] == Transform(TransformKind.TYPED, "in the id as typed")


def test_a_strict_policy_still_blocks_lossy_matches() -> None:
    strict = MatchPolicy(fuzzy_action="block")
    assert index("@gabriella:x.org", policy=strict).check("@gabriela:x.org").verdict == "block"


_LETTERS = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=14)


@given(_LETTERS, st.data(), st.sampled_from(["example.org", "other.org"]))
def test_names_one_doubled_letter_apart_never_block(
    name: str, data: st.DataObject, server: str
) -> None:
    at = data.draw(st.integers(0, len(name) - 1))
    doubled = name[: at + 1] + name[at:]
    for blocked, checked in ((name, doubled), (doubled, name)):
        blocks = index(f"@{blocked}:example.org")
        decision = blocks.check(f"@{checked}:{server}")
        assert decision.verdict != "block", (blocked, checked, decision)
        assert not blocks.covers(Entry(f"@{blocked}:example.org"), f"@{checked}:{server}")


# Names built to fold alike, losslessly or not: the verdict follows from the transforms named.
_SPELLINGS = {
    "o": ["o", "0", "O", "ｏ", "\u043e"],
    "i": ["i", "1", "!", "I", "l"],
    "l": ["l", "1", "|", "L", "i"],
    "e": ["e", "3", "E"],
    "s": ["s", "5", "$"],
    "m": ["m", "rn", "M"],
    "r": ["r", "R"],
    "n": ["n", "N"],
    "a": ["a", "4", "@", "A"],
    "g": ["g", "9"],
}
_TRICKY = st.tuples(
    st.sampled_from(["", "", "4", "9", "0"]),  # a numeric prefix, folded on its own
    st.text(alphabet="oielsmrnag", min_size=1, max_size=9),
    st.sampled_from(["", "", "9", "1", "2"]),  # a numeric suffix
)


@st.composite
def _respelled(draw: st.DrawFn, parts: tuple[str, str, str]) -> str:
    prefix, name, suffix = parts
    out = [prefix * draw(st.sampled_from([1, 1, 2]))]
    for letter in name:
        out.append(draw(st.sampled_from(["", "", "", ".", "_", "\u200b"])))
        out.append(draw(st.sampled_from(_SPELLINGS[letter])) * draw(st.sampled_from([1, 1, 2])))
    out.append(draw(st.sampled_from(["", "", "_"])) + suffix * draw(st.sampled_from([1, 1, 2])))
    return "".join(out)


@given(_TRICKY.flatmap(lambda parts: st.tuples(_respelled(parts), _respelled(parts))))
def test_a_normalised_match_blocks_exactly_when_no_lossy_fold_is_named(
    names: tuple[str, str],
) -> None:
    blocked, checked = names
    key = keys(blocked)[0]
    assume(blocked != checked and key == keys(checked)[0])
    decision = index(f"@{blocked}:example.org").check(f"@{checked}:example.org")
    match = top(decision)
    assert match.rule == "normalised"
    expected = "block" if len(key) >= DISTINCT_KEY and not lossy(match) else "review"
    assert match.verdict == expected, (blocked, checked, match)


def test_the_same_name_on_another_server() -> None:
    decision = index(KING).check("@trollking:other.server")
    assert decision.verdict == "review"
    assert top(decision).rule == "other_server"
    assert top(decision).transforms == (
        Transform(TransformKind.OTHER_SERVER, "same name on another server (example.org)"),
    )


def test_digits_the_moderator_reads_what_was_done() -> None:
    decision = index(TROLL).check("@tr0ll_99:example.org")
    assert decision.verdict == "review"
    transforms = (
        Transform(TransformKind.LEET, "0->o"),
        Transform(TransformKind.SUFFIX, 'removed suffix "_99"'),
    )
    assert top(decision) == Match(TROLL, "test", "digits", transforms, 0, 0, "review")


def test_edit_distance() -> None:
    decision = index("@darkblade_destroyer:matrix.org").check("@darkblade_destroyr:matrix.org")
    assert decision.verdict == "review"
    transforms = (Transform(TransformKind.MISSING, 'missing "e"'),)
    assert top(decision) == Match(
        "@darkblade_destroyer:matrix.org", "test", "edit_distance", transforms, 1, 2, "review"
    )


def test_a_near_miss_on_another_server_says_so() -> None:
    decision = index("@darkblade_destroyer:matrix.org").check("@darkblade_destroyr:evil.org")
    assert top(decision).transforms[-1] == Transform(
        TransformKind.OTHER_SERVER, "on another server (matrix.org)"
    )


def test_glob() -> None:
    blocks = index("@spam*:*", "@bot?:example.org")
    assert top(blocks.check("@spammer:anywhere.org")).rule == "glob"
    assert blocks.check("@bot1:example.org").verdict == "block"
    assert blocks.check("@bot12:example.org").verdict == "allow"
    assert blocks.check("@SPAMMER:anywhere.org").verdict == "block"  # ASCII case is ignored


@pytest.mark.parametrize("pattern", ["evil.example", "@*:evil.example"])
def test_server_entries(pattern: str) -> None:
    blocks = index(pattern, "*.worse.example")
    assert top(blocks.check("@anyone:evil.example")).rule == "server"
    assert blocks.check("@anyone:evil.example:8448").verdict == "block"
    assert blocks.check("@anyone:a.worse.example").verdict == "block"
    assert blocks.check("@anyone:worse.example").verdict == "allow"
    assert blocks.check("@evil.example:good.example").verdict == "allow"


@pytest.mark.parametrize("spelling", ["plain", "padded", "urlsafe"])
def test_hashed_entries_match_the_exact_id_only(spelling: str) -> None:
    digest = id_hash(TROLL)
    pattern = {
        "plain": digest,
        "padded": digest + "=",
        "urlsafe": digest.replace("+", "-").replace("/", "_"),
    }[spelling]
    blocks = BlockIndex([Entry(pattern, hashed=True)])
    decision = blocks.check(TROLL)
    assert decision.verdict == "block"
    assert top(decision).entry == pattern
    assert top(decision).transforms == (
        Transform(TransformKind.HASHED, "the SHA-256 hash of the id"),
    )
    assert blocks.check("@tr0ll:example.org").verdict == "allow"


def test_display_name_in_look_alike_letters() -> None:
    blocks = index(KING)
    for shown in ("trоllking", "ｔｒｏｌｌｋｉｎｇ", "The Trollking Returns"):
        decision = blocks.check("@nice:example.org", display_name=shown)
        assert decision.verdict == "review", shown
        assert top(decision).rule == "display_name"
    assert top(blocks.check("@nice:example.org", display_name="trоllking")).transforms == (
        Transform(TransformKind.DISPLAY_NAME, 'display name "trоllking"'),
        Transform(TransformKind.LOOK_ALIKE, 'look-alike "о" (Cyrillic) -> "o"'),
    )


def test_display_name_evidence_never_blocks() -> None:
    blocks = index(KING, policy=MatchPolicy(fuzzy_action="block"))
    assert blocks.check("@nice:example.org", display_name="trollking").verdict == "review"


def test_a_short_display_name_says_nothing() -> None:
    assert index("@bob:example.org").check("@x:example.org", display_name="Bob").verdict == "allow"


def test_the_id_as_typed_is_matched_too() -> None:
    decision = index(KING).check("@someone:example.org", typed="@TR0LLKING@example.org")
    assert decision.verdict == "block"
    assert said(top(decision))[:2] == ("in the id as typed", "lower-cased")


# Allow-lists.


def test_an_allow_entry_overrides_and_comes_first() -> None:
    blocks = BlockIndex([Entry("@*:evil.example"), Entry("@good:evil.example", allow=True)])
    decision = blocks.check("@good:evil.example")
    assert decision.verdict == "allow"
    assert [match.rule for match in decision.matches] == ["allow", "server"]
    assert blocks.check("@bad:evil.example").verdict == "block"


def test_an_allow_glob_overrides_fuzzy_matches() -> None:
    blocks = BlockIndex([Entry(TROLL), Entry("@troll_*:example.org", allow=True)])
    assert blocks.check("@troll_99:example.org").verdict == "allow"
    assert blocks.check("@troll99:example.org").verdict == "review"


# The policy.


def test_policy_actions() -> None:
    strict = MatchPolicy(fuzzy_action="block", other_server_action="block")
    assert index(TROLL, policy=strict).check("@troll_99:example.org").verdict == "block"
    assert index(KING, policy=strict).check("@trollking:other.org").verdict == "block"
    lax = MatchPolicy(fuzzy_action="allow", other_server_action="allow")
    assert index(TROLL, policy=lax).check("@troll_99:example.org").verdict == "allow"
    assert index(KING, policy=lax).check("@trollking:other.org").verdict == "allow"
    assert index(KING, policy=lax).check(KING).verdict == "block"


def test_a_near_miss_elsewhere_takes_the_weaker_of_the_two_actions() -> None:
    policy = MatchPolicy(fuzzy_action="block", other_server_action="review")
    blocks = index("@darkblade:matrix.org", "@darkblade:evil.org", policy=policy)
    assert blocks.check("@darkblad:matrix.org").verdict == "block"
    assert blocks.check("@darkblad:third.org").verdict == "review"


def test_max_distance_is_configurable() -> None:
    loose = MatchPolicy(max_distance=((3, 0),), beyond=1)
    assert index("@maria:example.org", policy=loose).check("@mario:example.org").verdict == "review"
    assert index("@maria:example.org").check("@mario:example.org").verdict == "allow"


# Incremental changes.


def test_add_remove_and_replace() -> None:
    blocks = BlockIndex()
    blocks.add(Entry(KING, source="api:alice"))
    blocks.add(Entry("evil.example"))
    blocks.add(Entry("@good:evil.example", allow=True))
    assert len(blocks) == 3
    blocks.add(Entry(KING, source="api:bob", reason="again"))  # replaces
    assert len(blocks) == 3
    assert top(blocks.check(KING)).source == "api:bob"
    assert blocks.remove(KING)
    assert not blocks.remove(KING)
    assert blocks.check("@tr0llking:example.org").verdict == "allow"
    assert not blocks.remove("@good:evil.example")  # it is on the allow side
    assert blocks.remove("@good:evil.example", allow=True)
    assert blocks.check("@good:evil.example").verdict == "block"
    assert [entry.pattern for entry in blocks.entries()] == ["evil.example"]


def test_removing_one_of_a_group_keeps_the_others() -> None:
    blocks = index("@troll1:example.org", "@troll2:example.org")
    blocks.remove("@troll1:example.org")
    assert [match.entry for match in blocks.check("@troll:example.org").matches] == [
        "@troll2:example.org"
    ]


# covers: what a moderator's new entry catches at once.


def test_covers() -> None:
    blocks = BlockIndex()
    assert blocks.covers(Entry(KING), KING)
    assert blocks.covers(Entry(KING), "@tr0ll.king:example.org")
    assert not blocks.covers(Entry(KING), "@trollking:other.org")
    assert not blocks.covers(Entry(KING), "@trollking_99:example.org")
    assert not blocks.covers(Entry(TROLL), "@tr0ll:example.org")  # short: review only
    assert blocks.covers(Entry("@spam*:*"), "@spammer:x.org")
    assert blocks.covers(Entry("*.evil.example"), "@a:b.evil.example")
    assert blocks.covers(Entry(id_hash(TROLL), hashed=True), TROLL)
    assert blocks.covers(Entry("@good:x.org", allow=True), "@good:x.org")
    assert not blocks.covers(Entry("@goodname:x.org", allow=True), "@g00dname:x.org")


# Output.


def test_as_dict_is_plain_json() -> None:
    decision = index(TROLL).check("@tr0ll_99:example.org")
    data = json.loads(json.dumps(decision.as_dict()))
    assert data == {
        "verdict": "review",
        "matches": [
            {
                "entry": TROLL,
                "source": "test",
                "rule": "digits",
                "transforms": ["0->o", 'removed suffix "_99"'],
                "distance": 0,
                "cutoff": 0,
                "verdict": "review",
            }
        ],
    }


def test_at_most_a_few_matches_are_listed_strongest_first() -> None:
    blocks = index(KING, *(f"@trollking{n}:example.org" for n in range(20)))
    decision = blocks.check(KING)
    assert len(decision.matches) == MAX_MATCHES
    assert [match.rule for match in decision.matches][:2] == ["exact", "digits"]


def test_entry_kinds() -> None:
    assert Entry(TROLL).kind == "user"
    assert Entry("@spam*:*").kind == "glob"
    assert Entry("@spam?:x").kind == "glob"
    assert Entry("evil.example").kind == "server"
    assert Entry(TROLL, hashed=True).kind == "hash"


# Short first names one edit apart must never be taken for each other.

NAMES = """
bob rob ann anne max mat eve ava joe jon amy ami ana anna ben ken ian leo liam noah emma mia
zoe lily lucy luke jack jake john jane june kate kim tom tim sam pam dan dean don ella eli ali
ada adam alan alex alec ezra finn fred hugo ivan ivy jade jill joel josh jude karl kyle lena
leon levi lisa mark mary mike nina nora owen paul pete rose ruby ryan sara sean seth tara theo
tina toby troy vera will maria mario karen karin jason mason brian bryan cara carl
""".split()


# Pairs whose folded keys are equal are left out: the normaliser reads them as one name by
# design ("ann" and "anna" both fold to "an"; "al1" and "ali" would both fold to "ai").
PAIRS = [
    (first, second)
    for first in NAMES
    for second in NAMES
    if Levenshtein.distance(first, second) == 1 and keys(first)[0] != keys(second)[0]
]


def test_the_name_list_has_one_edit_pairs_of_every_length() -> None:
    assert {("bob", "rob"), ("ann", "anne"), ("max", "mat"), ("maria", "mario")} <= set(PAIRS)
    assert {len(first) for first, _ in PAIRS} == {3, 4, 5}


@given(st.sampled_from(PAIRS), st.sampled_from(["example.org", "other.org"]))
def test_short_names_one_edit_apart_are_allowed(pair: tuple[str, str], server: str) -> None:
    blocked, checked = pair
    decision = index(f"@{blocked}:example.org").check(f"@{checked}:{server}", display_name=checked)
    assert decision.verdict == "allow", decision


def test_names_listed_above_one_edit_apart_are_never_flagged() -> None:
    flagged = [
        (blocked, checked)
        for blocked, checked in PAIRS
        if index(f"@{blocked}:example.org").check(f"@{checked}:example.org").verdict != "allow"
    ]
    assert flagged == []


# Never raise, whatever the text.

_PATTERN = st.one_of(
    st.text(max_size=20),
    st.builds(
        lambda local, server: f"@{local}:{server}", st.text(max_size=10), st.text(max_size=10)
    ),
    st.text(alphabet="@:*?.ab[", max_size=12),
)
_ENTRY = st.builds(Entry, _PATTERN, allow=st.booleans(), hashed=st.booleans())


@given(
    st.lists(_ENTRY, max_size=8),
    st.text(max_size=40),
    st.none() | st.text(max_size=40),
    st.none() | st.text(max_size=40),
)
def test_check_never_raises(
    entries: list[Entry], user_id: str, typed: str | None, shown: str | None
) -> None:
    blocks = BlockIndex(entries)
    decision = blocks.check(user_id, typed=typed, display_name=shown)
    assert decision.verdict in ("block", "review", "allow")
    assert all(match.verdict in ("block", "review", "allow") for match in decision.matches)
    json.dumps(decision.as_dict())
    for entry in entries:
        blocks.covers(entry, user_id)
        blocks.remove(entry.pattern, allow=entry.allow)
    assert len(blocks) == 0


_STRONG = {"exact", "glob", "server", "normalised"}


@given(_ENTRY, st.one_of(_PATTERN, st.sampled_from([TROLL, KING, "@tr0llking:example.org"])))
def test_covers_agrees_with_check(entry: Entry, user_id: str) -> None:
    decision = BlockIndex([entry]).check(user_id)
    if entry.allow:
        expected = any(match.rule == "allow" for match in decision.matches)
    else:
        expected = any(m.rule in _STRONG and m.verdict == "block" for m in decision.matches)
    assert BlockIndex().covers(entry, user_id) is expected


# Catch-alls: an entry that would match anyone, on any server.


@pytest.mark.parametrize(
    "pattern", ["*", "@*:*", "@*:*.org", "@?:*", "*.org", "@*:*org", "@?*:*", "**"]
)
def test_an_entry_covering_arbitrary_ids_on_unrelated_servers_is_a_catch_all(
    pattern: str,
) -> None:
    assert covers_anyone(Entry(pattern))
    assert covers_anyone(Entry(pattern, allow=True))


@pytest.mark.parametrize(
    "pattern",
    [
        "@spam*:*",
        "@*:evil.example",
        "@*:*.evil.example",
        "evil.example",
        "*.evil.example",
        TROLL,
        "@a*:*",
        "org",
    ],
)
def test_entries_that_name_a_server_or_a_name_are_not_catch_alls(pattern: str) -> None:
    assert not covers_anyone(Entry(pattern))


def test_a_hashed_entry_is_never_a_catch_all() -> None:
    assert not covers_anyone(Entry(id_hash("@a:example.org"), hashed=True))


# Held entries: they refuse knocks, and remove nobody until a moderator confirms them.


def test_a_held_entry_blocks_a_check_and_counts_only_when_held_entries_are_included() -> None:
    blocks = BlockIndex([Entry("@spam*:*", held=True), Entry(TROLL)])

    assert blocks.check("@spammer:x.org").verdict == "block"
    in_force = blocks.check("@spammer:x.org", include_held=False)
    assert in_force == Decision("allow")
    assert blocks.check(TROLL, include_held=False).verdict == "block"


def test_an_entry_in_force_wins_over_a_held_one_covering_the_same_id() -> None:
    blocks = BlockIndex([Entry("@spam*:*", held=True), Entry("@spammer:x.org")])

    decision = blocks.check("@spammer:x.org", include_held=False)

    assert decision.verdict == "block"
    assert [match.entry for match in decision.matches] == ["@spammer:x.org"]


@given(st.lists(_ENTRY, max_size=8), st.one_of(_PATTERN, st.sampled_from([TROLL, KING])))
def test_covering_lists_exactly_the_block_entries_that_cover_an_id(
    entries: list[Entry], user_id: str
) -> None:
    blocks = BlockIndex(entries)
    live = {entry.pattern: entry for entry in entries if not entry.allow}

    found = {entry.pattern for entry in blocks.covering(user_id)}

    assert found == {pattern for pattern, e in live.items() if blocks.covers(e, user_id)}


# A load adds many entries at once: the index is the same as adding them one by one.

_LOADED = st.lists(
    st.one_of(
        _ENTRY,
        st.builds(
            lambda local, digits, server, held: Entry(f"@{local}{digits}:{server}", held=held),
            st.sampled_from(["troll", "tr0ll", "trollking", "bob", "alexandra", "al3xandra"]),
            st.sampled_from(["", "1", "_99"]),
            st.sampled_from(["example.org", "evil.example:8448"]),
            st.booleans(),
        ),
    ),
    max_size=12,
).map(lambda entries: list({(e.pattern, e.allow): e for e in entries}.values()))


@given(
    _LOADED,
    st.lists(_ENTRY, max_size=3),
    st.booleans(),
    st.lists(
        st.sampled_from([TROLL, KING, "@tr0llking:evil.example", "@alexandr4_7:example.org"])
        | _PATTERN,
        max_size=4,
    ),
)
def test_a_load_files_entries_as_adding_them_one_by_one_does(
    loaded: list[Entry], earlier: list[Entry], stored_keys: bool, checked: list[str]
) -> None:
    taken = {(entry.pattern, entry.allow) for entry in loaded}
    earlier = [entry for entry in earlier if (entry.pattern, entry.allow) not in taken]
    one_by_one = BlockIndex([*earlier, *loaded])
    at_once = BlockIndex(earlier)
    at_once.add_new(
        [
            new_entry(entry, keys(split_user_id(entry.pattern)[0]))
            if stored_keys and entry.kind == "user"
            else new_entry(entry)
            for entry in loaded
        ]
    )
    assert len(at_once) == len(one_by_one)
    assert list(at_once.entries()) == list(one_by_one.entries())
    for user_id in checked:
        for held in (True, False):
            assert at_once.check(user_id, display_name=user_id, include_held=held) == (
                one_by_one.check(user_id, display_name=user_id, include_held=held)
            )
        assert at_once.covering(user_id) == one_by_one.covering(user_id)


def test_a_load_refuses_a_pattern_given_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        BlockIndex().add_new([new_entry(Entry(TROLL)), new_entry(Entry(TROLL))])
