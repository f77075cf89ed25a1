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

Steps 4 to 6 are lossy: they merge names that are different people's (``gabriella`` and
``gabriela``, ``alani`` and ``ailani``, ``christopher_r`` and ``christopher``, ``arnie`` and
``amie``). So there is a second, *light* key (:func:`light_key`), made only of the lossless
folds: step 1, separators and invisible characters removed, and leet characters that are not
letters read as their letter (``0`` o, ``3`` e, ``4 @`` a, ``5 $`` s, ``7`` t, ``8`` b, ``9``
g), with ``1 | !`` kept as one character ("1") that may stand for "i" or "l" (:func:`alike`).
It keeps "l" and "i" apart, does not join look-alike pairs, does not collapse repeats, and
where removing separators would put two equal letters side by side it leaves a mark
(:data:`JOIN`) instead (``christopher_r`` is ``christopher.r``). Two names with the same
normalised key met losslessly when their light keys are alike letter for letter
(:func:`light_alike`). The light key is not indexed: it is made for a request and for the few
entries found under its normalised key, when the verdict depends on it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import icu  # type: ignore[import-untyped]

__all__ = [
    "EITHER",
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
# The light key (lossless folds only): leet characters that are not letters read as a letter,
# except those that may read "i" or "l", which become EITHER; and JOIN where removing separators
# put two alike letters side by side.
EITHER = "1"
JOIN = "."
_LIGHT = {char: letter for char, letter in _LEET.items() if not char.isalpha()} | dict.fromkeys(
    "1|!", EITHER
)
_EITHER_READS = frozenset("il" + EITHER)
_MARKS = frozenset({"Mn", "Me"})
_SMALL_CAPITAL = re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])")
_EXTRA_LETTERS = {"ĸ": "k", "ı": "i", "ȷ": "j"}
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)
_ASCII_CONTROLS = "".join(map(chr, range(0x20))) + "\x7f"
_ASCII_DROPPED = SEPARATORS + " " + _ASCII_CONTROLS
# One class letter per ASCII character: s(eparator), d(igit) or x (anything else).
_ASCII_CLASSES = str.maketrans(
    {chr(code): "s" if chr(code) in _ASCII_DROPPED else "x" for code in range(128)}
    | dict.fromkeys("0123456789", "d")
)
_ASCII_INVISIBLE = str.maketrans(dict.fromkeys(_ASCII_CONTROLS))
_ASCII_FOLD = str.maketrans(dict.fromkeys(_ASCII_DROPPED) | _LEET)
# Lower-cased ASCII to its light reading, every separator and control a space (split on).
_ASCII_LIGHT = str.maketrans(dict.fromkeys(_ASCII_DROPPED, " ") | _LIGHT)
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

    Cached: the same entries are met again and again. The slow :func:`fold` spells the same
    key out letter by letter, in :attr:`Folded.lights`.
    """
    if text.isascii():
        parts = [part for part in text.lower().translate(_ASCII_LIGHT).split(" ") if part]
        if len(parts) <= 1:
            return parts[0] if parts else ""
        light = parts[0]
        for part in parts[1:]:
            light += JOIN + part if alike(light[-1], part[0]) else part
        return light
    out: list[str] = []
    separated = False
    for char in text:
        read, kind = _info(char)
        if kind == "s":
            separated = separated or _separates(char, read)
            continue
        for letter in read:
            if letter in _SPACE_AND_SEPARATORS:
                separated = True
                continue
            letter = _LIGHT.get(letter, letter)
            if separated and out and alike(out[-1], letter):
                out.append(JOIN)
            separated = False
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
    reads, classes = _read(text)
    start, end = _affix_bounds(classes)
    letters = _letters(text, reads, classes)
    key = ""
    chunks: tuple[str, ...] = ()
    lights: tuple[str, ...] = ()
    joins: tuple[tuple[int, str], ...] = ()
    # The normalised key folds prefix, name and suffix each on its own; the fuzzy key the name.
    parts = ((start, end),) if fuzzy else ((0, start), (start, end), (end, len(text)))
    for low, high in parts:
        part = [letter for letter in letters if low <= letter.position < high]
        # A separator between the name and a cut prefix joins nothing in the fuzzy key.
        if fuzzy and part and part[0].joined >= 0:
            part[0] = part[0]._replace(joined=-1)
        folded = _key(text, part)
        joins += tuple((len(key) + index, written) for index, written in folded.joins)
        key += folded.key
        chunks += folded.chunks
        lights += folded.lights
    if not fuzzy:
        start, end = 0, len(text)
    separators: list[tuple[int, str]] = []
    invisible: list[str] = []
    before = 0
    for position in range(start, end):
        if classes[position] != "s":
            before += 1
        elif reads[position]:
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
    """Read each character of ``text`` (:func:`reads_as`) and classify it (:func:`_char_class`)."""
    if text.isascii():
        return [read.translate(_ASCII_INVISIBLE) for read in text.lower()], text.translate(
            _ASCII_CLASSES
        )
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
    return _REPEATS.sub(r"\1", folded)


class _Letter(NamedTuple):
    """One letter a name reads as."""

    key: str  # leet-folded, as in the keys
    light: str  # as in the light key
    position: int  # the character of the text it was read from
    joined: int  # where the alike letter a removed separator joined it to was read, or -1


def _letters(text: str, reads: Sequence[str], classes: str) -> list[_Letter]:
    """Every letter ``text`` reads as, in order (as :func:`light_key` reads them)."""
    letters: list[_Letter] = []
    separated = False
    for position, read in enumerate(reads):
        if classes[position] == "s":
            separated = separated or _separates(text[position], read)
            continue
        for char in read:
            if char in _SPACE_AND_SEPARATORS:
                separated = True
                continue
            light = _LIGHT.get(char, char)
            joined = -1
            if separated and letters and alike(letters[-1].light, light):
                joined = letters[-1].position
            separated = False
            letters.append(_Letter(_LEET.get(char, char), light, position, joined))
    return letters


def _separates(char: str, read: str) -> bool:
    """Tell whether a dropped character stood between letters (a combining mark does not)."""
    return bool(read) or char.isascii() or unicodedata.category(char) not in _MARKS


class _Key(NamedTuple):
    key: str
    chunks: tuple[str, ...]
    lights: tuple[str, ...]
    joins: tuple[tuple[int, str], ...]


def _key(text: str, letters: Sequence[_Letter]) -> _Key:
    """Fold ``letters`` (read from ``text``) as :func:`_finish` does, with each letter's source.

    One pass over the letters: join "rn"/"vv" (left to right, before collapsing, as
    ``str.replace`` does), then append, or merge into the last letter when it repeats it.
    """
    out: list[str] = []
    sources: list[list[int]] = []
    lights: list[str] = []
    joins: list[tuple[int, str]] = []
    index = 0
    while index < len(letters):
        group = letters[index : index + 1]
        letter = group[0].key
        joined = _PAIRS.get(letter + letters[index + 1].key) if index + 1 < len(letters) else None
        if joined is not None:
            letter, group = joined, letters[index : index + 2]
            index += 1
        index += 1
        if not out or out[-1] != letter:
            out.append(letter)
            sources.append([])
            lights.append("")
        for item in group:
            sources[-1].append(item.position)
            if item.joined >= 0:
                lights[-1] += JOIN
                joins.append((len(out) - 1, text[item.joined : item.position + 1]))
            lights[-1] += item.light
    chunks = tuple(
        text[source[0]] if len(source) == 1 else "".join(text[i] for i in dict.fromkeys(source))
        for source in sources
    )
    return _Key("".join(out), chunks, tuple(lights), tuple(joins))
