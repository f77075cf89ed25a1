"""People's profiles on their homeserver: one lookup per knock, and what it found kept.

The worker looks each knock's person up once (the invite step, a knock page's account check, or
the lookup of a knock held for review) and keeps the display name and the avatar in the
database, where the console reads them: a page view never calls the homeserver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from knock.clock import Clock
from knock.core.knocks import KnockRecord
from knock.core.media import MAX_AVATAR_BYTES, MediaId, image_type, read_mxc
from knock.matrix.client import MatrixClient, MatrixError
from knock.store import Store
from knock.store.profiles import StoredAvatar

log = logging.getLogger(__name__)

MAX_NAME = 256  # characters of a display name kept


@dataclass(frozen=True)
class Lookup:
    """What the homeserver said about a person's profile."""

    known: bool | None  # True: they exist; False: no such user; None: it would not say (403)
    display_name: str | None = None
    avatar_url: str | None = None  # as the profile gives it (not checked yet)


async def look_up(matrix: MatrixClient, user_id: str) -> Lookup:
    """Ask the homeserver for one id's profile: does the account exist, its name and avatar."""
    try:
        profile = await matrix.profile(user_id)
    except MatrixError as exc:
        if exc.status == 404:
            return Lookup(False)
        if exc.status == 403:
            return Lookup(None)  # the homeserver limits profile lookups
        raise
    name, avatar = profile.get("displayname"), profile.get("avatar_url")
    return Lookup(
        True, name if isinstance(name, str) else None, avatar if isinstance(avatar, str) else None
    )


@dataclass(frozen=True)
class _Fetched:
    """An avatar download's outcome: the image kept, and the URI to remember as settled."""

    image: StoredAvatar | None
    settled: str | None  # None: it failed for now, and the next lookup tries again


class ProfileCache:
    """Keep what lookups find: display names, and avatars that are raster images."""

    def __init__(self, store: Store, matrix: MatrixClient, clock: Clock) -> None:
        self.store = store
        self.matrix = matrix
        self.clock = clock

    async def look_up(self, knock: KnockRecord) -> None:
        """Look a knock's person up and keep their profile (the job of a knock held for review).

        An id the homeserver calls malformed (400) ends the job, the console then shows the id
        alone; any other failure is raised, for the job to be tried again.
        """
        try:
            lookup = await look_up(self.matrix, knock.user_id)
        except MatrixError as exc:
            if exc.status != 400:
                raise
            log.info("Could not look %s up: %s", knock.user_id, exc)
            return
        await self.record(knock.user_id, lookup)

    async def record(self, user_id: str, lookup: Lookup) -> None:
        """Keep what a lookup found of an existing account.

        The avatar is downloaded only when it changed since it was last kept or refused, and
        never fails the lookup: a download that fails is tried again at the next one.
        """
        if lookup.known is not True:
            return
        name = lookup.display_name[:MAX_NAME] if lookup.display_name else None
        media = read_mxc(lookup.avatar_url)
        now = self.clock.now()
        if media is None:
            await self.store.profiles.record(user_id, name, None, None, now)
            return
        cached = (await self.store.profiles.of([user_id])).get(user_id)
        if cached is not None and cached.avatar_mxc == str(media):
            await self.store.profiles.renew(user_id, name, now)
            return
        fetched = await self._fetch(user_id, media)
        await self.store.profiles.record(user_id, name, fetched.settled, fetched.image, now)

    async def _fetch(self, user_id: str, media: MediaId) -> _Fetched:
        """Download an avatar through the bot's account; keep it only if it is a raster image."""
        try:
            content = await self.matrix.download(media, MAX_AVATAR_BYTES)
        except MatrixError as exc:  # a rate limit, an outage, a remote server's failure too
            if exc.status == 429 or exc.status >= 500:
                log.info("Could not download the avatar of %s for now: %s", user_id, exc)
                return _Fetched(None, None)
            log.info("Not keeping the avatar of %s: %s", user_id, exc)
            return _Fetched(None, str(media))
        if content is None:
            log.info(
                "Not keeping the avatar of %s: larger than %d bytes", user_id, MAX_AVATAR_BYTES
            )
            return _Fetched(None, str(media))
        content_type = image_type(content)
        if content_type is None:
            log.info("Not keeping the avatar of %s: not a PNG, JPEG, WebP or GIF image", user_id)
            return _Fetched(None, str(media))
        return _Fetched(StoredAvatar(content, content_type), str(media))
