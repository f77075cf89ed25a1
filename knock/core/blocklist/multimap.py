"""A multimap from 64-bit hashes to small ints, in flat arrays: about 18 bytes a pair.

A ``dict`` of strings costs some 100 bytes an item (the key string, its slot, the value
object); the block-list's deletion neighbourhood has about ten items per entry, so at a million
entries a dict would not fit in a gigabyte. Here each pair is a node in three parallel arrays
(hash, value, next node) chained from a bucket table indexed by the hash's low bits. Freed
nodes go on a free list and are reused. Keys are Python ``hash()`` values of strings: equal
hashes are taken as equal keys (a chance of about 2**-64 per comparison), and the callers that
need certainty (near-miss search) check the candidates they get. A chain holds every pair of
its bucket, so the table suits keys with few values each; many values under one key belong in
a list of their own (as :class:`.names.NameIndex` keeps the entries of a name).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

__all__ = ["HashMultimap"]

_EMPTY = -1
_MIN_BITS = 10
# Buckets are doubled when there are more nodes than this many per bucket on average.
_LOAD = 2


class HashMultimap:
    """Map int keys (hashes) to int values from 0 to 2**31 - 1; one key may have many values."""

    def __init__(self, bits: int = _MIN_BITS) -> None:
        self._mask = (1 << bits) - 1
        self._heads = array("i", [_EMPTY]) * (1 << bits)
        self._keys = array("q")
        self._values = array("i")
        self._next = array("i")
        self._free = _EMPTY
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, key: int, value: int) -> None:
        """Add the pair ``(key, value)``; a pair already present is added again."""
        self.add_all((key,), value)

    def add_all(self, keys: Iterable[int], value: int) -> None:
        """Add ``(key, value)`` for every key of ``keys``."""
        heads, stored, values, following, mask = (
            self._heads,
            self._keys,
            self._values,
            self._next,
            self._mask,
        )
        added = 0
        for key in keys:
            bucket = key & mask
            node = self._free
            if node == _EMPTY:  # a table being filled: new nodes at the end
                stored.append(key)
                values.append(value)
                following.append(heads[bucket])
                heads[bucket] = len(stored) - 1
            else:
                self._free = following[node]
                stored[node] = key
                values[node] = value
                following[node] = heads[bucket]
                heads[bucket] = node
            added += 1
        self._size += added
        while self._size > _LOAD * len(self._heads):
            self._grow()

    def extend(self, keys: Sequence[int], values: Sequence[int]) -> None:
        """Add the pairs ``zip(keys, values)``, in order: :meth:`add` for each, in one pass.

        A load files its pairs this way: the arrays grow by whole sequences and only the
        chaining is a loop turn per pair.
        """
        if self._free != _EMPTY:  # freed nodes to reuse: one pair at a time
            for key, value in zip(keys, values, strict=True):
                self.add_all((key,), value)
            return
        if len(keys) != len(values):
            raise ValueError("as many values as keys")
        self.reserve(self._size + len(keys))
        first = len(self._keys)
        self._keys.extend(keys)
        self._values.extend(values)
        self._next.extend(array("i", [_EMPTY]) * len(keys))
        heads, following, mask = self._heads, self._next, self._mask
        for node, key in enumerate(keys, first):
            bucket = key & mask
            following[node] = heads[bucket]
            heads[bucket] = node
        self._size += len(keys)

    def discard(self, key: int, value: int) -> bool:
        """Remove one pair ``(key, value)``; tell whether there was one."""
        bucket = key & self._mask
        previous = _EMPTY
        node = self._heads[bucket]
        while node != _EMPTY:
            if self._keys[node] == key and self._values[node] == value:
                following = self._next[node]
                if previous == _EMPTY:
                    self._heads[bucket] = following
                else:
                    self._next[previous] = following
                self._values[node] = _EMPTY
                self._next[node] = self._free
                self._free = node
                self._size -= 1
                return True
            previous, node = node, self._next[node]
        return False

    def get(self, key: int) -> list[int]:
        """Return every value stored under ``key``, most recently added first."""
        found: list[int] = []
        keys, values, following = self._keys, self._values, self._next
        node = self._heads[key & self._mask]
        while node != _EMPTY:
            if keys[node] == key:
                found.append(values[node])
            node = following[node]
        return found

    def collect(self, keys: Iterable[int], into: set[int]) -> None:
        """Add every value stored under any of ``keys`` to ``into``."""
        heads, stored, values, following = self._heads, self._keys, self._values, self._next
        mask = self._mask
        for key in keys:
            node = heads[key & mask]
            while node != _EMPTY:
                if stored[node] == key:
                    into.add(values[node])
                node = following[node]

    def reserve(self, pairs: int) -> None:
        """Make room for ``pairs`` pairs in all, so that adding them does not regrow the table."""
        buckets = self._mask + 1
        while _LOAD * buckets < pairs:
            buckets *= 2
        if buckets > self._mask + 1:
            self._mask = buckets - 1
            self._heads = array("i", [_EMPTY]) * buckets
            self._relink()

    def _grow(self) -> None:
        """Double the buckets and chain every live node again."""
        self._mask = self._mask * 2 + 1
        self._heads = array("i", [_EMPTY]) * (self._mask + 1)
        self._relink()

    def _relink(self) -> None:
        """Chain every live node from the bucket its key falls in now."""
        heads, following, values, mask = self._heads, self._next, self._values, self._mask
        for node, key in enumerate(self._keys):
            if values[node] != _EMPTY:
                bucket = key & mask
                following[node] = heads[bucket]
                heads[bucket] = node
