"""Entries that match without folding: exact user ids, MSC4205 hashes, servers and globs.

:class:`StrongSet` holds one side of the index (block entries or allow entries) and finds,
for an id, every entry that covers it this way; :func:`strong_rule` says the same for a
single entry, so ``BlockIndex.covers`` and ``BlockIndex.check`` agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .ids import Probe, ascii_lower, hash_key, id_hash, probe
from .model import Entry, Kind, Rule, kind_of
from .patterns import GlobSet, ServerSet, glob_covers, server_covers, server_part

__all__ = [
    "UNRELATED_IDS",
    "Keys",
    "NewEntry",
    "StrongSet",
    "covers_anyone",
    "new_entry",
    "server_pattern",
    "strong_rule",
]

# A localpart's normalised key and fuzzy key (fold.keys).
Keys = tuple[str, str]

# Two ids with arbitrary one-letter names on unrelated servers. An entry that covers both would
# cover an arbitrary id on any server (``*``, ``@*:*``, ``@*:*.org``, ``@?:*``): a catch-all,
# which must name a server instead (``@spam*:*`` and ``@*:evil.example`` do not cover both).
UNRELATED_IDS = ("@a:example.org", "@b:matrix.org")


# An entry as a load files it (see BlockIndex.add_new): pattern, source, reason, allow, hashed,
# held, its kind, and its localpart's keys as stored (None: fold them).
NewEntry = tuple[str, str, str | None, bool, bool, bool, Kind, Keys | None]

_ALLOW, _HASHED, _HELD = 1, 2, 4


def _flags(allow: bool, hashed: bool, held: bool) -> int:
    return (_ALLOW if allow else 0) | (_HASHED if hashed else 0) | (_HELD if held else 0)


def new_entry(entry: Entry, keys: Keys | None = None) -> NewEntry:
    """``entry`` as :meth:`StrongSet.add_new` and ``BlockIndex.add_new`` take it."""
    return (
        entry.pattern,
        entry.source,
        entry.reason,
        entry.allow,
        entry.hashed,
        entry.held,
        entry.kind,
        keys,
    )


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
        # Each entry's fields by number, in columns: a million Entry objects were some 80 MB
        # and a second of a load, and every one was an object for the collector to walk.
        self._patterns: list[str | None] = []  # None: removed
        self._sources: list[str] = []
        self._reasons: list[str | None] = []
        self._flags = bytearray()  # _ALLOW | _HASHED | _HELD
        self._numbers: dict[str, int] = {}
        self._hashes: dict[str, list[int]] = {}
        self._servers = ServerSet()
        self._globs = GlobSet()

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[Entry]:
        return (
            self.entry(number)
            for number, pattern in enumerate(self._patterns)
            if pattern is not None
        )

    def entry(self, number: int) -> Entry:
        """Return the live entry filed as ``number``."""
        pattern = self._patterns[number]
        assert pattern is not None, "entry numbers come from lookups of live entries"
        flags = self._flags[number]
        return Entry(
            pattern,
            self._sources[number],
            self._reasons[number],
            bool(flags & _ALLOW),
            bool(flags & _HASHED),
            bool(flags & _HELD),
        )

    def get(self, pattern: str) -> Entry | None:
        """The entry filed with exactly this pattern, if any."""
        number = self._numbers.get(pattern)
        return None if number is None else self.entry(number)

    def add(self, entry: Entry) -> int:
        """File ``entry`` (its pattern must not be filed) and return its number."""
        number = len(self._patterns)
        self._patterns.append(entry.pattern)
        self._sources.append(entry.source)
        self._reasons.append(entry.reason)
        self._flags.append(_flags(entry.allow, entry.hashed, entry.held))
        self._numbers[entry.pattern] = number
        self._file(number, entry, entry.kind)
        return number

    def add_new(self, entries: Sequence[NewEntry]) -> int:
        """:meth:`add` for each of ``entries``, in one pass: a load. Their patterns must not be
        filed, nor repeated among them. Return the first one's number; the others follow it."""
        first = len(self._patterns)
        filed = len(self._numbers)
        patterns = [entry[0] for entry in entries]
        self._patterns.extend(patterns)
        self._sources.extend([entry[1] for entry in entries])
        self._reasons.extend([entry[2] for entry in entries])
        self._flags.extend([_flags(*entry[3:6]) for entry in entries])
        numbers = range(first, first + len(entries))
        self._numbers.update(zip(patterns, numbers, strict=True))
        if len(self._numbers) != filed + len(entries):
            raise ValueError("a pattern given twice, or filed already")
        for number, entry in zip(numbers, entries, strict=True):
            if entry[6] != "user":
                self._file(number, self.entry(number), entry[6])
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
        self._patterns[number] = self._reasons[number] = None
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
        if (
            number is not None
            and kind_of(probe.text, bool(self._flags[number] & _HASHED)) == "user"
        ):
            found.append((number, "exact"))
        if self._hashes:
            found.extend((number, "exact") for number in self._hashes.get(id_hash(probe.text), ()))
        found.extend((number, "server") for number in self._servers.find(probe.server, probe.host))
        found.extend((number, "glob") for number in self._globs.find(probe.lowered))
        return found
