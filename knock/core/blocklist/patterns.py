"""Globs and server entries, each compiled once and found without trying them one by one.

Matrix policy-list globs use ``*`` (any run of characters) and ``?`` (one character), compared
with ASCII case ignored. Server-wide entries (``evil.example``, ``*.evil.example`` and the
user globs ``@*:evil.example``, ``@*:*.evil.example``) go in :class:`ServerSet`: a dict of exact
names and a dict of suffixes walked label by label, so a check costs a few lookups however
many servers are blocked; the port of the id is ignored unless the entry names one. Other
server globs (``evil*.example``) are kept in a short list. The remaining user globs go in
:class:`GlobSet`, bucketed by their literal prefix (``@spam`` for ``@spam*:*``): a check looks
up each prefix length in use, and a bucket of more than a few globs is first tried as one
combined regex. :func:`server_covers` and :func:`glob_covers` say the same for one entry.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections import Counter
from typing import Literal

__all__ = [
    "GlobSet",
    "ServerSet",
    "glob_covers",
    "server_covers",
    "server_part",
    "server_shape",
]

Shape = Literal["exact", "suffix", "glob"]
# A bucket with more globs than this is tried as one regex before trying each.
_COMBINE_FROM = 4


def server_part(pattern: str) -> str | None:
    """Return the server pattern of a server-wide user glob (``@*:evil.example``), else None."""
    if pattern.startswith("@*:") and len(pattern) > 3:
        return pattern[3:]
    return None


def server_shape(pattern: str) -> tuple[Shape, str]:
    """Classify a lower-cased server pattern: an exact name, ``*.suffix``, or another glob."""
    if not _is_glob(pattern):
        return "exact", pattern
    if pattern.startswith("*.") and len(pattern) > 2 and not _is_glob(pattern[2:]):
        return "suffix", pattern[2:]
    return "glob", pattern


def server_covers(pattern: str, server: str | None, host: str | None) -> bool:
    """Tell whether a lower-cased server pattern covers ``server`` (or its ``host``)."""
    if server is None or host is None or not pattern:
        return False
    shape, text = server_shape(pattern)
    if shape == "exact":
        return text in (server, host)
    if shape == "suffix":
        return host.endswith("." + text)
    regex = compile_glob(text)
    return regex.fullmatch(server) is not None or regex.fullmatch(host) is not None


def glob_covers(pattern: str, lowered: str) -> bool:
    """Tell whether a lower-cased glob covers the lower-cased text ``lowered``."""
    return compile_glob(pattern).fullmatch(lowered) is not None


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a Matrix glob; ``[`` is literal, and backtracking is bounded (atomic groups)."""
    return re.compile(fnmatch.translate(pattern.replace("[", "[[]")))


def _is_glob(text: str) -> bool:
    """Tell whether ``text`` has a wildcard."""
    return "*" in text or "?" in text


def _prefix(pattern: str) -> str:
    """The literal text a glob starts with, up to its first wildcard."""
    cut = min((pattern.find(char) for char in "*?" if char in pattern), default=len(pattern))
    return pattern[:cut]


class ServerSet:
    """Server patterns by shape: exact names and suffixes in dicts, other globs in a list."""

    def __init__(self) -> None:
        self._exact: dict[str, list[int]] = {}
        self._suffix: dict[str, list[int]] = {}
        self._globs: dict[int, str] = {}

    def add(self, item: int, pattern: str) -> None:
        """Index ``item`` under a lower-cased server pattern (an empty one covers nothing)."""
        if not pattern:
            return
        shape, text = server_shape(pattern)
        if shape == "glob":
            self._globs[item] = text
        else:
            table = self._exact if shape == "exact" else self._suffix
            table.setdefault(text, []).append(item)

    def discard(self, item: int, pattern: str) -> None:
        """Forget ``item`` under ``pattern``."""
        shape, text = server_shape(pattern)
        if shape == "glob":
            self._globs.pop(item, None)
            return
        table = self._exact if shape == "exact" else self._suffix
        items = table.get(text, [])
        if item in items:
            items.remove(item)
        if not items:
            table.pop(text, None)

    def find(self, server: str | None, host: str | None) -> list[int]:
        """Return the items whose pattern covers ``server``."""
        if server is None or host is None:
            return []
        found = [
            *self._exact.get(server, ()),
            *(self._exact.get(host, ()) if host != server else ()),
        ]
        labels = host.split(".")
        for start in range(1, len(labels)):
            found.extend(self._suffix.get(".".join(labels[start:]), ()))
        found.extend(
            item for item, text in self._globs.items() if server_covers(text, server, host)
        )
        return found


class GlobSet:
    """User globs bucketed by literal prefix, each bucket searchable as one combined regex."""

    def __init__(self) -> None:
        self._buckets: dict[str, dict[int, str]] = {}
        self._lengths: Counter[int] = Counter()
        self._combined: dict[str, re.Pattern[str]] = {}

    def add(self, item: int, pattern: str) -> None:
        """Index ``item`` under a lower-cased glob."""
        prefix = _prefix(pattern)
        self._buckets.setdefault(prefix, {})[item] = pattern
        self._lengths[len(prefix)] += 1
        self._combined.pop(prefix, None)

    def discard(self, item: int, pattern: str) -> None:
        """Forget ``item`` under ``pattern``."""
        prefix = _prefix(pattern)
        bucket = self._buckets.get(prefix, {})
        if bucket.pop(item, None) is None:
            return
        self._lengths[len(prefix)] -= 1
        if not self._lengths[len(prefix)]:
            del self._lengths[len(prefix)]
        if not bucket:
            del self._buckets[prefix]
        self._combined.pop(prefix, None)

    def find(self, lowered: str) -> list[int]:
        """Return the items whose glob covers the lower-cased text ``lowered``."""
        found: list[int] = []
        for length in self._lengths:
            prefix = lowered[:length]
            bucket = self._buckets.get(prefix) if len(prefix) == length else None
            if not bucket:
                continue
            if len(bucket) > _COMBINE_FROM and not self._any(prefix, bucket).fullmatch(lowered):
                continue
            found.extend(item for item, glob in bucket.items() if glob_covers(glob, lowered))
        return found

    def _any(self, prefix: str, bucket: dict[int, str]) -> re.Pattern[str]:
        """Return (compiling once) a regex matching whatever any glob of the bucket matches."""
        combined = self._combined.get(prefix)
        if combined is None:
            alternatives = (compile_glob(glob).pattern for glob in bucket.values())
            combined = self._combined[prefix] = re.compile("|".join(alternatives))
        return combined
