"""Say in a moderator's words what was done to a request's name to make it meet an entry's.

Both names are folded (:mod:`.fold`); the letters of their keys are lined up (one to one when
the keys are equal, along the equal stretches of an edit alignment otherwise), and each pair of
written chunks behind a key letter is compared: ``0`` against ``o`` gives ``0->o``, a Cyrillic
``о`` against ``o`` a look-alike note, ``lll`` against ``ll`` a collapsed repeat. Notes are in
the order found, each once. The internal key spelling is never quoted, only written text and
the plain letters a character reads as.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Sequence

from rapidfuzz.distance import Levenshtein

from .fold import Folded, reads_as

__all__ = ["describe", "show"]

_SHOW_LIMIT = 40
_PAIRS = (("rn", "m"), ("vv", "w"))


def describe(request: Folded, entry: Folded) -> tuple[str, ...]:
    """List the transforms that make ``request`` meet ``entry`` (both folded the same way)."""
    notes: list[str] = []
    for hidden in request.invisible:
        accent = unicodedata.category(hidden) in ("Mn", "Me")
        notes.append("removed accents" if accent else "removed invisible characters")
    if request.key == entry.key:
        if request.chunks != entry.chunks:
            notes.extend(_pair_notes(request.chunks, entry.chunks))
    else:
        notes.extend(_edit_notes(request, entry))
    notes.extend(_separator_notes(request, entry))
    notes.extend(_affix_notes(request, entry))
    return tuple(dict.fromkeys(notes))


def show(text: str) -> str:
    """Quote-ready ``text``: shortened, control and invisible characters spelled as escapes."""
    shown = "".join(
        char if char.isprintable() else ascii(char)[1:-1] for char in text[: _SHOW_LIMIT + 1]
    )
    return shown[:_SHOW_LIMIT] + "…" if len(shown) > _SHOW_LIMIT else shown


def _pair_notes(ours: Sequence[str], theirs: Sequence[str]) -> Iterator[str]:
    """Describe each written chunk of the request against the entry's chunk for the same letter."""
    for mine, other in zip(ours, theirs, strict=True):
        if mine != other:
            yield from _chunk_notes(mine, other)


def _edit_notes(request: Folded, entry: Folded) -> Iterator[str]:
    """Line the two keys up by their edits: describe the shared letters, then name each edit."""
    edits: list[str] = []
    for op in Levenshtein.opcodes(request.key, entry.key):
        ours = request.chunks[op.src_start : op.src_end]
        theirs = entry.chunks[op.dest_start : op.dest_end]
        if op.tag == "equal":
            yield from _pair_notes(ours, theirs)
        elif op.tag == "delete":
            edits.append(f'extra "{show("".join(ours))}"')
        elif op.tag == "insert":
            edits.append(f'missing "{show("".join(theirs))}"')
        else:
            edits.append(f'"{show("".join(ours))}" instead of "{show("".join(theirs))}"')
    yield from edits


@functools.lru_cache(maxsize=4096)
def _chunk_notes(ours: str, theirs: str) -> tuple[str, ...]:
    """Describe how the request's chunk ``ours`` met the entry's ``theirs`` (one key letter)."""
    notes = [note for char in dict.fromkeys(ours) for note in _char_notes(char)]
    read_ours = "".join(reads_as(char) for char in ours)
    read_theirs = "".join(reads_as(char) for char in theirs)
    for pair, letter in _PAIRS:
        if pair in read_ours and pair not in read_theirs:
            notes.append(f'look-alike "{pair}" -> "{letter}"')
            read_ours = read_ours.replace(pair, letter)
        elif pair in read_theirs and pair not in read_ours:
            notes.append(f'read the entry\'s "{pair}" as "{letter}"')
            read_theirs = read_theirs.replace(pair, letter)
    extra_ours = [char for char in dict.fromkeys(read_ours) if char not in read_theirs]
    extra_theirs = [char for char in dict.fromkeys(read_theirs) if char not in read_ours]
    target = next((char for char in read_theirs if char not in extra_theirs), read_theirs[:1])
    entry_in_leet = not any(char.isalpha() for char in extra_theirs)
    if extra_theirs and (not extra_ours or (entry_in_leet and all(map(str.isalpha, extra_ours)))):
        # The entry is the one in leet ("tr00ll"): the request's plain letter was not changed.
        source = show(read_ours[:1])
        notes.extend(f'read the entry\'s "{show(char)}" as "{source}"' for char in extra_theirs)
    else:
        notes.extend(f"{show(char)}->{show(target or char)}" for char in extra_ours)
    if len(read_ours) > max(1, len(read_theirs)):
        notes.append(f'collapsed repeated "{show(ours)}"')
    elif len(read_theirs) > max(1, len(read_ours)):
        notes.append(f'collapsed the entry\'s repeated "{show(theirs)}"')
    return tuple(notes)


@functools.lru_cache(maxsize=4096)
def _char_notes(char: str) -> tuple[str, ...]:
    """Describe how one written character became the plain letters it reads as."""
    if char.isascii():
        return ("lower-cased",) if "A" <= char <= "Z" else ()
    read = reads_as(char)
    plain = unicodedata.normalize("NFKC", char)
    notes: list[str] = []
    if plain != char:
        if unicodedata.name(char, "").startswith(("FULLWIDTH", "HALFWIDTH")):
            notes.append("full-width letters -> ASCII")
        else:
            notes.append(f'styled "{show(char)}" -> "{show(read)}"')
        if plain.isascii() and plain != plain.lower():
            notes.append("lower-cased")
        return tuple(notes)
    bare = "".join(
        mark
        for mark in unicodedata.normalize("NFD", char.casefold())
        if unicodedata.category(mark) not in ("Mn", "Me")
    )
    if bare == read:
        return (f'removed accent "{show(char)}" -> "{show(read)}"',)
    script = unicodedata.name(char, "").split(" ")[0].title() or "Unicode"
    return (f'look-alike "{show(char)}" ({script}) -> "{show(read)}"',)


def _separator_notes(request: Folded, entry: Folded) -> list[str]:
    """Say which separators were dropped when the two names place them differently.

    When the keys differ the letters are not lined up one to one, so only the separators
    themselves are compared, not where they stand.
    """
    ours, theirs = request.separators, entry.separators
    if request.key != entry.key:
        ours = tuple((0, char) for _, char in ours)
        theirs = tuple((0, char) for _, char in theirs)
    if ours == theirs:
        return []
    if ours:
        return [f'removed separators "{show("".join(dict.fromkeys(c for _, c in ours)))}"']
    dropped = show("".join(dict.fromkeys(c for _, c in theirs)))
    return [f'ignored the entry\'s separators "{dropped}"']


def _affix_notes(request: Folded, entry: Folded) -> list[str]:
    """Say which numeric prefix and suffix were cut from either name to compare the rest."""
    notes: list[str] = []
    for label, ours, theirs in (
        ("prefix", request.prefix, entry.prefix),
        ("suffix", request.suffix, entry.suffix),
    ):
        if ours == theirs:
            continue
        if ours:
            notes.append(f'removed {label} "{show(ours)}"')
        if theirs:
            notes.append(f'ignored the entry\'s {label} "{show(theirs)}"')
    return notes
