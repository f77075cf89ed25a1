"""Entries that match without folding: exact user ids, MSC4205 hashes, servers and globs.

:class:`StrongSet` holds one side of the index (block entries or allow entries) and finds,
for an id, every entry that covers it this way; :func:`strong_rule` says the same for a
single entry, so ``BlockIndex.covers`` and ``BlockIndex.check`` agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .ids import Probe, ascii_lower, hash_key, id_hash, probe
from .model import Entry, Kind, Rule
from .patterns import GlobSet, ServerSet, glob_covers, server_covers, server_part

__all__ = ["UNRELATED_IDS", "StrongSet", "covers_anyone", "server_pattern", "strong_rule"]

# Two ids with arbitrary one-letter names on unrelated servers. An entry that covers both would
# cover an arbitrary id on any server (``*``, ``@*:*``, ``@*:*.org``, ``@?:*``): a catch-all,
# which must name a server instead (``@spam*:*`` and ``@*:evil.example`` do not cover both).
UNRELATED_IDS = ("@a:example.org", "@b:matrix.org")


def server_pattern(entry: Entry) -> str | None:
    """Return the lower-cased server pattern of a server-wide entry, or None for others."""
    if entry.kind == "server":
        return ascii_lower(entry.pattern.strip())
    if entry.kind == "glob":
        server = server_part(entry.pattern)
        return ascii_lower(server) if server is not None else None
    return None


def strong_rule(entry: Entry, probe: Probe) -> Rule | None:
    """Return the rule by which ``entry`` alone covers ``probe`` without folding, if any."""
    kind = entry.kind
    if kind == "hash":
        return "exact" if hash_key(entry.pattern) == id_hash(probe.text) else None
    if kind == "user":
        return "exact" if entry.pattern == probe.text else None
    server = server_pattern(entry)
    if server is not None:
        return "server" if server_covers(server, probe.server, probe.host) else None
    return "glob" if glob_covers(ascii_lower(entry.pattern), probe.lowered) else None


def covers_anyone(entry: Entry) -> bool:
    """Tell whether ``entry`` is a catch-all: it covers both of :data:`UNRELATED_IDS`."""
    if entry.kind in ("user", "hash"):
        return False  # one id each
    return all(strong_rule(entry, unrelated) is not None for unrelated in _UNRELATED)


# Every stored entry is asked whether it is a catch-all as the block-list loads: read the two
# ids once.
_UNRELATED = tuple(probe(user_id) for user_id in UNRELATED_IDS)


class StrongSet:
    """One side's entries by number, with lookups for exact ids, hashes, servers and globs."""

    def __init__(self) -> None:
        self._entries: list[Entry | None] = []
        self._numbers: dict[str, int] = {}
        self._hashes: dict[str, list[int]] = {}
        self._servers = ServerSet()
        self._globs = GlobSet()

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[Entry]:
        return (entry for entry in self._entries if entry is not None)

    def entry(self, number: int) -> Entry:
        """Return the live entry filed as ``number``."""
        entry = self._entries[number]
        assert entry is not None, "entry numbers come from lookups of live entries"
        return entry

    def get(self, pattern: str) -> Entry | None:
        """The entry filed with exactly this pattern, if any."""
        number = self._numbers.get(pattern)
        return None if number is None else self._entries[number]

    def add(self, entry: Entry) -> int:
        """File ``entry`` (its pattern must not be filed) and return its number."""
        number = len(self._entries)
        self._entries.append(entry)
        self._numbers[entry.pattern] = number
        self._file(number, entry, entry.kind)
        return number

    def add_new(self, entries: Sequence[Entry], kinds: Sequence[Kind]) -> int:
        """:meth:`add` for each of ``entries`` (of ``kinds``), in one pass: a load. Their
        patterns must not be filed, nor repeated among them. Return the first one's number;
        the others follow it."""
        first = len(self._entries)
        filed = len(self._numbers)
        self._entries.extend(entries)
        numbers = range(first, first + len(entries))
        self._numbers.update(zip([entry.pattern for entry in entries], numbers, strict=True))
        if len(self._numbers) != filed + len(entries):
            raise ValueError("a pattern given twice, or filed already")
        for number, entry, kind in zip(numbers, entries, kinds, strict=True):
            if kind != "user":
                self._file(number, entry, kind)
        return first

    def _file(self, number: int, entry: Entry, kind: Kind) -> None:
        """File entry ``number`` in the lookup of its kind (a user id's is ``_numbers``)."""
        server = server_pattern(entry)
        if kind == "hash":
            self._hashes.setdefault(hash_key(entry.pattern), []).append(number)
        elif server is not None:
            self._servers.add(number, server)
        elif kind == "glob":
            self._globs.add(number, ascii_lower(entry.pattern))

    def remove(self, pattern: str) -> tuple[int, Entry] | None:
        """Unfile the entry with exactly this pattern; return its number and the entry."""
        number = self._numbers.pop(pattern, None)
        if number is None:
            return None
        entry = self.entry(number)
        self._entries[number] = None
        server = server_pattern(entry)
        if entry.kind == "hash":
            key = hash_key(pattern)
            numbers = self._hashes.get(key, [])
            numbers.remove(number)
            if not numbers:
                del self._hashes[key]
        elif server is not None:
            self._servers.discard(number, server)
        elif entry.kind == "glob":
            self._globs.discard(number, ascii_lower(pattern))
        return number, entry

    def find(self, probe: Probe) -> list[tuple[int, Rule]]:
        """Return ``(number, rule)`` for every entry that covers ``probe`` without folding."""
        found: list[tuple[int, Rule]] = []
        number = self._numbers.get(probe.text)
        if number is not None and self.entry(number).kind == "user":
            found.append((number, "exact"))
        if self._hashes:
            found.extend((number, "exact") for number in self._hashes.get(id_hash(probe.text), ()))
        found.extend((number, "server") for number in self._servers.find(probe.server, probe.host))
        found.extend((number, "glob") for number in self._globs.find(probe.lowered))
        return found
