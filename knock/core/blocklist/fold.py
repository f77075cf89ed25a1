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
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import icu  # type: ignore[import-untyped]

__all__ = ["SEPARATORS", "Folded", "fold", "keys", "reads_as"]

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
_SKELETON = icu.SpoofChecker()


@dataclass(frozen=True, slots=True)
class Folded:
    """A name folded to one of its keys, with the written text behind each key letter."""

    key: str
    chunks: tuple[str, ...]
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


@functools.lru_cache(maxsize=4096)
def fold(text: str, *, fuzzy: bool = False) -> Folded:
    """Fold ``text`` to its normalised (or fuzzy) key, keeping where each letter came from.

    Slower than :func:`keys`; used to explain the few matches shown, and cached because the
    same entries are explained again and again.
    """
    reads, classes = _read(text)
    start, end = _affix_bounds(classes)
    key, chunks = _key(text, reads, classes, start, end)
    if not fuzzy:
        before, before_chunks = _key(text, reads, classes, 0, start)
        after, after_chunks = _key(text, reads, classes, end, len(text))
        key, chunks = before + key + after, before_chunks + chunks + after_chunks
        start, end = 0, len(text)
    separators: list[tuple[int, str]] = []
    invisible: list[str] = []
    letters = 0
    for position in range(start, end):
        if classes[position] != "s":
            letters += 1
        elif reads[position]:
            separators.append((letters, text[position]))
        else:
            invisible.append(text[position])
    return Folded(
        key=key,
        chunks=chunks,
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


def _key(
    text: str, reads: Sequence[str], classes: str, start: int, end: int
) -> tuple[str, tuple[str, ...]]:
    """Fold ``text[start:end]`` as :func:`_finish` does, with each letter's source.

    One pass over the letters: fold leet, join "rn"/"vv" (left to right, before collapsing,
    as ``str.replace`` does), then append, or merge into the last letter when it repeats it.
    """
    letters: list[tuple[str, list[int]]] = []
    for position in range(start, end):
        if classes[position] != "s":
            for char in reads[position]:
                if char not in _SPACE_AND_SEPARATORS:
                    letters.append((_LEET.get(char, char), [position]))
    out: list[str] = []
    sources: list[list[int]] = []
    index = 0
    while index < len(letters):
        letter, source = letters[index]
        joined = _PAIRS.get(letter + letters[index + 1][0]) if index + 1 < len(letters) else None
        if joined is not None:
            letter, source = joined, source + letters[index + 1][1]
            index += 1
        index += 1
        if out and out[-1] == letter:
            sources[-1].extend(source)
        else:
            out.append(letter)
            sources.append(source)
    chunks = tuple(
        text[source[0]] if len(source) == 1 else "".join(text[i] for i in dict.fromkeys(source))
        for source in sources
    )
    return "".join(out), chunks
