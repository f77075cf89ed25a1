"""The block-list's vocabulary: entries, matches, decisions and the policy that weighs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "RULE_ORDER",
    "Decision",
    "Entry",
    "Match",
    "MatchPolicy",
    "Rule",
    "Verdict",
    "strongest",
    "verdict_rank",
    "weakest",
]

Verdict = Literal["block", "review", "allow"]
Rule = Literal[
    "exact",
    "normalised",
    "glob",
    "server",
    "edit_distance",
    "digits",
    "other_server",
    "display_name",
    "allow",
]
Kind = Literal["user", "glob", "server", "hash"]

_RANK: dict[str, int] = {"allow": 0, "review": 1, "block": 2}
# How much a rule says about the person, most first; ties between matches of one verdict are
# broken by it, so a moderator sees the clearest reason at the top.
RULE_ORDER: dict[str, int] = {
    rule: position
    for position, rule in enumerate(
        (
            "allow",
            "exact",
            "glob",
            "server",
            "normalised",
            "other_server",
            "digits",
            "edit_distance",
            "display_name",
        )
    )
}
# The index finds at most two edits (see the package docstring), so a policy asking for more
# gets two.
MAX_EDITS = 2


def verdict_rank(verdict: str) -> int:
    """Order verdicts: allow 0 < review 1 < block 2 (anything unknown counts as allow)."""
    return _RANK.get(verdict, 0)


def strongest(*verdicts: Verdict) -> Verdict:
    """Return the strongest of ``verdicts`` (block > review > allow); allow when none."""
    return max(verdicts, key=verdict_rank, default="allow")


def weakest(*verdicts: Verdict) -> Verdict:
    """Return the weakest of ``verdicts``: two weak signals together are no stronger than either."""
    return min(verdicts, key=verdict_rank, default="allow")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a block-list or allow-list, as a moderator or a policy list gave it.

    ``pattern`` is a user id (``@troll:example.org``), a glob over user ids with ``*`` and ``?``
    (``@spam*:*``, ``@*:evil.example``), a server (``evil.example``, ``*.evil.example``: no
    ``@``), or with ``hashed=True`` the base64 SHA-256 of a user id (MSC4205 policy entities).
    An ``allow`` entry overrides any match on the ids it covers.
    """

    pattern: str
    source: str = "api"
    reason: str | None = None
    allow: bool = False
    hashed: bool = False

    @property
    def kind(self) -> Kind:
        """Tell how ``pattern`` is read: a user id, a glob, a server or a hash."""
        if self.hashed:
            return "hash"
        if not self.pattern.startswith("@"):
            return "server"
        if "*" in self.pattern or "?" in self.pattern:
            return "glob"
        return "user"


@dataclass(frozen=True, slots=True)
class Match:
    """One entry that matched a request, and in words how the request was made to meet it."""

    entry: str
    source: str
    rule: Rule
    transforms: tuple[str, ...]
    distance: int | None
    cutoff: int | None
    verdict: Verdict

    def as_dict(self) -> dict[str, object]:
        """Return the match as plain JSON-ready data."""
        return {
            "entry": self.entry,
            "source": self.source,
            "rule": self.rule,
            "transforms": list(self.transforms),
            "distance": self.distance,
            "cutoff": self.cutoff,
            "verdict": self.verdict,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request: the strongest verdict over its matches, and the matches."""

    verdict: Verdict
    matches: tuple[Match, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return the decision as plain JSON-ready data."""
        return {"verdict": self.verdict, "matches": [match.as_dict() for match in self.matches]}


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """How much weak evidence counts, and how many edits a near miss may have for its length.

    ``max_distance`` lists ``(up to this many characters, edits allowed)``, shortest first;
    longer names get ``beyond``. Lengths are those of the normalised keys, the shorter of the
    two compared. The default allows no edit up to 5 characters, so that one-letter-apart first
    names (``maria``/``mario``, ``bob``/``rob``) are never taken for each other.
    """

    fuzzy_action: Verdict = "review"
    other_server_action: Verdict = "review"
    max_distance: tuple[tuple[int, int], ...] = ((5, 0), (8, 1))
    beyond: int = 2

    def cutoff(self, length: int) -> int:
        """Return the edits allowed between names whose shorter normalised key has ``length``."""
        for up_to, edits in self.max_distance:
            if length <= up_to:
                return max(0, min(MAX_EDITS, edits))
        return max(0, min(MAX_EDITS, self.beyond))
