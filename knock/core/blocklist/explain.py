"""Say in a moderator's words what was done to a request's name to make it meet an entry's.

Both names are folded (:mod:`.fold`); the letters of their keys are lined up (one to one when
the keys are equal, along the equal stretches of an edit alignment otherwise), and each pair of
written chunks behind a key letter is compared: ``0`` against ``o`` gives ``0->o``, a Cyrillic
``о`` against ``o`` a look-alike note, ``lll`` against ``ll`` a collapsed repeat. Notes are in
the order found, each once. The internal key spelling is never quoted, only written text and
the plain letters a character reads as.

Each note is a :class:`.model.Transform`: what was done (its ``kind``) and the moderator's
wording (its ``text``); what a note means is read from its kind, never from its wording. Some
kinds are lossy folds (:attr:`.model.TransformKind.lossy`): a collapsed repeat, letter "i" read
as "l", "rn" read as "m" (or "vv" as "w"), letters joined across a separator. They are given
exactly where the two chunks' light readings (``Folded.lights``) differ, which is where the
index asks review instead of block; the lossless ones (case, width, look-alikes, leet digits,
separators) never decide anything.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Sequence

from rapidfuzz.distance import Levenshtein

from .fold import BOUNDARY, JOIN, Folded, light_alike, reads_as
from .model import Transform, TransformKind

__all__ = ["describe", "show"]

_SHOW_LIMIT = 40
_PAIRS = (("rn", "m"), ("vv", "w"))
_MERGED = frozenset("il")  # the two letters of one leet class
_ACCENTS = Transform(TransformKind.ACCENT, "removed accents")
_INVISIBLE = Transform(TransformKind.INVISIBLE, "removed invisible characters")
_LOWER_CASED = Transform(TransformKind.LOWER_CASED, "lower-cased")
_FULL_WIDTH = Transform(TransformKind.FULL_WIDTH, "full-width letters -> ASCII")


def describe(request: Folded, entry: Folded) -> tuple[Transform, ...]:
    """List the transforms that make ``request`` meet ``entry`` (both folded the same way).

    In the order found, each once (two notes of the same wording are one).
    """
    notes: list[Transform] = []
    for hidden in request.invisible:
        accent = unicodedata.category(hidden) in ("Mn", "Me")
        notes.append(_ACCENTS if accent else _INVISIBLE)
    if request.key == entry.key:
        if request.chunks != entry.chunks or request.lights != entry.lights:
            size = len(request.key)
            notes.extend(_pair_notes(request, entry, range(size), range(size)))
    else:
        notes.extend(_edit_notes(request, entry))
    notes.extend(_separator_notes(request, entry))
    notes.extend(_affix_notes(request, entry))
    once: dict[str, Transform] = {}
    for note in notes:
        once.setdefault(note.text, note)
    return tuple(once.values())


def show(text: str) -> str:
    """Quote-ready ``text``: shortened, control and invisible characters spelled as escapes."""
    shown = "".join(
        char if char.isprintable() else ascii(char)[1:-1] for char in text[: _SHOW_LIMIT + 1]
    )
    return shown[:_SHOW_LIMIT] + "…" if len(shown) > _SHOW_LIMIT else shown


def _pair_notes(request: Folded, entry: Folded, ours: range, theirs: range) -> Iterator[Transform]:
    """Describe the request's key letters ``ours`` against the entry's ``theirs``, one by one."""
    joins_ours = _joins(request) if request.joins else {}
    joins_theirs = _joins(entry) if entry.joins else {}
    for mine, other, chunk_ours, chunk_theirs, light_ours, light_theirs in zip(
        ours,
        theirs,
        request.chunks[ours.start : ours.stop],
        entry.chunks[theirs.start : theirs.stop],
        request.lights[ours.start : ours.stop],
        entry.lights[theirs.start : theirs.stop],
        strict=True,
    ):
        if chunk_ours != chunk_theirs or light_ours != light_theirs:
            yield from _chunk_notes(
                chunk_ours,
                chunk_theirs,
                light_ours,
                light_theirs,
                joins_ours.get(mine, ()),
                joins_theirs.get(other, ()),
            )


def _joins(folded: Folded) -> dict[int, tuple[str, ...]]:
    """The written text of each join of alike letters across a separator, by key letter."""
    joins: dict[int, tuple[str, ...]] = {}
    for index, written in folded.joins:
        joins[index] = (*joins.get(index, ()), written)
    return joins


def _edit_notes(request: Folded, entry: Folded) -> Iterator[Transform]:
    """Line the two keys up by their edits: describe the shared letters, then name each edit."""
    edits: list[Transform] = []
    for op in Levenshtein.opcodes(request.key, entry.key):
        ours = request.chunks[op.src_start : op.src_end]
        theirs = entry.chunks[op.dest_start : op.dest_end]
        if op.tag == "equal":
            yield from _pair_notes(
                request, entry, range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)
            )
        elif op.tag == "delete":
            edits.append(Transform(TransformKind.EXTRA, f'extra "{show("".join(ours))}"'))
        elif op.tag == "insert":
            edits.append(Transform(TransformKind.MISSING, f'missing "{show("".join(theirs))}"'))
        else:
            text = f'"{show("".join(ours))}" instead of "{show("".join(theirs))}"'
            edits.append(Transform(TransformKind.SUBSTITUTED, text))
    yield from edits


@functools.lru_cache(maxsize=4096)
def _chunk_notes(
    ours: str,
    theirs: str,
    light_ours: str,
    light_theirs: str,
    joins_ours: tuple[str, ...],
    joins_theirs: tuple[str, ...],
) -> tuple[Transform, ...]:
    """Describe how the request's chunk ``ours`` met the entry's ``theirs`` (one key letter).

    ``light_*`` are the chunks' light readings and ``joins_*`` the written text of each join
    in them (see :class:`.fold.Folded`). Lossy folds are named only when the light readings
    differ: then at least one is.
    """
    # Boundaries stand where the keys do (between two equal key letters): never a difference.
    light_ours, light_theirs = light_ours.replace(BOUNDARY, ""), light_theirs.replace(BOUNDARY, "")
    lossless = light_alike(light_ours, light_theirs)
    # Written alike, only a join can tell them apart; otherwise say how each character reads.
    notes: list[Transform] = []
    if ours != theirs:
        notes.extend(note for char in dict.fromkeys(ours) for note in _char_notes(char))
    read_ours = "".join(reads_as(char) for char in ours)
    read_theirs = "".join(reads_as(char) for char in theirs)
    plain_ours, plain_theirs = light_ours.replace(JOIN, ""), light_theirs.replace(JOIN, "")
    for pair, letter in _PAIRS:
        if pair in read_ours and pair not in read_theirs:
            notes.append(
                Transform(TransformKind.LOOK_ALIKE_PAIR, f'look-alike "{pair}" -> "{letter}"')
            )
            read_ours = read_ours.replace(pair, letter)
            plain_ours = plain_ours.replace(pair, letter)
        elif pair in read_theirs and pair not in read_ours:
            text = f'read the entry\'s "{pair}" as "{letter}"'
            notes.append(Transform(TransformKind.LOOK_ALIKE_PAIR, text))
            read_theirs = read_theirs.replace(pair, letter)
            plain_theirs = plain_theirs.replace(pair, letter)
    extra_ours = [char for char in dict.fromkeys(read_ours) if char not in read_theirs]
    extra_theirs = [char for char in dict.fromkeys(read_theirs) if char not in read_ours]
    target = next((char for char in read_theirs if char not in extra_theirs), read_theirs[:1])
    entry_in_leet = not any(char.isalpha() for char in extra_theirs)
    # Letter for letter ("i" for "l") is not leet but a lossy merge, named below.
    if extra_theirs and (not extra_ours or (entry_in_leet and all(map(str.isalpha, extra_ours)))):
        # The entry is the one in leet ("tr00ll"): the request's plain letter was not changed.
        source = read_ours[:1]
        notes.extend(
            Transform(TransformKind.LEET, f'read the entry\'s "{show(char)}" as "{show(source)}"')
            for char in extra_theirs
            if not _letter_for_letter(char, source)
        )
    else:
        notes.extend(
            Transform(TransformKind.LEET, f"{show(char)}->{show(target or char)}")
            for char in extra_ours
            if not _letter_for_letter(char, target)
        )
    if lossless:
        return tuple(notes)
    notes.extend(_merge_notes(plain_ours, plain_theirs))
    if len(plain_ours) > len(plain_theirs):
        text = f'collapsed repeated "{show(ours)}"'
        notes.append(Transform(TransformKind.COLLAPSED_REPEAT, text))
    elif len(plain_theirs) > len(plain_ours):
        text = f'collapsed the entry\'s repeated "{show(theirs)}"'
        notes.append(Transform(TransformKind.COLLAPSED_REPEAT, text))
    if light_alike(plain_ours, plain_theirs):
        notes.extend(_join_notes(light_ours, light_theirs, joins_ours, joins_theirs))
    # A lossy fold is never left unnamed (rare: "vvvv" for "wwvv", both holding the pair).
    if not any(note.lossy for note in notes):
        notes.append(Transform(TransformKind.TOOK, f'took "{show(ours)}" for "{show(theirs)}"'))
    return tuple(notes)


def _letter_for_letter(char: str, letter: str) -> bool:
    """Tell whether reading ``char`` as ``letter`` takes one letter for another ("i" for "l")."""
    return char != letter and char in _MERGED and letter in _MERGED


def _merge_notes(ours: str, theirs: str) -> list[Transform]:
    """Name the letters "i" and "l" taken for each other between two light readings."""
    mine, other = set(ours) & _MERGED, set(theirs) & _MERGED
    if not mine or not other:
        return []
    text = ""
    if mine - other:
        letter = min(mine - other)
        text = f'read letter "{letter}" as "{min(other - {letter})}"'
    elif other - mine:
        letter = min(other - mine)
        text = f'read the entry\'s letter "{letter}" as "{min(mine - {letter})}"'
    else:
        for char, read in zip(ours, theirs, strict=False):  # lengths differ when collapsed
            if _letter_for_letter(char, read):
                text = f'read letter "{char}" as "{read}"'
                break
    return [Transform(TransformKind.MERGED_LETTERS, text)] if text else []


def _join_notes(
    ours: str, theirs: str, joins_ours: Sequence[str], joins_theirs: Sequence[str]
) -> list[Transform]:
    """Name the joins of alike letters across a separator that one side has and not the other."""
    at_ours, at_theirs = _join_places(ours), _join_places(theirs)
    texts = [
        f'joined repeated letters "{show(written)}"'
        for place, written in zip(at_ours, joins_ours, strict=True)
        if place not in at_theirs
    ]
    texts.extend(
        f'joined the entry\'s repeated letters "{show(written)}"'
        for place, written in zip(at_theirs, joins_theirs, strict=True)
        if place not in at_ours
    )
    return [Transform(TransformKind.JOINED_ACROSS_SEPARATOR, text) for text in texts]


def _join_places(light: str) -> list[int]:
    """Where each join in a light reading stands: how many letters come before it."""
    places: list[int] = []
    for index, char in enumerate(light):
        if char == JOIN:
            places.append(index - len(places))
    return places


@functools.lru_cache(maxsize=4096)
def _char_notes(char: str) -> tuple[Transform, ...]:
    """Describe how one written character became the plain letters it reads as."""
    if char.isascii():
        return (_LOWER_CASED,) if "A" <= char <= "Z" else ()
    read = reads_as(char)
    plain = unicodedata.normalize("NFKC", char)
    notes: list[Transform] = []
    if plain != char:
        if unicodedata.name(char, "").startswith(("FULLWIDTH", "HALFWIDTH")):
            notes.append(_FULL_WIDTH)
        else:
            notes.append(
                Transform(TransformKind.STYLED, f'styled "{show(char)}" -> "{show(read)}"')
            )
        if plain.isascii() and plain != plain.lower():
            notes.append(_LOWER_CASED)
        return tuple(notes)
    bare = "".join(
        mark
        for mark in unicodedata.normalize("NFD", char.casefold())
        if unicodedata.category(mark) not in ("Mn", "Me")
    )
    if bare == read:
        return (
            Transform(TransformKind.ACCENT, f'removed accent "{show(char)}" -> "{show(read)}"'),
        )
    script = unicodedata.name(char, "").split(" ")[0].title() or "Unicode"
    text = f'look-alike "{show(char)}" ({script}) -> "{show(read)}"'
    return (Transform(TransformKind.LOOK_ALIKE, text),)


def _separator_notes(request: Folded, entry: Folded) -> list[Transform]:
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
        removed = show("".join(dict.fromkeys(c for _, c in ours)))
        return [Transform(TransformKind.SEPARATORS, f'removed separators "{removed}"')]
    dropped = show("".join(dict.fromkeys(c for _, c in theirs)))
    return [Transform(TransformKind.SEPARATORS, f'ignored the entry\'s separators "{dropped}"')]


def _affix_notes(request: Folded, entry: Folded) -> list[Transform]:
    """Say which numeric prefix and suffix were cut from either name to compare the rest."""
    notes: list[Transform] = []
    for kind, label, ours, theirs in (
        (TransformKind.PREFIX, "prefix", request.prefix, entry.prefix),
        (TransformKind.SUFFIX, "suffix", request.suffix, entry.suffix),
    ):
        if ours == theirs:
            continue
        if ours:
            notes.append(Transform(kind, f'removed {label} "{show(ours)}"'))
        if theirs:
            notes.append(Transform(kind, f'ignored the entry\'s {label} "{show(theirs)}"'))
    return notes
