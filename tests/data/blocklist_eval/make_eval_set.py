"""Make the block-list evaluation set: blocked ids, disguised variants and innocent ids.

Deterministic: every file comes from ``random.Random`` with the fixed seeds below and from the
word lists in this file and in ``sources/``, so running it again writes the same bytes. The
committed files are fixed data: never regenerate them, or change a seed or a word list, to suit
a threshold. ``--check`` regenerates into memory and says whether the committed files still match.

The bench (``bench/blocklist.py``) imports this file by path to make larger block-lists of the
same shape: ``blocked_ids(n)`` is a stream, so its first 10,000 ids are ``blocked.txt``.

``--seed N`` (N > 1) makes a *held-out* set: the same generator and word lists, different seeds
(see :func:`seeds_for`), written to ``--out`` (never over the committed set). The engine's
thresholds were tuned on the committed set (seed 1), so its figures there are in-sample; a
held-out set is not to be tuned on either. A held-out set has no ``innocent_dense.txt``: that
file is built from the same published first names whatever the seed.

    python tests/data/blocklist_eval/make_eval_set.py            # write the files here
    python tests/data/blocklist_eval/make_eval_set.py --check    # compare, write nothing
    cd tests/data/blocklist_eval && python make_eval_set.py --seed 2 --out holdout  # held out
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"

BLOCKED_SEED = 1_001
VARIANT_SEED = 2_002
INNOCENT_SEED = 3_003
DENSE_SEED = 4_004
# The set's seed: 1 is the committed (tuning) set and gives the four seeds above.
DEFAULT_SEED = 1

BLOCKED_COUNT = 10_000
VARIANT_COUNT = 1_000
INNOCENT_COUNT = 10_000
# Of the variants, this share are kinds the normaliser is meant to model; the rest are kinds it
# does not model (two disguises combined, a word appended, ...), so the set is honest.
MODELLED_SHARE = 0.8

# Servers, most popular first, with weights; blocked and innocent people live on the same ones.
SERVERS: tuple[tuple[str, int], ...] = (
    ("matrix.org", 40),
    ("example.org", 6),
    ("tchncs.de", 6),
    ("envs.net", 5),
    ("mozilla.org", 5),
    ("kde.org", 4),
    ("gnome.org", 3),
    ("fedora.im", 3),
    ("nitro.chat", 4),
    ("converser.eu", 3),
    ("hackliberty.org", 3),
    ("catgirl.cloud", 3),
    ("pub.solar", 2),
    ("4d2.org", 2),
    ("matrix.im", 3),
    ("chat.example.com", 2),
    ("synapse.ems.host", 2),
    ("beeper.com", 4),
)
SERVER_NAMES = tuple(name for name, _ in SERVERS)
SERVER_WEIGHTS = tuple(weight for _, weight in SERVERS)

# Word lists for blocked handles: the vocabulary of throwaway, troll and spam accounts.
BLOCKED_ADJECTIVES = """
dark shadow evil toxic crypto mad angry black night dead grim savage silent ghost blood iron
steel cyber rogue wild feral chaos doom hell venom frost thunder rage fury psycho crazy insane
sick lethal deadly brutal vicious wicked cursed hollow void neon acid rusty lone hyper ultra mega
super alpha omega sigma based edgy salty spicy grumpy sneaky shady dirty nasty filthy rotten
twisted broken bitter frozen burning fallen lost dire fierce rude loud raging smug petty illegal
banned fake elite noob leet hardcore epic ultimate supreme royal infernal demonic unholy crimson
scarlet obsidian onyx toxik grimy savage vile cruel dread stealth rabid
""".split()
BLOCKED_NOUNS = """
wolf king lord troll hunter killer reaper demon viper raven dragon snake spider scorpion shark
tiger lion panther cobra hawk falcon vulture crow bat rat goblin orc ninja samurai sniper gunner
soldier warrior knight slayer butcher destroyer wrecker breaker crusher hacker cracker spammer
scammer bot drone phantom specter wraith ghoul zombie vampire werewolf beast monster titan giant
golem warlord overlord emperor tyrant baron duke prince god legend master boss chief captain
commander agent spy rebel outlaw bandit pirate raider thief assassin mercenary hitman gamer
streamer poster lurker edgelord whale bro dude chad gremlin imp fiend devil skull bone fang claw
blade sword axe hammer bullet rocket bomb nuke tank fire flame inferno blaze toxin virus plague
pest menace goon thug punk freak creep weirdo clown joker jester sheriff
""".split()
BLOCKED_SINGLES = """
troll trolling spam spambot raid raider hater flamer griefer scam scammer crypto bitcoin nft pump
forex casino bet promo deals giveaway airdrop moon lambo hodl botnet admin mod support helpdesk
official security verify wallet recovery cashapp invest profit signals trader mining token
ban banhammer nuker crasher flooder lagger doxxer stalker sockpuppet alt burner throwaway
""".split()
BLOCKED_DIGITS_SPECIAL = ("69", "420", "666", "1337", "88", "13", "99", "777", "007", "911")

# Word lists for innocent handles: different words, checked disjoint below.
INNOCENT_ADJECTIVES = """
sunlit quiet gentle happy cozy calm glowy clever curious friendly tiny teeny humble patient
polite cheerful sleepy busy lazy merry jolly fluffy fuzzy soft warm mellow breezy misty dewy
sandy pebbly grassy leafy mossy snowy rainy cloudy windy stormy starry lunar solar northern
southern eastern western urban rustic vintage retro modern classic simple plain tidy nerdy geeky
crafty handy nimble sturdy steady careful thoughtful hopeful playful joyful mindful grateful
purple teal mint peach lemon khaki beige navy maroon lilac cobalt indigo tangerine
""".split()
INNOCENT_NOUNS = """
garden piano coffee maple prairie forest brook pebble cloud rain otter badger beaver rabbit bunny
kitten puppy hedgehog turtle penguin panda koala squirrel owl sparrow heron duck goose llama
alpaca dolphin teapot cookie muffin bagel waffle pancake noodle dumpling sushi taco pizza pasta
bread cheese apple pear plum grape melon mango banana kiwi potato carrot tomato onion garlic thyme
fern lichen pine birch elm lake pond hilltop valley canyon island seashell shore coast cottage cabin
lantern candle book novel poem pencil crayon paint brush canvas violin guitar cello flute drum
banjo ukulele radio camera bicycle kayak canoe sailboat train tram bus planet orbit pixel byte
kernel compiler lambda vector tensor circuit widget gadget sprocket gizmo teacup kettle scarf
mitten sweater sock blanket pillow quilt basket bucket shovel rake acorn walnut peanut almond
""".split()
INNOCENT_SUFFIXES = """
lover fan enjoyer maker builder writer reader quilter gardener knitter painter hiker cyclist coder
tinkerer nerd geek dev sketches notes journal corner nook studio lab works diaries
""".split()

# Look-alike letters (all in Unicode's confusables.txt, mapping to the Latin letter).
CYRILLIC = {
    "a": "\u0430",
    "c": "\u0441",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "x": "\u0445",
    "y": "\u0443",
    "i": "\u0456",
    "j": "\u0458",
    "s": "\u0455",
    "h": "\u04bb",
    "d": "\u0501",
    "w": "\u051d",
}
GREEK = {"o": "\u03bf", "a": "\u03b1", "i": "\u03b9", "v": "\u03bd", "p": "\u03c1"}
LEET = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
VOWELS = "aeiou"
APPENDED_WORDS = """
official real backup alt irl tv returns again og main new xd live back uk here
""".split()
# Spelling changes that keep the sound: (pattern, replacement), tried in this order.
HOMOPHONES: tuple[tuple[str, str], ...] = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("ca", "ka"),
    ("co", "ko"),
    ("cu", "ku"),
    ("cr", "kr"),
    ("cl", "kl"),
    ("oo", "u"),
    ("ee", "ea"),
    ("ea", "ee"),
    ("ight", "ite"),
    ("x", "ks"),
    ("ks", "x"),
    ("qu", "kw"),
    ("er", "a"),
    ("s", "z"),
    ("z", "s"),
    ("y", "ie"),
    ("ou", "u"),
    ("or", "ore"),
    ("ire", "yre"),
    ("ai", "ay"),
    ("ay", "ai"),
)

MODELLED_KINDS = (
    "leet",
    "separators",
    "repeated",
    "digit_suffix",
    "digit_prefix",
    "typo",
    "other_server",
    "case",
    "confusable",
    "fullwidth",
)
UNMODELLED_KINDS = ("combined", "word_appended", "vowel_drop_digits", "reversed", "homophone")
# What "combined" draws its two disguises from.
COMBINABLE = (
    "leet",
    "separators",
    "repeated",
    "digit_suffix",
    "digit_prefix",
    "typo",
    "case",
    "confusable",
)


@dataclass(frozen=True)
class Variant:
    """A disguised id, the blocked id it disguises, and the kind of disguise."""

    variant: str
    original: str
    kind: str

    @property
    def base_kind(self) -> str:
        return self.kind.partition(":")[0]


def split_id(user_id: str) -> tuple[str, str]:
    """``@local:server`` to ``(local, server)``."""
    local, _, server = user_id[1:].partition(":")
    return local, server


def localpart_key(user_id: str) -> str:
    """The exact lower-case localpart: the only comparison used to keep the sets apart."""
    return split_id(user_id)[0].lower()


def _read_column(path: Path) -> list[str]:
    rows = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    return [row.split("\t")[0] for row in rows[1:]]


def first_names() -> list[str]:
    """The SSA 2017 top-1000 girls' and boys' names, lower case, most common first, unique."""
    path = SOURCES / "ssa_2017_top1000.tsv"
    rows = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    counts: dict[str, int] = {}
    for row in rows[1:]:
        name, _sex, count, _rank = row.split("\t")
        key = name.lower()
        counts[key] = counts.get(key, 0) + int(count)
    return sorted(counts, key=lambda name: (-counts[name], name))


def surnames() -> list[str]:
    """The 1990 US Census top-1000 surnames, lower case, most common first."""
    return _read_column(SOURCES / "census_1990_surnames_top1000.tsv")


def _check_word_lists() -> None:
    blocked = set(BLOCKED_ADJECTIVES) | set(BLOCKED_NOUNS) | set(BLOCKED_SINGLES)
    innocent = set(INNOCENT_ADJECTIVES) | set(INNOCENT_NOUNS) | set(INNOCENT_SUFFIXES)
    names = set(first_names()) | set(surnames())
    for label, clash in (
        ("blocked and innocent words", blocked & innocent),
        ("innocent words and first names or surnames", innocent & names),
    ):
        if clash:
            raise SystemExit(f"word lists overlap ({label}): {sorted(clash)}")


# Blocked handles.


def _server(rng: random.Random) -> str:
    return rng.choices(SERVER_NAMES, SERVER_WEIGHTS)[0]


def _blocked_digits(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(BLOCKED_DIGITS_SPECIAL)
    if roll < 0.55:
        return str(rng.randint(0, 99)).zfill(rng.choice((1, 2)))
    if roll < 0.8:
        return str(rng.randint(1975, 2012))
    return str(rng.randint(100, 9999))


def _separator(rng: random.Random, weights: Sequence[float] = (55, 25, 12, 8)) -> str:
    return rng.choices(("", "_", ".", "-"), weights)[0]


def _leetify_all(word: str) -> str:
    return "".join(LEET.get(char, char) for char in word)


def _random_string(rng: random.Random, low: int, high: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _blocked_localpart(rng: random.Random, names: Sequence[str], last: Sequence[str]) -> str:
    shape = rng.random()
    if shape < 0.30:  # darkwolf, dark_wolf88
        local = rng.choice(BLOCKED_ADJECTIVES) + _separator(rng) + rng.choice(BLOCKED_NOUNS)
        return local + (_blocked_digits(rng) if rng.random() < 0.4 else "")
    if shape < 0.45:  # crypto_king, wolfslayer
        first = rng.choice(BLOCKED_NOUNS + BLOCKED_SINGLES)
        local = first + _separator(rng) + rng.choice(BLOCKED_NOUNS)
        return local + (_blocked_digits(rng) if rng.random() < 0.4 else "")
    if shape < 0.57:  # troll, troll99, troll_x
        word = rng.choice(BLOCKED_SINGLES + BLOCKED_NOUNS)
        roll = rng.random()
        if roll < 0.15:
            return word
        if roll < 0.75:
            return word + _separator(rng, (60, 25, 10, 5)) + _blocked_digits(rng)
        return word + rng.choice(("_", ".", "")) + rng.choice("xzqk")
    if shape < 0.77:  # anna.k, anna.smith, anna92
        name = names[min(int(rng.expovariate(1 / 300)), len(names) - 1)]
        roll = rng.random()
        if roll < 0.03:
            return name
        if roll < 0.3:
            return name + rng.choice((".", "_", "")) + rng.choice("abcdefghijklmnoprstw")
        if roll < 0.6:
            return name + _separator(rng, (40, 25, 30, 5)) + rng.choice(last)
        if roll < 0.85:
            return name + _separator(rng, (70, 20, 5, 5)) + _blocked_digits(rng)
        return name[0] + rng.choice(("", ".", "_")) + rng.choice(last) + _blocked_digits(rng)
    if shape < 0.89:  # spam bots: xk9d2fq, user48213
        if rng.random() < 0.6:
            return _random_string(rng, 6, 12, "abcdefghijklmnopqrstuvwxyz0123456789")
        return rng.choice(("user", "bot", "acc", "u", "x")) + str(rng.randint(1000, 9999999))
    if shape < 0.93:  # d4rkw0lf: leet already in the handle
        return _leetify_all(rng.choice(BLOCKED_ADJECTIVES) + rng.choice(BLOCKED_NOUNS))
    if shape < 0.96:  # xxdarkwolfxx
        core = rng.choice(BLOCKED_ADJECTIVES + BLOCKED_SINGLES) + rng.choice(BLOCKED_NOUNS)
        wrap = rng.choice(("xx", "x", "xxx"))
        return wrap + rng.choice(("", "_")) + core + rng.choice(("", "_")) + wrap
    # thedarklord, iamtroll
    word = rng.choice(BLOCKED_ADJECTIVES) + rng.choice(BLOCKED_NOUNS)
    return rng.choice(("the", "its", "iam", "im", "mr", "not")) + _separator(rng) + word


def iter_blocked_ids(seed: int = BLOCKED_SEED) -> Iterator[str]:
    """An endless stream of distinct blocked ids; the same seed gives the same stream."""
    rng = random.Random(seed)
    names = first_names()
    last = surnames()
    seen: set[str] = set()
    while True:
        user_id = f"@{_blocked_localpart(rng, names, last)}:{_server(rng)}"
        if user_id not in seen:
            seen.add(user_id)
            yield user_id


def blocked_ids(count: int, seed: int = BLOCKED_SEED) -> list[str]:
    """The first ``count`` ids of the blocked stream."""
    stream = iter_blocked_ids(seed)
    return [next(stream) for _ in range(count)]


# Innocent handles.


def _innocent_localpart(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.35:  # sunny_otter, quietmeadow42
        local = rng.choice(INNOCENT_ADJECTIVES) + _separator(rng) + rng.choice(INNOCENT_NOUNS)
        return local + (str(rng.randint(1, 999)) if rng.random() < 0.3 else "")
    if shape < 0.55:  # coffee.lover, piano_maker
        return rng.choice(INNOCENT_NOUNS) + _separator(rng) + rng.choice(INNOCENT_SUFFIXES)
    if shape < 0.7:  # maple.garden, teapot_otter
        return rng.choice(INNOCENT_NOUNS) + _separator(rng) + rng.choice(INNOCENT_NOUNS)
    if shape < 0.82:  # kayak2019, pixel_7
        word = rng.choice(INNOCENT_NOUNS + INNOCENT_ADJECTIVES)
        digits = str(rng.randint(1960, 2015)) if rng.random() < 0.4 else str(rng.randint(1, 999))
        return word + _separator(rng, (60, 25, 10, 5)) + digits
    if shape < 0.92:  # opaque handles: qm7htz3, mx_4821
        if rng.random() < 0.5:
            return _random_string(rng, 5, 11, "abcdefghijklmnopqrstuvwxyz0123456789")
        return (
            rng.choice(("mx", "me", "m", "hi", "yo"))
            + rng.choice(("", "_"))
            + str(rng.randint(10, 999999))
        )
    # three words: the_quiet_otter, sleepy.garden.owl
    sep = rng.choice(("_", ".", "", "-"))
    adjective = rng.choice(INNOCENT_ADJECTIVES)
    return sep.join((adjective, rng.choice(INNOCENT_NOUNS), rng.choice(INNOCENT_NOUNS)))


def innocent_distinct_ids(
    count: int, blocked_localparts: set[str], seed: int = INNOCENT_SEED
) -> list[str]:
    """``count`` distinct innocent ids none of whose lower-case localparts is blocked."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        local = _innocent_localpart(rng)
        user_id = f"@{local}:{_server(rng)}"
        if user_id in seen or local.lower() in blocked_localparts:
            continue
        seen.add(user_id)
        out.append(user_id)
    return out


def dense_ids(blocked_localparts: set[str], seed: int = DENSE_SEED) -> list[str]:
    """Ids from the dense pool of common first names, in the forms people use for themselves.

    Per name: ``@name``, two ``name<sep>surname``, one ``name<digits>``; an id whose lower-case
    localpart is a blocked localpart is left out.
    """
    rng = random.Random(seed)
    last = surnames()
    seen: set[str] = set()
    out: list[str] = []
    for name in first_names():
        forms = [name]
        for _ in range(2):
            forms.append(name + rng.choice((".", "_", "")) + rng.choice(last))
        digits = str(rng.randint(1970, 2012)) if rng.random() < 0.4 else str(rng.randint(1, 999))
        forms.append(name + digits)
        for local in forms:
            user_id = f"@{local}:{_server(rng)}"
            if user_id in seen or local in blocked_localparts:
                continue
            seen.add(user_id)
            out.append(user_id)
    return out


# Disguises. Each takes the localpart (and the rng) and returns (new localpart, sub-kind), or
# None when it does not apply to this localpart.

Disguise = Callable[[str, random.Random], tuple[str, str] | None]


def _letter_positions(local: str, letters: Iterable[str]) -> list[int]:
    wanted = set(letters)
    return [i for i, char in enumerate(local) if char in wanted]


def _leet(local: str, rng: random.Random) -> tuple[str, str] | None:
    positions = _letter_positions(local, LEET)
    if not positions:
        return None
    if rng.random() < 0.5:
        chosen = positions
        sub = "all"
    else:
        chosen = rng.sample(positions, rng.randint(1, len(positions)))
        sub = "some"
    chars = list(local)
    for i in chosen:
        chars[i] = LEET[chars[i]]
    return "".join(chars), sub


def _separators(local: str, rng: random.Random) -> tuple[str, str] | None:
    letters = [char for char in local if char.isalnum()]
    if len(letters) < 3:
        return None
    existing = _letter_positions(local, "._-")
    roll = rng.random()
    if roll < 0.3 and len(letters) <= 10:
        sep = rng.choice(("." * 1, "_", "-"))
        return sep.join(letters), "every"
    if roll < 0.55 and existing:
        chars = list(local)
        i = rng.choice(existing)
        chars[i] = rng.choice([sep for sep in ("", ".", "_", "-") if sep != local[i]])
        return "".join(chars), "swap"
    chars = list(local)
    for _ in range(rng.randint(1, 2)):
        i = rng.randint(1, len(chars) - 1)
        chars.insert(i, rng.choice((".", "_", "-")))
    return "".join(chars), "insert"


def _repeated(local: str, rng: random.Random) -> tuple[str, str] | None:
    positions = [i for i, char in enumerate(local) if char.isalpha()]
    if not positions:
        return None
    chars = list(local)
    for i in sorted(rng.sample(positions, min(len(positions), rng.randint(1, 2))), reverse=True):
        chars.insert(i, chars[i] * rng.randint(1, 2))
    return "".join(chars), ""


def _digits(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return str(rng.randint(0, 99)).zfill(2)
    if roll < 0.8:
        return str(rng.randint(1975, 2012))
    return str(rng.randint(1, 9) if rng.random() < 0.5 else rng.randint(100, 999))


def _digit_suffix(local: str, rng: random.Random) -> tuple[str, str] | None:
    return local + rng.choice(("", "", "_", ".", "-")) + _digits(rng), ""


def _digit_prefix(local: str, rng: random.Random) -> tuple[str, str] | None:
    return _digits(rng) + rng.choice(("", "", "_", ".")) + local, ""


def _neighbour(char: str, rng: random.Random) -> str:
    for row in KEYBOARD_ROWS:
        i = row.find(char)
        if i >= 0:
            near = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return rng.choice(near)
    return rng.choice("abcdefghijklmnopqrstuvwxyz")


def _typo(local: str, rng: random.Random) -> tuple[str, str] | None:
    if len(local) < 5:
        return None
    chars = list(local)
    sub = rng.choice(("insert", "delete", "substitute", "transpose"))
    letters = [i for i, char in enumerate(chars) if char.isalpha()]
    if sub == "insert":
        i = rng.randint(0, len(chars))
        near = chars[i - 1] if i > 0 else chars[0]
        chars.insert(i, _neighbour(near, rng))
    elif sub == "delete":
        del chars[rng.choice(letters or list(range(len(chars))))]
    elif sub == "substitute":
        if not letters:
            return None
        i = rng.choice(letters)
        chars[i] = _neighbour(chars[i], rng)
    else:
        pairs = [i for i in range(len(chars) - 1) if chars[i] != chars[i + 1]]
        if not pairs:
            return None
        i = rng.choice(pairs)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars), sub


def _case(local: str, rng: random.Random) -> tuple[str, str] | None:
    if not any(char.isalpha() for char in local):
        return None
    roll = rng.random()
    if roll < 0.35:
        return local.upper(), "upper"
    if roll < 0.6:
        return local[0].upper() + local[1:], "title"
    chars = [char.upper() if rng.random() < 0.5 else char for char in local]
    if "".join(chars) == local:
        chars[_letter_positions(local, "abcdefghijklmnopqrstuvwxyz")[0]] = chars[0].upper()
    return "".join(chars), "mixed"


def _confusable(local: str, rng: random.Random) -> tuple[str, str] | None:
    greek = _letter_positions(local, GREEK)
    cyrillic = _letter_positions(local, CYRILLIC)
    if greek and (rng.random() < 0.3 or not cyrillic):
        table, positions, sub = GREEK, greek, "greek"
    elif cyrillic:
        table, positions, sub = CYRILLIC, cyrillic, "cyrillic"
    else:
        return None
    chars = list(local)
    for i in rng.sample(positions, min(len(positions), rng.randint(1, 3))):
        chars[i] = table[chars[i]]
    return "".join(chars), sub


def _to_fullwidth(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


def _fullwidth(local: str, rng: random.Random) -> tuple[str, str] | None:
    if rng.random() < 0.75 or len(local) < 3:
        return "".join(_to_fullwidth(char) for char in local), "all"
    chars = list(local)
    for i in rng.sample(range(len(chars)), rng.randint(1, len(chars) - 1)):
        chars[i] = _to_fullwidth(chars[i])
    return "".join(chars), "partial"


def _word_appended(local: str, rng: random.Random) -> tuple[str, str] | None:
    return local + rng.choice(("", "", "_", ".")) + rng.choice(APPENDED_WORDS), ""


def _vowel_drop_digits(local: str, rng: random.Random) -> tuple[str, str] | None:
    positions = [i for i in _letter_positions(local, VOWELS) if i > 0]
    if not positions or len(local) < 4:
        return None
    i = rng.choice(positions)
    return local[:i] + local[i + 1 :] + _digits(rng), ""


def _reversed(local: str, rng: random.Random) -> tuple[str, str] | None:
    flipped = local[::-1]
    return (flipped, "") if flipped != local else None


def _homophone(local: str, rng: random.Random) -> tuple[str, str] | None:
    rules = [(old, new) for old, new in HOMOPHONES if old in local]
    if not rules:
        return None
    old, new = rng.choice(rules)
    starts = [i for i in range(len(local)) if local.startswith(old, i)]
    i = rng.choice(starts)
    return local[:i] + new + local[i + len(old) :], f"{old}>{new}"


DISGUISES: dict[str, Disguise] = {
    "leet": _leet,
    "separators": _separators,
    "repeated": _repeated,
    "digit_suffix": _digit_suffix,
    "digit_prefix": _digit_prefix,
    "typo": _typo,
    "case": _case,
    "confusable": _confusable,
    "fullwidth": _fullwidth,
    "word_appended": _word_appended,
    "vowel_drop_digits": _vowel_drop_digits,
    "reversed": _reversed,
    "homophone": _homophone,
}


def _disguise(
    kind: str, user_id: str, rng: random.Random, blocked: set[str], localparts: set[str]
) -> tuple[str, str] | None:
    """Disguise ``user_id`` as ``kind``; return (variant id, labelled kind) or None."""
    local, server = split_id(user_id)
    if kind == "other_server":
        servers = [name for name in SERVER_NAMES if name != server]
        other = rng.choice(servers)
        candidate = f"@{local}:{other}"
        return (candidate, kind) if candidate not in blocked else None
    if kind == "combined":
        first, second = rng.sample(COMBINABLE, 2)
        # Case and look-alikes last, so the other disguise works on plain letters.
        order = sorted((first, second), key=lambda name: name in ("case", "confusable"))
        text = local
        for name in order:
            done = DISGUISES[name](text, rng)
            if done is None:
                return None
            text = done[0]
        labelled = f"combined:{order[0]}+{order[1]}"
    else:
        done = DISGUISES[kind](local, rng)
        if done is None:
            return None
        text, sub = done
        labelled = f"{kind}:{sub}" if sub else kind
    if text == local:
        return None
    # A disguise that lands on another blocked name is no disguise; case changes keep the name.
    if kind != "case" and text.lower() in localparts:
        return None
    return f"@{text}:{server}", labelled


def kind_quotas(count: int) -> dict[str, int]:
    """How many variants of each kind: MODELLED_SHARE of them split evenly over the modelled
    kinds, the rest evenly over the unmodelled ones; remainders go to the first kinds."""
    modelled = round(count * MODELLED_SHARE)
    quotas: dict[str, int] = {}
    for kinds, total in ((MODELLED_KINDS, modelled), (UNMODELLED_KINDS, count - modelled)):
        share, extra = divmod(total, len(kinds))
        for i, kind in enumerate(kinds):
            quotas[kind] = share + (1 if i < extra else 0)
    return quotas


def make_variants(blocked: Sequence[str], count: int, seed: int = VARIANT_SEED) -> list[Variant]:
    """``count`` variants of distinct blocked ids, in kind order, per :func:`kind_quotas`."""
    rng = random.Random(seed)
    blocked_set = set(blocked)
    localparts = {localpart_key(user_id) for user_id in blocked}
    used: set[str] = set()
    out: list[Variant] = []
    for kind, quota in kind_quotas(count).items():
        made = 0
        tries = 0
        while made < quota:
            tries += 1
            if tries > 200 * quota + 1000:
                raise RuntimeError(f"cannot make {quota} variants of kind {kind}")
            original = rng.choice(blocked)
            if original in used:
                continue
            done = _disguise(kind, original, rng, blocked_set, localparts)
            if done is None:
                continue
            used.add(original)
            out.append(Variant(done[0], original, done[1]))
            made += 1
    return out


# Files.


@dataclass(frozen=True)
class Seeds:
    blocked: int
    variants: int
    innocent: int
    dense: int


def seeds_for(seed: int = DEFAULT_SEED) -> Seeds:
    """The four seeds of set ``seed``: 1 gives 1001, 2002, 3003, 4004 (the committed set);
    N > 1 adds 10,000 x (N - 1) to each, so seed 2 gives 11001, 12002, 13003, 14004."""
    if seed < 1:
        raise ValueError(f"seed must be at least 1, not {seed}")
    offset = 10_000 * (seed - DEFAULT_SEED)
    return Seeds(
        blocked=BLOCKED_SEED + offset,
        variants=VARIANT_SEED + offset,
        innocent=INNOCENT_SEED + offset,
        dense=DENSE_SEED + offset,
    )


@dataclass(frozen=True)
class EvalSet:
    blocked: list[str]
    variants: list[Variant]
    innocent_distinct: list[str]
    innocent_dense: list[str] | None  # None: not made (a held-out set)


def make_eval_set(seed: int = DEFAULT_SEED, *, dense: bool | None = None) -> EvalSet:
    """The set of seed ``seed``; ``dense`` defaults to making the dense set for seed 1 only."""
    _check_word_lists()
    seeds = seeds_for(seed)
    blocked = blocked_ids(BLOCKED_COUNT, seed=seeds.blocked)
    localparts = {localpart_key(user_id) for user_id in blocked}
    make_dense = seed == DEFAULT_SEED if dense is None else dense
    return EvalSet(
        blocked=blocked,
        variants=make_variants(blocked, VARIANT_COUNT, seed=seeds.variants),
        innocent_distinct=innocent_distinct_ids(INNOCENT_COUNT, localparts, seed=seeds.innocent),
        innocent_dense=dense_ids(localparts, seed=seeds.dense) if make_dense else None,
    )


def render(eval_set: EvalSet) -> dict[str, str]:
    """File name to file text."""

    def lines(rows: Iterable[str]) -> str:
        return "".join(f"{row}\n" for row in rows)

    files = {
        "blocked.txt": lines(eval_set.blocked),
        "variants.txt": lines(f"{v.variant}\t{v.original}\t{v.kind}" for v in eval_set.variants),
        "innocent_distinct.txt": lines(eval_set.innocent_distinct),
    }
    if eval_set.innocent_dense is not None:
        files["innocent_dense.txt"] = lines(eval_set.innocent_dense)
    return files


def load_variants(path: Path) -> list[Variant]:
    rows = path.read_text("utf-8").splitlines()
    return [Variant(*row.split("\t")) for row in rows if row]


def load_ids(path: Path) -> list[str]:
    return [row for row in path.read_text("utf-8").splitlines() if row]


def summary(eval_set: EvalSet) -> str:
    kinds = Counter(v.base_kind for v in eval_set.variants)
    subs = Counter(v.kind for v in eval_set.variants if ":" in v.kind)
    out = [
        f"blocked.txt: {len(eval_set.blocked)}",
        f"variants.txt: {len(eval_set.variants)}",
        *(f"  {kind}: {kinds[kind]}" for kind in (*MODELLED_KINDS, *UNMODELLED_KINDS)),
        *(f"    {sub}: {n}" for sub, n in sorted(subs.items())),
        f"innocent_distinct.txt: {len(eval_set.innocent_distinct)}",
    ]
    if eval_set.innocent_dense is not None:
        out.append(f"innocent_dense.txt: {len(eval_set.innocent_dense)}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to")
    parser.add_argument("--check", action="store_true", help="compare with the files, write none")
    parser.add_argument("--summary", action="store_true", help="print the counts per kind")
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"set to make (default {DEFAULT_SEED}: the committed set); another seed makes a "
        "held-out set, which needs --out",
    )
    args = parser.parse_args(argv)
    if args.seed < 1:
        parser.error("--seed must be at least 1")
    if args.seed != DEFAULT_SEED and args.out.resolve() == HERE:
        parser.error(f"--seed {args.seed} is a held-out set: give --out, not the committed folder")
    eval_set = make_eval_set(args.seed)
    files = render(eval_set)
    if args.summary:
        print(summary(eval_set))
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.out / name).exists() or (args.out / name).read_text("utf-8") != text
        ]
        print("differs: " + ", ".join(stale) if stale else "all files match the generator")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
