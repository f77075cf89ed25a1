"""The block-list's vocabulary: entries, matches, decisions and the policy that weighs them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "RULE_ORDER",
    "Decision",
    "Entry",
    "Match",
    "MatchPolicy",
    "Rule",
    "Transform",
    "TransformKind",
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
    An ``allow`` entry overrides any match on the ids it covers. A ``held`` entry refuses
    requests like any other but is left out where only entries in force count (removing people
    already in the room), until a moderator confirms it.
    """

    pattern: str
    source: str = "api"
    reason: str | None = None
    allow: bool = False
    hashed: bool = False
    held: bool = False

    @property
    def kind(self) -> Kind:
        """Tell how ``pattern`` is read: a user id, a glob, a server or a hash."""
        return kind_of(self.pattern, self.hashed)


def kind_of(pattern: str, hashed: bool) -> Kind:
    """How an entry's ``pattern`` is read (:attr:`Entry.kind`), without making the entry."""
    if hashed:
        return "hash"
    if not pattern.startswith("@"):
        return "server"
    if "*" in pattern or "?" in pattern:
        return "glob"
    return "user"


class TransformKind(StrEnum):
    """What was done to a request's name (or an entry's) to make the two meet."""

    # Lossless folds (:mod:`.explain`): they never lower a verdict.
    ACCENT = "accent"  # an accent removed, with its letter or on its own
    INVISIBLE = "invisible"  # invisible characters removed
    LOWER_CASED = "lower_cased"
    FULL_WIDTH = "full_width"  # full-width letters read as ASCII
    STYLED = "styled"  # a styled letter (NFKC: mathematical, circled...) read as its plain one
    LOOK_ALIKE = "look_alike"  # a letter of another script read as the one it looks like
    LEET = "leet"  # a character read as a letter ("0->o"; rarely a ligature's letter, "ĳ" "j->i")
    SEPARATORS = "separators"  # separators removed or ignored
    PREFIX = "prefix"  # a numeric prefix cut
    SUFFIX = "suffix"  # a numeric suffix cut
    # Lossy folds: they may merge different people's names, so a match needing one asks review.
    LOOK_ALIKE_PAIR = "look_alike_pair"  # "rn" read as "m", "vv" as "w"
    MERGED_LETTERS = "merged_letters"  # letter "i" read as "l", or "l" as "i"
    COLLAPSED_REPEAT = "collapsed_repeat"  # a run of one letter read as one
    JOINED_ACROSS_SEPARATOR = "joined_across_separator"  # alike letters joined ("l.l" as "ll")
    TOOK = "took"  # a chunk taken for another where no lossy fold above was found to name
    # Edits between fuzzy keys that differ.
    EXTRA = "extra"
    MISSING = "missing"
    SUBSTITUTED = "substituted"
    # Where the request met the entry.
    TYPED = "typed"  # in the id as typed, not the repaired one
    HASHED = "hashed"  # the SHA-256 hash of the id met a hashed entry
    DISPLAY_NAME = "display_name"
    OTHER_SERVER = "other_server"  # the entry is on another server

    @property
    def lossy(self) -> bool:
        """Tell whether this kind names a lossy fold, one that may have met somebody else's name."""
        return self in _LOSSY


_LOSSY = frozenset(
    {
        TransformKind.LOOK_ALIKE_PAIR,
        TransformKind.MERGED_LETTERS,
        TransformKind.COLLAPSED_REPEAT,
        TransformKind.JOINED_ACROSS_SEPARATOR,
        TransformKind.TOOK,
    }
)


@dataclass(frozen=True, slots=True)
class Transform:
    """One thing done to make a request meet an entry: its kind, and how a moderator reads it.

    ``text`` is the moderator's wording (quoting what was written, never the internal key); it
    is what the JSON carries. What the transform means is its ``kind``, never the wording.
    """

    kind: TransformKind
    text: str

    @property
    def lossy(self) -> bool:
        """Tell whether this names a lossy fold (see :attr:`TransformKind.lossy`)."""
        return self.kind.lossy

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Match:
    """One entry that matched a request, and what was done to make the request meet it."""

    entry: str
    source: str
    rule: Rule
    transforms: tuple[Transform, ...]
    distance: int | None
    cutoff: int | None
    verdict: Verdict

    def as_dict(self) -> dict[str, object]:
        """Return the match as plain JSON-ready data."""
        return {
            "entry": self.entry,
            "source": self.source,
            "rule": self.rule,
            "transforms": [transform.text for transform in self.transforms],
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
