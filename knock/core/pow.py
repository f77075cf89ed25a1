"""The optional proof of work asked of per-address callers (browsers), `KNOCK_PAGE_POW_BITS`.

Knock hands the page a **challenge**, a signed line of text that needs no server state::

    <id>.<expires at, epoch seconds>.<bits>.<HMAC-SHA256 of the rest, base64url>

The browser (`knock/web/static/pow.js`) finds a **nonce**, a decimal string of at most
`MAX_NONCE_DIGITS` digits, such that SHA-256(challenge + ":" + nonce) starts with at least
`bits` zero bits, and posts both back. `check` verifies the signature, the expiry, the
difficulty and the hash; that a challenge is spent only once is the caller's to enforce, by
recording the id it returns until the challenge expires.

Pure: the time and, optionally, the random bytes of the id are passed in. `check` answers every
input text, however malformed, with a value; it never raises.

Cost to an honest visitor: a solve takes 2^bits hashes on average (the number of tries is
geometric: the 95th percentile is about 3 x 2^bits). Headless Chromium on one server core
(`python -m bench.pow`) hashes about 2.7 million times a second after a worker's start-up of
about 30 ms; expected and 95th-percentile seconds of one solve:

    bits    12      16      18      20      22
    mean    0.03    0.05    0.13    0.41    1.56
    p95     0.03    0.10    0.32    1.18    4.62

Phones are slower (not measured). `bench/README.md` has the rates of every solver.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

# The difficulty a challenge may carry: 2^32 hashes already take a browser most of an hour.
MAX_BITS = 32
MAX_NONCE_DIGITS = 20
DEFAULT_TTL = 300.0
ID_BYTES = 16
# Longer than any challenge `issue` makes; longer texts are refused before any hashing.
MAX_TEXT = 160

# Binds the signature to this use of the key and this layout of the text.
_DOMAIN = b"knock-pow/1\n"
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_EXPIRY = re.compile(r"[0-9]{1,12}")
_BITS = re.compile(r"[0-9]{1,2}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
_NONCE = re.compile(rf"[0-9]{{1,{MAX_NONCE_DIGITS}}}")


@dataclass(frozen=True)
class Challenge:
    """A challenge as issued: `text` goes to the page; the rest is what the text says."""

    text: str
    challenge_id: str
    expires_at: int
    bits: int


class Problem(StrEnum):
    """Why a proof of work was refused."""

    MISSING = "missing"  # no challenge or no nonce: the page's script did not run
    BAD = "bad"  # not a challenge Knock signed, a malformed nonce, or a hash that falls short
    EXPIRED = "expired"  # signed by Knock, but its time is up
    OUTDATED = "outdated"  # signed by Knock for fewer bits than the setting asks now


MESSAGES: dict[Problem, str] = {
    Problem.MISSING: (
        "This page needs JavaScript to prove it is not a bot; turn JavaScript on for this "
        "site, reload the page and try again."
    ),
    Problem.BAD: "The browser check did not pass; reload the page and try again.",
    Problem.EXPIRED: "The page waited too long; reload it and try again.",
    Problem.OUTDATED: "The page is out of date; reload it and try again.",
}


@dataclass(frozen=True)
class Passed:
    """A valid proof: spend `challenge_id` once, and remember it until `expires_at`."""

    challenge_id: str
    expires_at: int


@dataclass(frozen=True)
class Refused:
    """A refused proof and what to tell the person."""

    problem: Problem

    @property
    def message(self) -> str:
        """The sentence for the person who posted the form."""
        return MESSAGES[self.problem]


Checked: TypeAlias = Passed | Refused


def issue(
    key: bytes, now: float, bits: int, ttl: float = DEFAULT_TTL, *, token: bytes | None = None
) -> Challenge:
    """Make a challenge of `bits` that expires `ttl` seconds after `now`.

    `token` is the id's random bytes (`ID_BYTES` fresh ones from the system when None).
    Raises ValueError for an empty key, bits outside 0..MAX_BITS or a token too short.
    """
    if not key:
        raise ValueError("the proof-of-work key is empty")
    if not 0 <= bits <= MAX_BITS:
        raise ValueError(f"proof-of-work bits must be within 0..{MAX_BITS}, not {bits}")
    raw = secrets.token_bytes(ID_BYTES) if token is None else token
    if len(raw) < 12:
        raise ValueError("a challenge id needs at least 12 random bytes")
    challenge_id = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    expires_at = int(now + ttl)
    body = f"{challenge_id}.{expires_at}.{bits}"
    return Challenge(f"{body}.{_sign(key, body)}", challenge_id, expires_at, bits)


def check(key: bytes, text: str | None, nonce: str | None, now: float, bits: int) -> Checked:
    """Tell whether `nonce` solves `text`, a challenge Knock signed with `key`, at `now`.

    `bits` is the setting now: a challenge issued for fewer bits is refused (OUTDATED).
    Never raises, whatever the texts hold.
    """
    text = (text or "").strip()
    nonce = (nonce or "").strip()
    if not text or not nonce:
        return Refused(Problem.MISSING)
    fields = _fields(text)
    if fields is None:
        return Refused(Problem.BAD)
    challenge_id, expires_at, challenge_bits, body, signature = fields
    if not hmac.compare_digest(_sign(key, body).encode("ascii"), signature.encode("ascii")):
        return Refused(Problem.BAD)
    if not now < expires_at:
        return Refused(Problem.EXPIRED)
    if challenge_bits < bits:
        return Refused(Problem.OUTDATED)
    if _NONCE.fullmatch(nonce) is None or not _meets(_digest(text, nonce), challenge_bits):
        return Refused(Problem.BAD)
    return Passed(challenge_id, expires_at)


def solve(text: str, bits: int, start: int = 0) -> str:
    """Find the first nonce from `start` on (0, 1, 2, ... as `pow.js` counts) that solves `text`.

    For tests and the benchmark; pow.js finds the same nonce for the same text.
    """
    if not 0 <= bits <= MAX_BITS:
        raise ValueError(f"proof-of-work bits must be within 0..{MAX_BITS}, not {bits}")
    prefix = hashlib.sha256((text + ":").encode("utf-8"))  # hashed once, copied per try
    limit = 1 << (64 - bits)  # the first 64 bits of a good digest are below this
    nonce = start
    while True:
        attempt = prefix.copy()
        attempt.update(str(nonce).encode("ascii"))
        if int.from_bytes(attempt.digest()[:8], "big") < limit:
            return str(nonce)
        nonce += 1


def leading_zero_bits(digest: bytes) -> int:
    """Count the zero bits `digest` starts with."""
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def _fields(text: str) -> tuple[str, int, int, str, str] | None:
    """(id, expires at, bits, signed body, signature) of a well-formed challenge, else None."""
    if len(text) > MAX_TEXT or not text.isascii():
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    challenge_id, expiry, bits, signature = parts
    if not (
        _ID.fullmatch(challenge_id)
        and _EXPIRY.fullmatch(expiry)
        and _BITS.fullmatch(bits)
        and _SIGNATURE.fullmatch(signature)
    ):
        return None
    return challenge_id, int(expiry), int(bits), text.rpartition(".")[0], signature


def _sign(key: bytes, body: str) -> str:
    mac = hmac.new(key, _DOMAIN + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _digest(text: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{text}:{nonce}".encode("ascii")).digest()


def _meets(digest: bytes, bits: int) -> bool:
    return bits <= 0 or leading_zero_bits(digest) >= bits
