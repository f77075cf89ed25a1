"""Weighing hits: allow overrides, the strongest verdict wins, the strongest few are shown."""

from __future__ import annotations

from knock.core.blocklist.decide import MAX_MATCHES, Hit, decide, keep
from knock.core.blocklist.model import Entry


def hit(pattern: str, rule: str, verdict: str, distance: int | None = None) -> Hit:
    return Hit(Entry(pattern), rule, verdict, distance)  # type: ignore[arg-type]


def test_nothing_found_is_allowed() -> None:
    decision = decide([])
    assert (decision.verdict, decision.matches) == ("allow", ())


def test_the_strongest_verdict_wins_and_comes_first() -> None:
    decision = decide([hit("@a:x", "edit_distance", "review", 1), hit("@b:x", "exact", "block")])
    assert decision.verdict == "block"
    assert [match.entry for match in decision.matches] == ["@b:x", "@a:x"]


def test_an_allow_hit_overrides_and_is_listed_first() -> None:
    decision = decide([hit("@b:x", "exact", "block"), hit("@b:x", "allow", "allow")])
    assert decision.verdict == "allow"
    assert [match.rule for match in decision.matches] == ["allow", "exact"]


def test_the_verdict_weighs_hits_beyond_those_shown() -> None:
    weak = [hit(f"@a{n}:x", "edit_distance", "review", 1) for n in range(MAX_MATCHES + 3)]
    decision = decide([*weak, hit("@z:x", "allow", "allow")])
    assert len(decision.matches) == MAX_MATCHES
    assert decision.verdict == "allow"


def test_ties_go_to_the_fewest_edits() -> None:
    decision = decide(
        [hit("@a:x", "edit_distance", "review", 2), hit("@b:x", "edit_distance", "review", 1)]
    )
    assert [match.distance for match in decision.matches] == [1, 2]


def test_keep_keeps_the_strongest_hit_per_entry() -> None:
    hits: dict[int, Hit] = {}
    keep(hits, 1, hit("@a:x", "digits", "review", 0))
    keep(hits, 1, hit("@a:x", "normalised", "block"))
    keep(hits, 1, hit("@a:x", "edit_distance", "review", 1))
    assert hits[1].rule == "normalised"
