"""Display names and avatars of the people who knock, as the console shows them.

Read from Knock's own cache only, which the worker's lookups fill (services/homeserver/profiles.py):
the console never calls the homeserver per page view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from knock.store import Store


@dataclass(frozen=True)
class Profile:
    """What the console shows of a person besides their Matrix ID."""

    display_name: str | None
    has_avatar: bool = False


@dataclass(frozen=True)
class Avatar:
    """An avatar's image, as served to the console."""

    content: bytes
    content_type: str  # image/png, image/jpeg, image/webp or image/gif


class Profiles:
    """The cached profiles of people who knocked."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, user_ids: Iterable[str]) -> dict[str, Profile]:
        """The cached profiles of these people (those not cached yet are left out)."""
        cached = await self.store.profiles.of(user_ids)
        return {
            user_id: Profile(profile.display_name, profile.has_avatar)
            for user_id, profile in cached.items()
        }

    async def avatar(self, user_id: str) -> Avatar | None:
        """The cached avatar of a person, or None."""
        stored = await self.store.profiles.avatar(user_id)
        return None if stored is None else Avatar(stored.content, stored.content_type)
