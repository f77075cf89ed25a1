"""Block-list matching: exact, normalised, glob, server, hashed and near-miss matches on Matrix ids.

(Design notes to follow.)
"""

from .index import BlockIndex
from .model import Decision, Entry, Match, MatchPolicy, Rule, Verdict

__all__ = ["BlockIndex", "Decision", "Entry", "Match", "MatchPolicy", "Rule", "Verdict"]
