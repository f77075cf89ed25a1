"""The optional proof-of-work (`KNOCK_PAGE_POW_BITS`) asked of every per-address caller.

Knock issues a challenge (signed, so no state until it is used); the page's script solves it;
a post that carries a solution spends its challenge once, in the database, so it cannot be
replayed by another process either. Bots that post without a browser pay for every post.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace

from knock.clock import Clock
from knock.core import pow as proof_of_work
from knock.core.forms import Submission
from knock.store import Store

KEY = "knock_page.pow_key"
CHALLENGE_FIELD = "pow_challenge"
NONCE_FIELD = "pow_nonce"
ALREADY_USED = "This form was already sent once; reload the page and try again."


class Proofs:
    """Issue and check proof-of-work challenges (off when `bits` is 0)."""

    def __init__(self, store: Store, clock: Clock, *, bits: int, key: bytes) -> None:
        self.store = store
        self.clock = clock
        self.bits = bits
        self.key = key

    @staticmethod
    async def load_key(store: Store, now: float) -> bytes:
        """Return the key that signs challenges, made once per database (shared by processes)."""
        key = await store.add_value_once(KEY, secrets.token_hex(32), now)
        return bytes.fromhex(key)

    @property
    def enabled(self) -> bool:
        """Whether posts must carry a proof."""
        return self.bits > 0

    def challenge(self) -> str | None:
        """A new challenge's text for a page, or None when no proof is asked."""
        if not self.enabled:
            return None
        return proof_of_work.issue(self.key, self.clock.now(), self.bits).text

    async def verify(self, fields: Mapping[str, str]) -> str | None:
        """Check a post's proof and spend its challenge; return what to tell the person, or None."""
        if not self.enabled:
            return None
        checked = proof_of_work.check(
            self.key,
            fields.get(CHALLENGE_FIELD),
            fields.get(NONCE_FIELD),
            self.clock.now(),
            self.bits,
        )
        if isinstance(checked, proof_of_work.Refused):
            return checked.message
        if not await self.store.pages.spend_challenge(checked.challenge_id, checked.expires_at):
            return ALREADY_USED
        return None


def without_proof(submission: Submission) -> Submission:
    """The submission without its proof-of-work fields (they are not answers)."""
    proof = (CHALLENGE_FIELD, NONCE_FIELD)
    kept = tuple(field for field in submission.fields if field.key not in proof)
    return replace(submission, fields=kept)
