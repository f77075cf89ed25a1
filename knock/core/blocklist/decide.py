"""Turn what the lookups found into a :class:`.model.Decision` a moderator can read.

Lookups produce :class:`Hit`\\ s: cheap records of which entry matched by which rule, with the
verdict the policy gives it. Only the hits that are shown get explained (folding both names
again, with provenance, is the slow part), and at most :data:`MAX_MATCHES` are shown; the
verdict is always worked out from every hit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .explain import describe, show
from .fold import fold
from .ids import ascii_lower, host_of, split_user_id
from .model import (
    RULE_ORDER,
    Decision,
    Entry,
    Match,
    Rule,
    Transform,
    TransformKind,
    Verdict,
    strongest,
    verdict_rank,
)

__all__ = ["MAX_MATCHES", "Hit", "combine", "decide", "keep"]

# Matches shown in a decision; a common name can meet hundreds of entries, and a moderator
# needs the strongest few, not all of them.
MAX_MATCHES = 5
# Rules met by folded names, whose transforms are worth spelling out; and those where the
# entry may sit on another server than the request.
_NAME_RULES = frozenset({"normalised", "other_server", "digits", "edit_distance", "display_name"})
_SERVER_RULES = frozenset({"other_server", "digits", "edit_distance"})
_TYPED = Transform(TransformKind.TYPED, "in the id as typed")
_HASHED = Transform(TransformKind.HASHED, "the SHA-256 hash of the id")


class Hit(NamedTuple):
    """One entry found for a request, before it is explained (a tuple: made by the hundred)."""

    entry: Entry
    rule: Rule
    verdict: Verdict
    distance: int | None = None
    cutoff: int | None = None
    text: str = ""  # the request's text that met the entry's name (a localpart or a display name)
    fuzzy: bool = False  # met on fuzzy keys (numeric affixes cut)
    host: str | None = None  # the request's host, to tell whether the entry is elsewhere
    typed: bool = False  # found from the id as typed, not the repaired one
    hashed: bool = False

    def strength(self) -> tuple[int, int, int]:
        """Sort key, strongest first: verdict, then rule, then fewest edits."""
        return (-verdict_rank(self.verdict), RULE_ORDER[self.rule], self.distance or 0)


def keep(hits: dict[int, Hit], number: int, hit: Hit) -> None:
    """Record ``hit`` under ``number`` unless a stronger one is already recorded there."""
    current = hits.get(number)
    if current is None or hit.strength() < current.strength():
        hits[number] = hit


def decide(hits: Iterable[Hit]) -> Decision:
    """Weigh every hit (an allow hit overrides) and explain the strongest few."""
    ordered = sorted(hits, key=_order)
    allowed = any(hit.rule == "allow" for hit in ordered)
    verdict: Verdict = "allow" if allowed else strongest(*(hit.verdict for hit in ordered))
    matches = tuple(_explain(hit) for hit in ordered[:MAX_MATCHES])
    return Decision(verdict=verdict, matches=matches)


def combine(*decisions: Decision) -> Decision:
    """One decision from several lists' (every door's entries and one door's own): an allow
    match overrides, as within one list; otherwise the strongest verdict wins, and the strongest
    few matches of all are shown."""
    matches = [match for decision in decisions for match in decision.matches]
    if any(match.rule == "allow" for match in matches):
        verdict: Verdict = "allow"
    else:
        verdict = strongest(*(decision.verdict for decision in decisions))
    matches.sort(key=_match_order)
    return Decision(verdict=verdict, matches=tuple(matches[:MAX_MATCHES]))


def _match_order(match: Match) -> tuple[bool, int, int, int, str]:
    """As `_order`, for matches already explained."""
    rank = (-verdict_rank(match.verdict), RULE_ORDER[match.rule], match.distance or 0)
    return (match.rule != "allow", *rank, match.entry)


def _order(hit: Hit) -> tuple[bool, tuple[int, int, int], str]:
    """Allow hits first, then strongest first, then by pattern for a stable order."""
    return (hit.rule != "allow", hit.strength(), hit.entry.pattern)


def _explain(hit: Hit) -> Match:
    """Make the :class:`Match` for ``hit``, saying what was done to make the request meet it."""
    return Match(
        entry=hit.entry.pattern,
        source=hit.entry.source,
        rule=hit.rule,
        transforms=_transforms(hit),
        distance=hit.distance,
        cutoff=hit.cutoff,
        verdict=hit.verdict,
    )


def _transforms(hit: Hit) -> tuple[Transform, ...]:
    """List what was done to the request to meet the entry."""
    notes: list[Transform] = []
    if hit.typed:
        notes.append(_TYPED)
    if hit.hashed:
        notes.append(_HASHED)
    if hit.rule == "display_name":
        notes.append(Transform(TransformKind.DISPLAY_NAME, f'display name "{show(hit.text)}"'))
    if hit.rule in _NAME_RULES:
        local, _ = split_user_id(hit.entry.pattern)
        notes.extend(describe(fold(hit.text, fuzzy=hit.fuzzy), fold(local, fuzzy=hit.fuzzy)))
    if hit.rule in _SERVER_RULES:
        server = split_user_id(hit.entry.pattern)[1] or ""
        if host_of(ascii_lower(server)) != (hit.host or ""):
            same = hit.rule == "other_server"
            text = f"{'same name ' if same else ''}on another server ({show(server)})"
            notes.append(Transform(TransformKind.OTHER_SERVER, text))
    return tuple(notes)
