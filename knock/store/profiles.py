"""The profile cache: display names and avatars of people who knocked, as last looked up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knock.store.blocklist import Writer
from knock.store.schema import knocks, profiles
from knock.store.writes import upsert

_CHUNK = 500  # ids per query when reading many profiles


@dataclass(frozen=True)
class CachedProfile:
    """What the cache holds of one person, without the avatar's bytes."""

    display_name: str | None
    avatar_mxc: str | None  # the avatar as last looked up (kept or refused)
    has_avatar: bool  # its image is kept


@dataclass(frozen=True)
class StoredAvatar:
    """An avatar's kept image."""

    content: bytes
    content_type: str


class ProfileQueries:
    """Named queries for the profile cache."""

    def __init__(self, engine: AsyncEngine, write: Writer) -> None:
        self.engine = engine
        self._write = write

    async def record(
        self,
        user_id: str,
        display_name: str | None,
        avatar_mxc: str | None,
        avatar: StoredAvatar | None,
        now: float,
    ) -> None:
        """Keep what a lookup found, replacing what was kept of the person before."""
        values = {
            "display_name": display_name,
            "avatar_mxc": avatar_mxc,
            "avatar": avatar.content if avatar else None,
            "avatar_type": avatar.content_type if avatar else None,
            "fetched_at": now,
        }
        async with self._write() as conn:
            await upsert(conn, profiles, {"user_id": user_id, **values}, ["user_id"], values)

    async def renew(self, user_id: str, display_name: str | None, now: float) -> None:
        """Keep a newer lookup's display name; the avatar is the one kept already."""
        async with self._write() as conn:
            await conn.execute(
                update(profiles)
                .where(profiles.c.user_id == user_id)
                .values(display_name=display_name, fetched_at=now)
            )

    async def of(self, user_ids: Iterable[str]) -> dict[str, CachedProfile]:
        """The cached profiles of these people (those never looked up are left out)."""
        wanted = sorted(set(user_ids))
        c = profiles.c
        found: dict[str, CachedProfile] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                query = select(
                    c.user_id, c.display_name, c.avatar_mxc, c.avatar_type.is_not(None)
                ).where(c.user_id.in_(wanted[start : start + _CHUNK]))
                for user_id, name, mxc, has_avatar in await conn.execute(query):
                    found[user_id] = CachedProfile(name, mxc, bool(has_avatar))
        return found

    async def avatar(self, user_id: str) -> StoredAvatar | None:
        """A person's kept avatar image, or None."""
        c = profiles.c
        query = select(c.avatar, c.avatar_type).where(
            c.user_id == user_id, c.avatar.is_not(None), c.avatar_type.is_not(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else StoredAvatar(bytes(row.avatar), row.avatar_type)

    async def forget(self, fetched_before: float) -> int:
        """Erase the profiles of people with no knock left, looked up before `fetched_before`."""
        has_knock = exists().where(knocks.c.user_id == profiles.c.user_id)
        async with self._write() as conn:
            result = await conn.execute(
                delete(profiles).where(profiles.c.fetched_at < fetched_before, ~has_knock)
            )
        return int(result.rowcount)
