"""Block-list matching for Matrix ids: who may knock, who is blocked, who needs a second look.

A person banned as ``@troll:example.org`` comes back as ``@tr0ll``, ``@t.r.o.l.l``,
``@troll_99``, ``@trolll``, on another server, or under a display name in look-alike letters.
:class:`BlockIndex` holds block and allow entries (:class:`Entry`) and answers
:meth:`BlockIndex.check` with a :class:`Decision`: a verdict (block > review > allow) and the
matches behind it, each saying in words what was done to the request to meet the entry. It is
pure: data in, decision out; nothing here does I/O or reads a clock.

Rules, strongest first, with their verdicts under the default :class:`MatchPolicy`:

- ``allow``: an allow entry (exact id, glob, server or hash) covers the id; overrides all.
- ``exact`` (block): the id itself, or its SHA-256 for a hashed (MSC4205) entry.
- ``glob`` (block): a Matrix glob, ``*`` any run and ``?`` one character, ASCII case ignored.
- ``server`` (block): ``evil.example``, ``*.evil.example``, ``@*:evil.example``; the id's port
  is ignored unless the entry names one.
- ``normalised``: the same folded localpart on the same server. It blocks only when the two
  names met through lossless folds alone and the folded key has at least
  ``index.DISTINCT_KEY`` (5) letters; otherwise review. Among the ~26,000 distinct names of
  the evaluation set (blocked and innocent handles, the 1,921 commonest US first names), the
  share that fold to the same key as a *different* name is 18% for 4-letter keys, 7.6% at 5,
  5.2% at 6, 1.8% at 7 and 0.5% at 8 or more: a 4-letter key is too often somebody else to
  block on. (So ``@tr0ll`` for ``@troll``, folded "troi", asks review; ``@tr0llk1ng`` blocks.)
  Lossless are case, NFKC (full-width, styled letters), look-alikes from other scripts and
  accents, leet characters that are not letters (``0 3 4 @ 5 $ 7 8 9``, and ``1 | !`` as
  either "i" or "l"), and separators or invisible characters removed between letters that
  differ. Lossy are collapsing repeats, reading letter "l" as "i", "rn" as "m" or "vv" as "w",
  and removing a separator between two alike letters: these merge different people
  (``gabriella``/``gabriela``, ``aaliyah``/``aliyah``, ``alani``/``ailani``,
  ``christopher_r``/``christopher``, ``rosalie.e``/``rosalie``: 7 of the evaluation set's
  7,622 innocent first-name ids were blocked this way). A match that needed one is found and
  explained, and its transforms name it ('collapsed repeated "lll"', 'read letter "i" as
  "l"', 'joined repeated letters "l.l"'), but it asks review: ``@trolllking`` and
  ``@t.r.o.l.l.k.i.n.g`` for ``@trollking`` ask review, ``@tr0ll.k1ng``, ``@ＴＲＯＬＬＫＩＮＧ``
  and ``@trоllking`` (Cyrillic о) block.
- ``other_server`` (review): the same folded localpart on another server.
- ``digits`` (review): the same fuzzy key; only a numeric prefix or suffix differs.
- ``edit_distance`` (review): fuzzy keys within the edits allowed for the shorter one's length.
- ``display_name`` (review, never more): the display name, or a word of it, folds to a blocked
  localpart.

"Review" is weak evidence and becomes ``MatchPolicy.fuzzy_action``; other-server matches take
``other_server_action``; where both apply (a short name elsewhere, a near miss elsewhere), the
weaker of the two. A decision lists at most ``decide.MAX_MATCHES`` (5) matches, allow matches
first, then strongest first; its verdict always weighs every match found.

Folding (:mod:`.fold`), the same for entries, requests and display names: NFKC, case folding,
the TR39 confusable skeleton (ICU) for non-ASCII characters only, accents dropped, separators
``._-=/+``, spaces and invisible characters removed, leet classes {0 o} {1 i l | !} {3 e}
{4 @ a} {5 $ s} {7 t} {8 b} {9 g} folded, "rn" -> "m" and "vv" -> "w", repeated letters
collapsed. ASCII is kept out of the skeleton because it maps "m" to "rn", "d" to "cl", "0" to
"O" and "1" to "l", which would merge different ASCII names and fight the leet classes; the
leet table and the two look-alike pairs are the ASCII half. The fuzzy key also leaves out a
numeric prefix or suffix when three characters stay. Explanations (:mod:`.explain`) quote what
was written, never the internal key ("troll" folds to "troi").

Lossless or lossy is decided when a candidate is verified, not by the index: the keys above
find the candidates, as fast and as small as ever, and a second, *light* key
(:func:`.fold.light_key`: only the lossless folds, "christopher_r" is "christopher.r") is
made for the request once and for each entry found on its server under its normalised key,
and compared letter for letter; only when it could change the verdict (a key of 5 letters or
more, a ``fuzzy_action`` other than block, an entry not written exactly as the request), and
cached. Nothing is added to the index. The explanation compares the same light readings per
key letter, so a lossy note is given exactly when the verdict was lowered for it.

Index (:mod:`.strong`, :mod:`.patterns`, :mod:`.names`, :mod:`.multimap`): exact ids and hashes
in dicts; server entries in a dict of names and a dict of suffixes (looked up label by label);
other globs bucketed by literal prefix, a crowded bucket tried first as one combined regex;
folded localparts in hash multimaps keyed by (host, key) and by key alone, so the same name on
another server is one lookup; near misses by symmetric deletion (SymSpell) over *distinct*
fuzzy keys, verified with the optimal-string-alignment distance (Levenshtein with a swap of
neighbours as one edit, the commonest typo) within ``MatchPolicy.max_distance`` for the shorter
key: no edit up to 5 letters, one up to 8, two beyond.

Memory decides the near-miss design. Filing each name under all its one- and two-letter
deletions costs about 55 strings a name; as dict items (~100 bytes each) a million entries
would need over 5 GB. Instead a name is filed only under itself and its one-letter deletions,
as nodes of 16 bytes in flat ``array``\\ s keyed by the strings' 64-bit hashes (about 10 a
name), and the query looks up its own one- and two-letter deletions. Every pair within one
edit is found, and of pairs two edits apart all but those that need two deletions from the
entry (two substitutions, or a long name missing two letters: ``sockpppethammer`` for
``sockpuppethammer``). Entries that share a fuzzy key (``user1234``, ``user_99``) share one
name, and a key shared by thousands costs one array of entry numbers.

Measured on a 2-core AMD EPYC (Python 3.11.7) with the evaluation set's generator
(``tests/data/blocklist_eval``), 6,000 queries (a third exact blocked ids, a third disguised
variants, a third innocent ids) checked as admission does, repaired id plus the raw text as
``typed``:

=========== ======= =========== ============ ======== ========
entries     build   RSS added   process RSS  p50      p99
=========== ======= =========== ============ ======== ========
100,000     2.1 s   35-37 MiB   ~90 MiB      138 µs   383 µs
1,000,000   20 s    282 MiB     ~436 MiB     183 µs   433 µs
=========== ======= =========== ============ ======== ========

A pure-Python edit-distance scan of 100,000 localparts takes 3.1 s a check (about 20,000 times
the index's 140 µs mean); rapidfuzz's C ``Levenshtein.distance`` called in a Python loop takes
19 ms (about 130 times). On the evaluation set: 98.9% of the modelled disguises and 88.6% of
all are flagged, 48.5% and 39.4% blocked outright (the rest needed a lossy fold, a short key, a
numeric affix, another server or an edit); of the 10,000 innocent distinct ids 0.14% are
flagged and none blocked, and of the 7,622 built from common first names none is blocked.
(Deciding lossless or lossy changed neither the speed nor the memory measurably.)
"""

from .decide import combine
from .fold import FOLD_VERSION
from .index import BlockIndex, stored_keys
from .model import (
    Decision,
    Entry,
    Kind,
    Match,
    MatchPolicy,
    Rule,
    Transform,
    TransformKind,
    Verdict,
    kind_of,
)
from .strong import UNRELATED_IDS, Keys, NewEntry, covers_anyone, new_entry

__all__ = [
    "FOLD_VERSION",
    "UNRELATED_IDS",
    "BlockIndex",
    "Decision",
    "Entry",
    "Keys",
    "Kind",
    "NewEntry",
    "Match",
    "MatchPolicy",
    "Rule",
    "Transform",
    "TransformKind",
    "Verdict",
    "combine",
    "covers_anyone",
    "kind_of",
    "new_entry",
    "stored_keys",
]
