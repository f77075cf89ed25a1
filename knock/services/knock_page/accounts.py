"""Ask the homeserver whether a knock page's account exists, whatever admission decided.

The status page says `not_found` exactly when the homeserver said so; asking for every knock
with a valid id (blocked, held, deferred or caught by the honeypot alike) keeps that answer from
telling anyone what admission decided.
"""

from __future__ import annotations

from knock.clock import Clock
from knock.core.knocks import KnockRecord
from knock.matrix.client import MatrixClient
from knock.services.homeserver.profiles import ProfileCache, look_up
from knock.store import Store


class AccountChecks:
    """Carry out account-check jobs."""

    def __init__(
        self, store: Store, matrix: MatrixClient, clock: Clock, profiles: ProfileCache
    ) -> None:
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.profiles = profiles

    async def check(self, knock: KnockRecord) -> None:
        """Look the knock's account up; keep the answer for its status page, and the profile
        for the console (so a knock page's knock held for review needs no other lookup)."""
        lookup = await look_up(self.matrix, knock.user_id)
        await self.store.pages.record_account(knock.user_id, lookup.known, self.clock.now())
        await self.profiles.record(knock.user_id, lookup)
