"""The knock page's records: status links, what homeservers said of accounts, used challenges."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.core.lifecycle import State
from knock.core.page_status import StatusFacts
from knock.store.blocklist import Writer
from knock.store.schema import account_checks, knock_pages, knocks, spent_challenges
from knock.store.writes import upsert


class PageQueries:
    """Named queries for the knock page."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def status(self, token_hash: str) -> StatusFacts | None:
        """Return what a status link shows, or None for a link Knock does not know.

        A link made for a duplicate shows the person's own knock that it duplicated.
        """
        k = knocks.c
        query = (
            select(k.user_id, k.state, k.reason, k.invited_at, k.received_at, k.door)
            .join(knock_pages, knock_pages.c.knock_id == k.knock_id)
            .where(knock_pages.c.token_hash == token_hash)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            if row.state == State.DROPPED.value:
                # The knock it duplicated (or, backed off, the person's latest): the newest of
                # theirs at the same door that was not dropped, made before this one.
                earlier = (
                    select(k.user_id, k.state, k.reason, k.invited_at, k.received_at, k.door)
                    .where(
                        k.user_id == row.user_id,
                        k.door == row.door,
                        k.state != State.DROPPED.value,
                        k.received_at <= row.received_at,
                    )
                    .order_by(k.received_at.desc())
                    .limit(1)
                )
                row = (await conn.execute(earlier)).first() or row
            check = select(account_checks.c.known).where(account_checks.c.user_id == row.user_id)
            known = (await conn.execute(check)).scalar_one_or_none()
        return StatusFacts(
            user_id=row.user_id,
            state=State(row.state),
            reason=row.reason,
            invited=row.invited_at is not None,
            known=None if known is None else bool(known),
            door=row.door,
        )

    async def record_account(self, user_id: str, known: bool | None, now: float) -> None:
        """Keep what the homeserver said about an account (None: it would not say)."""
        value = None if known is None else int(known)
        row = {"user_id": user_id, "known": value, "checked_at": now}
        async with self._write() as conn:
            await upsert(
                conn, account_checks, row, ["user_id"], {"known": value, "checked_at": now}
            )

    async def spend_challenge(self, challenge_id: str, expires_at: float) -> bool:
        """Use a proof-of-work challenge up; return False when it was used before."""
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(spent_challenges).values(
                        challenge_id=challenge_id, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True

    async def forget(self, now: float, checked_before: float) -> None:
        """Erase expired challenges and account answers older than `checked_before`."""
        async with self._write() as conn:
            await conn.execute(delete(spent_challenges).where(spent_challenges.c.expires_at < now))
            await conn.execute(
                delete(account_checks).where(account_checks.c.checked_at < checked_before)
            )
