"""Find user entries by folded localpart: the same name, here or elsewhere, and near misses.

Three lookups, all in :class:`.multimap.HashMultimap` arrays rather than dicts:

- same name on the same server: hash of (host, normalised key) -> entry ids;
- same name anywhere: hash of the normalised key -> entry ids;
- near misses, by symmetric deletion (SymSpell): each distinct fuzzy key is a *name*; a name
  is filed under itself and, when its length allows any edit, under each string made by
  deleting one of its letters. A query looks up its own key, its one-letter deletions and,
  when two edits are allowed, its two-letter deletions; every name found is verified with the
  optimal-string-alignment distance (Levenshtein plus adjacent transposition as one edit)
  within the cutoff for the shorter key. Entries sharing a fuzzy key (``troll1``, ``troll_2``)
  share one name, so the neighbourhood grows with distinct names, not entries.

Filing names under one-letter deletions only (not two) keeps the index about ten nodes per
name instead of fifty; every pair within one edit is still found, and of pairs two edits apart
all but those needing two deletions from the entry's side (two substitutions, or letters
dropped from a long name) -- see the package docstring for what that costs.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from rapidfuzz.distance import OSA

from .model import MatchPolicy
from .multimap import HashMultimap

__all__ = ["MAX_FUZZY", "MIN_FUZZY", "NameIndex"]

# Fuzzy keys shorter than this are not compared: two letters say nothing about a person.
MIN_FUZZY = 3
# Keys longer than this are only compared whole: their deletion sets would be large, and no
# real handle is that long once folded.
MAX_FUZZY = 32
_NONE = -1


class NameIndex:
    """Entry ids by folded localpart: per server, anywhere, and by near miss."""

    def __init__(self, policy: MatchPolicy) -> None:
        self._policy = policy
        # The edits the policy allows a name of each length it files variants for.
        self._edits = [policy.cutoff(length) for length in range(MAX_FUZZY + 1)]
        self._here = HashMultimap()
        self._anywhere = HashMultimap()
        self._variants = HashMultimap()
        self._names: list[str | None] = []
        # The entries of each name: the first in an array, any others in an array of their own
        # (most names have one entry; a few, like "user" for user123..., have thousands).
        self._first = array("i")
        self._more: dict[int, array[int]] = {}
        self._free: list[int] = []

    def reserve(self, entries: int) -> None:
        """Size the tables for about ``entries`` user entries."""
        self._here.reserve(entries)
        self._anywhere.reserve(entries)
        self._variants.reserve(entries * 8)

    def add(self, item: int, host: str, key: str, fuzzy: str) -> None:
        """File entry ``item`` (on server ``host``) under its normalised and fuzzy keys."""
        if key:
            self._here.add(hash((host, key)), item)
            self._anywhere.add(hash(key), item)
        if len(fuzzy) < MIN_FUZZY:
            return
        name = self.name_of(fuzzy)
        if name is None:
            self._new_name(fuzzy, item)
        else:
            self._more.setdefault(name, array("i")).append(item)

    def add_many(
        self, items: Sequence[int], hosts: Sequence[str], keys: Sequence[str], fuzzy: Sequence[str]
    ) -> None:
        """:meth:`add` for each entry (``items[i]`` on ``hosts[i]`` with ``keys[i]`` and
        ``fuzzy[i]``), in order, with the tables' nodes added a whole batch at a time: a load."""
        keyed = [
            (item, host, key) for item, host, key in zip(items, hosts, keys, strict=True) if key
        ]
        numbers = [item for item, _, _ in keyed]
        self._here.extend([hash((host, key)) for _, host, key in keyed], numbers)
        self._anywhere.extend([hash(key) for _, _, key in keyed], numbers)
        made: dict[str, int] = {}  # the names made in this batch, not yet in the variants table
        variants: list[int] = []
        names: list[int] = []
        more = self._more
        for item, spelled in zip(items, fuzzy, strict=True):
            if len(spelled) < MIN_FUZZY:
                continue
            name = made.get(spelled)
            if name is None:
                name = self.name_of(spelled)
            if name is not None:
                others = more.get(name)
                if others is None:
                    others = more[name] = array("i")
                others.append(item)
                continue
            name = made[spelled] = self._claim(spelled, item)
            filed = self._filed_variants(spelled)
            variants.extend(map(hash, filed))
            names.extend([name] * len(filed))
        self._variants.extend(variants, names)

    def discard(self, item: int, host: str, key: str, fuzzy: str) -> None:
        """Undo :meth:`add` for the same arguments."""
        if key:
            self._here.discard(hash((host, key)), item)
            self._anywhere.discard(hash(key), item)
        name = self.name_of(fuzzy) if len(fuzzy) >= MIN_FUZZY else None
        if name is None:
            return
        more = self._more.get(name)
        if self._first[name] == item:
            if more:
                self._first[name] = more.pop()
            else:
                self._drop_name(name, fuzzy)
        elif more is not None and item in more:
            more.remove(item)
        if more is not None and not more:
            del self._more[name]

    def same_server(self, host: str, key: str) -> list[int]:
        """Return the entries on ``host`` whose normalised key is ``key``."""
        return self._here.get(hash((host, key))) if key else []

    def anywhere(self, key: str) -> list[int]:
        """Return the entries on any server whose normalised key is ``key``."""
        return self._anywhere.get(hash(key)) if key else []

    def members(self, name: int, limit: int) -> list[int]:
        """Return up to ``limit`` of the entries whose fuzzy key is name ``name``."""
        more = self._more.get(name)
        return [self._first[name], *(more[: limit - 1] if more else ())][:limit]

    def name_of(self, fuzzy: str) -> int | None:
        """Return the name filed for exactly this fuzzy key, if any."""
        for name in self._variants.get(hash(fuzzy)):
            if self._names[name] == fuzzy:
                return name
        return None

    def near(self, fuzzy: str) -> list[tuple[int, int, int]]:
        """Return ``(name, distance, cutoff)`` for every name within its cutoff of ``fuzzy``."""
        if len(fuzzy) < MIN_FUZZY:
            return []
        found: set[int] = set()
        self._variants.collect(map(hash, self._query_variants(fuzzy)), found)
        near: list[tuple[int, int, int]] = []
        cutoff_for = self._policy.cutoff
        for name in found:
            other = self._names[name]
            if other is None:
                continue
            cutoff = cutoff_for(min(len(fuzzy), len(other)))
            if other == fuzzy:
                near.append((name, 0, cutoff))
            elif cutoff:
                distance = OSA.distance(fuzzy, other, score_cutoff=cutoff)
                if distance <= cutoff:
                    near.append((name, distance, cutoff))
        return near

    def _query_variants(self, fuzzy: str) -> set[str]:
        """The query key and, as its length allows edits, its one- and two-letter deletions."""
        edits = self._policy.cutoff(len(fuzzy)) if len(fuzzy) <= MAX_FUZZY else 0
        if edits == 0:
            return {fuzzy}
        if edits == 1:
            return {fuzzy, *_deletions(fuzzy)}
        return {fuzzy, *_deletions(fuzzy), *_double_deletions(fuzzy)}

    def _filed_variants(self, fuzzy: str) -> set[str]:
        """The strings a name is filed under: itself, and its one-letter deletions if editable."""
        if len(fuzzy) > MAX_FUZZY or not self._edits[len(fuzzy)]:
            return {fuzzy}
        return {fuzzy, *_deletions(fuzzy)}

    def _new_name(self, fuzzy: str, item: int) -> None:
        """File a new name for ``fuzzy``, with ``item`` its first entry."""
        name = self._claim(fuzzy, item)
        self._variants.add_all(map(hash, self._filed_variants(fuzzy)), name)

    def _claim(self, fuzzy: str, item: int) -> int:
        """Number a new name for ``fuzzy``, with ``item`` its first entry (not yet filed)."""
        if self._free:
            name = self._free.pop()
            self._names[name] = fuzzy
            self._first[name] = item
        else:
            name = len(self._names)
            self._names.append(fuzzy)
            self._first.append(item)
        return name

    def _drop_name(self, name: int, fuzzy: str) -> None:
        """Unfile a name that no entry uses any more."""
        for variant in self._filed_variants(fuzzy):
            self._variants.discard(hash(variant), name)
        self._names[name] = None
        self._first[name] = _NONE
        self._free.append(name)


def _deletions(text: str) -> list[str]:
    """Every string made by deleting one character of ``text``."""
    return [text[:position] + text[position + 1 :] for position in range(len(text))]


def _double_deletions(text: str) -> list[str]:
    """Every string made by deleting two characters of ``text``."""
    return [
        text[:first] + text[first + 1 : second] + text[second + 1 :]
        for second in range(1, len(text))
        for first in range(second)
    ]
