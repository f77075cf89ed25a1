"""Fold a name to the keys the block-list compares, remembering where each key letter came from.

Entries and requests are folded alike, so a disguise meets the name it hides:

1. Each character becomes the letters it reads as (:func:`reads_as`): NFKC (full-width and
   styled letters become plain ones), case folding, then for non-ASCII characters only the TR39
   confusable skeleton (ICU's SpoofChecker: Cyrillic "о" and Greek "ο" become "o"), lower case
   again, combining marks dropped ("ö" reads "o") and Latin small capitals read as their letter.
   ASCII skips the skeleton on purpose: it turns "m" into "rn", "0" into "O" and "1" into "l",
   which would tangle with the leet classes; the leet table below covers ASCII instead.
2. Separators (``._-=/+``, spaces, dashes, connector punctuation) and invisible characters
   (controls, format characters, lone combining marks) are removed.
3. A numeric prefix or suffix, with the separators around it, is found when at least three
   characters stay (``troll_99``, ``2008_troll``; ``b0b`` and ``1337`` have none). The fuzzy
   key leaves it out; the normalised key folds it on its own, so that its digits never merge
   into the name (``trollking_99`` would otherwise collapse into ``trollking``, 9 reading g).
4. Leet classes fold to one letter: {0 o} {1 i l | !} {3 e} {4 @ a} {5 $ s} {7 t} {8 b} {9 g}.
5. The multi-letter look-alikes "rn" -> "m" and "vv" -> "w", left to right.
6. Runs of one letter collapse: ``trolll``, ``troll`` and ``trol`` fold alike.

Leet folding comes after the numeric affix is found (so ``troll99`` is ``troll`` plus digits)
and before collapsing (so ``tro1l`` meets ``troll``). The keys themselves are an internal
spelling ("troll" folds to "troi") and are never shown; :class:`Folded` keeps, for each key
letter, the text it came from, so an explanation can quote what was actually written.

Some of these folds are lossy: they merge names that are different people's. Step 4 reads the
letter "l" as "i" (``alani`` and ``ailani``), step 5 reads "rn" as "m" (``arnie`` and
``amie``), step 6 collapses repeats (``gabriella`` and ``gabriela``), and step 2 followed by
step 6 joins letters across a separator (``christopher_r`` and ``christopher``). So there is a
second, *light* key (:func:`light_key`) made of the lossless folds only: step 1, separators
and invisible characters removed, and leet characters that are not letters read as their
letter (``0`` o, ``3`` e, ``4 @`` a, ``5 $`` s, ``7`` t, ``8`` b, ``9`` g), with ``1 | !`` kept
as one character ("1") that may stand for "i" or "l" (:func:`alike`). It keeps "l" and "i"
apart, does not join look-alike pairs, does not collapse repeats, and where removing
separators would put two alike letters side by side it leaves a mark (:data:`JOIN`) instead
(``christopher_r`` is ``christopher.r``); where a numeric affix, folded on its own, meets the
name on the same key letter, another (:data:`BOUNDARY`: ``greg99`` is ``greg|gg``). Two names
with the same normalised key met losslessly when their light keys are alike letter for letter
(:func:`light_alike`); :attr:`Folded.lights` spells the same light key out per key letter, for
the explanation. The light key is not indexed: it is made for a request and for the few
entries found under its normalised key, when the verdict depends on it.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import icu  # type: ignore[import-untyped]

__all__ = [
    "BOUNDARY",
    "EITHER",
    "FOLD_VERSION",
    "JOIN",
    "SEPARATORS",
    "Folded",
    "alike",
    "fold",
    "keys",
    "light_alike",
    "light_key",
    "reads_as",
]

SEPARATORS = "._-=/+"
# The folding's version. Each stored user entry keeps its keys (:func:`keys` of its localpart)
# with the version that made them, and a load folds again only entries stored with another:
# a change to what keys() returns must come with a new version (a test pins the keys of a set
# of names to this number).
FOLD_VERSION = 1
# Fewer characters than this left after cutting a numeric affix means the digits are the name.
MIN_REST = 3
_SPACE_AND_SEPARATORS = frozenset(SEPARATORS + " ")
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd", "Pc"})
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Mn", "Me"})
_LEET = {
    "0": "o",
    "1": "i",
    "l": "i",
    "|": "i",
    "!": "i",
    "3": "e",
    "4": "a",
    "@": "a",
    "5": "s",
    "$": "s",
    "7": "t",
    "8": "b",
    "9": "g",
}
_PAIRS = {"rn": "m", "vv": "w"}
_PAIR_STARTS = frozenset(pair[0] for pair in _PAIRS)
# The light key (lossless folds only): leet characters that are not letters read as a letter,
# except those that may read "i" or "l", which become EITHER; and JOIN where removing separators
# put two alike letters side by side.
EITHER = "1"
JOIN = "."
# Where the normalised key puts two equal letters side by side, folded apart (a numeric affix
# folds on its own: "4aaaa" is "a" and "a"), the light key says so, so that it lines up with
# the key letter by letter.
BOUNDARY = "|"
_LIGHT = {char: letter for char, letter in _LEET.items() if not char.isalpha()} | dict.fromkeys(
    "1|!", EITHER
)
_EITHER_READS = frozenset("il" + EITHER)
# The key letter of a light letter, where they differ.
_LIGHT_KEY = {EITHER: "i", "l": "i"}
_MARKS = frozenset({"Mn", "Me"})
_SMALL_CAPITAL = re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])")
_EXTRA_LETTERS = {"ĸ": "k", "ı": "i", "ȷ": "j"}
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)
# A run's letter, as _REPEATS.sub's replacement: a C call, about three times cheaper than "\1".
_RUN_LETTER = operator.itemgetter(1)
_ASCII_CONTROLS = "".join(map(chr, range(0x20))) + "\x7f"
_ASCII_DROPPED = SEPARATORS + " " + _ASCII_CONTROLS
# One class letter per ASCII character: s(eparator), d(igit) or x (anything else).
_ASCII_CLASSES = str.maketrans(
    {chr(code): "s" if chr(code) in _ASCII_DROPPED else "x" for code in range(128)}
    | dict.fromkeys("0123456789", "d")
)
_ASCII_FOLD = str.maketrans(dict.fromkeys(_ASCII_DROPPED) | _LEET)
# Lower-cased ASCII to its light reading, every separator and control a space (split on).
_ASCII_LIGHT = str.maketrans(dict.fromkeys(_ASCII_DROPPED, " ") | _LIGHT)
# Lower-cased ASCII letter by letter: its key letter, its light letter (nothing dropped).
_ASCII_KEYED = str.maketrans(_LEET)
_ASCII_LIGHTS = str.maketrans(_LIGHT)
_GAPS = re.compile("s+")
_SKELETON = icu.SpoofChecker()


@dataclass(frozen=True, slots=True)
class Folded:
    """A name folded to one of its keys, with the written text behind each key letter."""

    key: str
    chunks: tuple[str, ...]
    # Each key letter's part of the light key (see light_key): its letters read losslessly,
    # with JOIN before a letter that a removed separator put next to an alike one.
    lights: tuple[str, ...]
    # Where a removed separator joined alike letters: (key letter, the written text, e.g. "l.l").
    joins: tuple[tuple[int, str], ...]
    # Separators removed from the part compared, as (non-separators before it, character).
    separators: tuple[tuple[int, str], ...]
    invisible: tuple[str, ...]
    prefix: str  # the numeric prefix cut, as written (fuzzy key only)
    suffix: str


def keys(text: str) -> tuple[str, str]:
    """Return ``text``'s normalised key and its fuzzy key (numeric prefix and suffix cut)."""
    if text.isascii():
        reads = text.lower()  # separators and controls are dropped by _finish
        start, end = _affix_bounds(reads.translate(_ASCII_CLASSES))
        prefix, middle, suffix = reads[:start], reads[start:end], reads[end:]
    else:
        infos = [_info(char) for char in text]
        start, end = _affix_bounds("".join(kind for _, kind in infos))
        # One read per character, separators blanked, so that slicing by character works.
        read = [letters if kind != "s" else "" for letters, kind in infos]
        prefix, middle, suffix = (
            "".join(read[:start]),
            "".join(read[start:end]),
            "".join(read[end:]),
        )
    fuzzy = _finish(middle)
    if not prefix and not suffix:
        return fuzzy, fuzzy
    return _finish(prefix) + fuzzy + _finish(suffix), fuzzy


@functools.lru_cache(maxsize=8192)
def light_key(text: str) -> str:
    """Return ``text``'s light key: the normalised key's lossless folds only (see above).

    The light readings of the normalised key's letters (:attr:`Folded.lights`) end to end, so
    that two names with the same normalised key have alike light keys exactly when each key
    letter met losslessly. Cached, as the same entries are met again and again; made without
    :func:`fold`, whose cached results are heavier.
    """
    if text.isascii():
        classes = text.translate(_ASCII_CLASSES)
        start, end = _affix_bounds(classes)
        if start == 0 and end == len(text):  # the common case: one part, split on separators
            parts = [part for part in text.lower().translate(_ASCII_LIGHT).split(" ") if part]
            if len(parts) <= 1:
                return parts[0] if parts else ""
            light = parts[0]
            for part in parts[1:]:
                light += JOIN + part if alike(light[-1], part[0]) else part
            return light
        reads: Sequence[str] = text.lower()
    else:
        reads, classes = _read(text)
        start, end = _affix_bounds(classes)
    out: list[str] = []
    separated = False
    section = 0  # 0 prefix, 1 name, 2 suffix: where the last letter stood
    for position, read in enumerate(reads):
        if classes[position] == "s":
            separated = separated or _separates(text[position], read)
            continue
        here = 0 if position < start else 1 if position < end else 2
        for letter in read:
            if letter in _SPACE_AND_SEPARATORS:
                separated = True
                continue
            letter = _LIGHT.get(letter, letter)
            if out:
                last = out[-1]
                if here != section and _LIGHT_KEY.get(last, last) == _LIGHT_KEY.get(letter, letter):
                    out.append(BOUNDARY)
                if separated and alike(last, letter):
                    out.append(JOIN)
            separated = False
            section = here
            out.append(letter)
    return "".join(out)


def alike(ours: str, theirs: str) -> bool:
    """Tell whether two letters of light keys may be the same letter ("1" may be "i" or "l")."""
    return ours == theirs or (
        EITHER in (ours, theirs) and ours in _EITHER_READS and theirs in _EITHER_READS
    )


def light_alike(ours: str, theirs: str) -> bool:
    """Tell whether two light keys (or parts of them) are alike letter for letter."""
    if ours == theirs:
        return True
    if len(ours) != len(theirs) or (EITHER not in ours and EITHER not in theirs):
        return False
    return all(map(alike, ours, theirs))


@functools.lru_cache(maxsize=4096)
def fold(text: str, *, fuzzy: bool = False) -> Folded:
    """Fold ``text`` to its normalised (or fuzzy) key, keeping where each letter came from.

    Slower than :func:`keys`; used to explain the few matches shown, and cached because the
    same entries are explained again and again.
    """
    if text.isascii():  # each character reads as itself, lower-cased, or (a control) nothing
        reads: Sequence[str] = text
        classes = text.translate(_ASCII_CLASSES)
        letters = _ascii_letters(text, classes)
    else:
        reads, classes = _read(text)
        letters = _letters(text, reads, classes)
    start, end = _affix_bounds(classes)
    positions = letters.positions
    key = ""
    chunks: tuple[str, ...] = ()
    lights: tuple[str, ...] = ()
    joins: tuple[tuple[int, str], ...] = ()
    # The normalised key folds prefix, name and suffix each on its own; the fuzzy key the name.
    parts = ((start, end),) if fuzzy else ((0, start), (start, end), (end, len(text)))
    for low, high in parts:
        first, last = bisect.bisect_left(positions, low), bisect.bisect_left(positions, high)
        if first == last:
            continue
        # A separator between the name and a cut prefix joins nothing in the fuzzy key.
        folded = _key(text, letters, first, last, join_first=not fuzzy)
        if folded.joins:
            joins += tuple((len(key) + index, written) for index, written in folded.joins)
        part_lights = folded.lights
        if key and folded.key and key[-1] == folded.key[0]:
            part_lights = (BOUNDARY + part_lights[0], *part_lights[1:])
        key += folded.key
        chunks += folded.chunks
        lights += part_lights
    if lights == chunks:
        # Plain lower-case letters read as written: share the tuple. Cached results live long
        # and every object they hold is one more for the garbage collector's young generation.
        lights = chunks
    if not fuzzy:
        start, end = 0, len(text)
    separators: list[tuple[int, str]] = []
    invisible: list[str] = []
    before = 0
    for position in range(start, end):
        if classes[position] != "s":
            before += 1
        elif reads[position] and reads[position] not in _ASCII_CONTROLS:
            separators.append((before, text[position]))
        else:
            invisible.append(text[position])
    return Folded(
        key=key,
        chunks=chunks,
        lights=lights,
        joins=joins,
        separators=tuple(separators),
        invisible=tuple(invisible),
        prefix=text[:start],
        suffix=text[end:],
    )


def _read(text: str) -> tuple[list[str], str]:
    """Read each character of non-ASCII ``text`` (:func:`reads_as`) and classify it."""
    infos = [_info(char) for char in text]
    return [read for read, _ in infos], "".join(kind for _, kind in infos)


@functools.lru_cache(maxsize=8192)
def _info(char: str) -> tuple[str, str]:
    """What a character reads as, and its class (see :func:`_char_class`)."""
    read = reads_as(char)
    return read, _char_class(char, read)


@functools.lru_cache(maxsize=8192)
def reads_as(char: str) -> str:
    """Return the plain lower-case letters a single character reads as ("" if invisible)."""
    if char.isascii():
        return "" if char in _ASCII_CONTROLS else char.lower()
    out: list[str] = []
    for part in unicodedata.normalize("NFKC", char).casefold():
        if part.isascii():
            out.append("" if part in _ASCII_CONTROLS else part)
        elif unicodedata.category(part) not in _INVISIBLE_CATEGORIES:
            out.append(_unconfuse(part))
    return "".join(out)


def _unconfuse(char: str) -> str:
    """Map one non-ASCII character through the confusable skeleton, without its accents."""
    try:
        skeleton: str = _SKELETON.getSkeleton(0, char)
    except (icu.ICUError, UnicodeError, ValueError):
        skeleton = char
    bare = "".join(
        mark
        for mark in unicodedata.normalize("NFD", skeleton)
        if unicodedata.category(mark) not in ("Mn", "Me")
    )
    return "".join(_latin_letter(letter) for letter in bare.lower())


def _latin_letter(char: str) -> str:
    """Read a Latin small capital ("ʜ") or a dotless letter as the ASCII letter it shows."""
    if char.isascii():
        return char
    if char in _EXTRA_LETTERS:
        return _EXTRA_LETTERS[char]
    found = _SMALL_CAPITAL.fullmatch(unicodedata.name(char, ""))
    return found[1].lower() if found else char


def _char_class(char: str, read: str) -> str:
    """Classify a character: s(eparator or invisible), d(igit) or x (part of the name)."""
    if not read or set(read) <= _SPACE_AND_SEPARATORS:
        return "s"
    if unicodedata.category(char) in _SEPARATOR_CATEGORIES:
        return "s"
    return "d" if read.isascii() and read.isdigit() else "x"


def _affix_bounds(classes: str) -> tuple[int, int]:
    """Find where the name starts and ends once a numeric prefix and suffix are cut."""
    end = len(classes.rstrip("sd"))
    if "d" not in classes[end:] or _name_length(classes[:end]) < MIN_REST:
        end = len(classes)
    head = classes[:end]
    start = len(head) - len(head.lstrip("sd"))
    if "d" not in head[:start] or _name_length(head[start:]) < MIN_REST:
        start = 0
    return start, end


def _name_length(classes: str) -> int:
    """Count the characters that are not separators."""
    return len(classes) - classes.count("s")


def _finish(reads: str) -> str:
    """Fold what a name reads as: drop separators, fold leet and look-alike pairs, collapse."""
    folded = reads.translate(_ASCII_FOLD)
    for pair, letter in _PAIRS.items():
        folded = folded.replace(pair, letter)
    return _REPEATS.sub(_RUN_LETTER, folded)


class _Letters(NamedTuple):
    """Every letter a name reads as, in order, as parallel lists (made by :func:`_letters`)."""

    keys: list[str]  # leet-folded, as in the keys
    lights: list[str]  # as in the light key, JOIN first where a separator joined alike letters
    positions: list[int]  # the character of the text each was read from
    joins: list[tuple[int, int]]  # (letter, position of the alike letter it was joined to)


def _letters(text: str, reads: Sequence[str], classes: str) -> _Letters:
    """Every letter ``text`` reads as, in order (as :func:`light_key` reads them)."""
    letters = _Letters([], [], [], [])
    keys, lights, positions, joins = letters
    separated = False
    last = ""
    # Each ASCII character reads as itself, lower-cased (or nothing, and is then a separator).
    ascii_text = text.isascii()
    for position, read in enumerate(reads):
        if classes[position] == "s":
            separated = separated or _separates(text[position], read)
            continue
        for char in read if not ascii_text else (read,):
            if char in _SPACE_AND_SEPARATORS:
                separated = True
                continue
            light = _LIGHT.get(char, char)
            keys.append(_LEET.get(char, char))
            if separated:
                separated = False
                if last and alike(last, light):
                    joins.append((len(lights), positions[-1]))
                    lights.append(JOIN + light)
                    positions.append(position)
                    last = light
                    continue
            lights.append(light)
            positions.append(position)
            last = light
    return letters


def _ascii_letters(text: str, classes: str) -> _Letters:
    """:func:`_letters` for ASCII, where each character reads as itself, lower-cased."""
    lowered = text.lower()
    keyed, light = lowered.translate(_ASCII_KEYED), lowered.translate(_ASCII_LIGHTS)
    joins: list[tuple[int, int]] = []
    if "s" not in classes:
        return _Letters(list(keyed), list(light), list(range(len(text))), joins)
    positions = [position for position, kind in enumerate(classes) if kind != "s"]
    keys = [keyed[position] for position in positions]
    lights = [light[position] for position in positions]
    if positions:  # separators or controls, all of which separate
        for gap in _GAPS.finditer(classes):
            if 0 < gap.start() and gap.end() < len(text):
                index = bisect.bisect_left(positions, gap.end())
                if alike(lights[index - 1][-1], lights[index]):
                    joins.append((index, positions[index - 1]))
                    lights[index] = JOIN + lights[index]
    return _Letters(keys, lights, positions, joins)


def _separates(char: str, read: str) -> bool:
    """Tell whether a dropped character stood between letters (a combining mark does not)."""
    return bool(read) or char.isascii() or unicodedata.category(char) not in _MARKS


class _Key(NamedTuple):
    key: str
    chunks: tuple[str, ...]
    lights: tuple[str, ...]
    joins: tuple[tuple[int, str], ...]


def _key(text: str, letters: _Letters, first: int, last: int, *, join_first: bool) -> _Key:
    """Fold ``letters[first:last]`` (read from ``text``) as :func:`_finish` does, with sources.

    One pass over the letters: join "rn"/"vv" (left to right, before collapsing, as
    ``str.replace`` does), then start a new key letter unless it repeats the last one. Each
    key letter's letters are consecutive, so its written chunk and light reading are slices.
    ``join_first`` keeps a join of the first letter to one before ``first``.
    """
    keys, lights, positions, joined = letters
    out: list[str] = []
    starts: list[int] = []
    spelled = "".join(keys[first:last])
    if first < last and "rn" not in spelled and "vv" not in spelled:  # no pair: the usual case
        starts = [first, *(i for i in range(first + 1, last) if keys[i] != keys[i - 1])]
        out = [keys[start] for start in starts]
    else:
        index = first
        while index < last:
            letter = keys[index]
            end = index + 1
            if end < last and letter in _PAIR_STARTS:
                pair = _PAIRS.get(letter + keys[end])
                if pair is not None:
                    letter, end = pair, end + 1
            if not out or out[-1] != letter:
                out.append(letter)
                starts.append(index)
            index = end
    starts.append(last)
    chunks: list[str] = []
    reads: list[str] = []
    for start, stop in itertools.pairwise(starts):
        if stop - start == 1:
            chunks.append(text[positions[start]])
            reads.append(lights[start])
        else:
            chunks.append("".join(text[i] for i in dict.fromkeys(positions[start:stop])))
            reads.append("".join(lights[start:stop]))
    joins: list[tuple[int, str]] = []
    for letter_index, before in joined:
        if first <= letter_index < last:
            if letter_index == first and not join_first:
                reads[0] = reads[0][len(JOIN) :]
                continue
            chunk = bisect.bisect_right(starts, letter_index) - 1
            joins.append((chunk, text[before : positions[letter_index] + 1]))
    return _Key("".join(out), tuple(chunks), tuple(reads), tuple(joins))
