"""The block-list's vocabulary: entry kinds, verdict order, the policy's cutoffs, plain data."""

from __future__ import annotations

import pytest

from knock.core.blocklist.model import (
    Decision,
    Entry,
    Match,
    MatchPolicy,
    Transform,
    TransformKind,
    strongest,
    weakest,
)


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        (Entry("@troll:example.org"), "user"),
        (Entry("@spam*:*"), "glob"),
        (Entry("@*:evil.example"), "glob"),
        (Entry("evil.example"), "server"),
        (Entry("*.evil.example"), "server"),
        (Entry("@troll:example.org", hashed=True), "hash"),
    ],
)
def test_entry_kind(entry: Entry, kind: str) -> None:
    assert entry.kind == kind


def test_verdict_order() -> None:
    assert strongest("review", "block", "allow") == "block"
    assert strongest() == "allow"
    assert weakest("review", "block") == "review"
    assert weakest("allow", "block") == "allow"


@pytest.mark.parametrize(("length", "edits"), [(1, 0), (5, 0), (6, 1), (8, 1), (9, 2), (40, 2)])
def test_default_cutoffs(length: int, edits: int) -> None:
    assert MatchPolicy().cutoff(length) == edits


def test_cutoffs_are_kept_to_what_the_index_can_find() -> None:
    policy = MatchPolicy(max_distance=((3, -1), (6, 5)), beyond=9)
    assert [policy.cutoff(n) for n in (2, 5, 7)] == [0, 2, 2]


def test_a_transform_reads_as_its_text_and_is_lossy_by_its_kind() -> None:
    suffix = Transform(TransformKind.SUFFIX, 'removed suffix "_99"')
    collapsed = Transform(TransformKind.COLLAPSED_REPEAT, 'collapsed repeated "lll"')
    assert (str(suffix), suffix.lossy) == ('removed suffix "_99"', False)
    assert (str(collapsed), collapsed.lossy) == ('collapsed repeated "lll"', True)


def test_as_dict() -> None:
    suffix = Transform(TransformKind.SUFFIX, 'removed suffix "_99"')
    match = Match("@troll:example.org", "file", "digits", (suffix,), 0, 0, "review")
    assert Decision("review", (match,)).as_dict() == {
        "verdict": "review",
        "matches": [
            {
                "entry": "@troll:example.org",
                "source": "file",
                "rule": "digits",
                "transforms": ['removed suffix "_99"'],
                "distance": 0,
                "cutoff": 0,
                "verdict": "review",
            }
        ],
    }
