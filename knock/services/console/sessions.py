"""Console sessions: signed in with the API key or a moderator's sign-in link, kept in the
database, ended by time, by a new key, or by the moderator losing their power.

The browser holds a random token in an HttpOnly cookie; the database holds only its SHA-256, so
a copy of the database signs nobody in. Each session has its own form token (CSRF). A session
opened with the API key keeps a keyed mark of it: when API_KEY changes, every session opened with
the old one ends at its next request. A session opened with a sign-in link acts as its moderator
(`console:@moderator:server`) and is re-checked on every request against the power levels the
live view keeps: demoted, it ends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from knock.clock import Clock
from knock.config import Settings
from knock.core.forms import same_secret
from knock.core.history import Actor, ActorKind
from knock.services.moderation.moderators import DoorModerators
from knock.store import Store
from knock.store.console import StoredSession

KEY_MARK_SALT = "console.key_mark_salt"
API_KEY_ACTOR = Actor(ActorKind.CONSOLE, "api-key")
NO_KEY_MARK = ""  # a moderator's session is not tied to the API key


@dataclass(frozen=True)
class Session:
    """A signed-in console session."""

    actor: Actor
    csrf: str  # the form token every post of this session must carry
    # The doors it may see and act on: a moderator's, as the power levels say now; None (the
    # API key's session): every door.
    doors: frozenset[str] | None = None

    def may_act_at(self, door: str) -> bool:
        """Tell whether this session may see and act on a door's knocks."""
        return self.doors is None or door in self.doors

    def form_token_matches(self, given: str | None) -> bool:
        """Tell whether a post carries this session's form token."""
        return same_secret(given, self.csrf)


@dataclass(frozen=True)
class Opened:
    """A session just opened: the cookie's token goes to the browser, once."""

    token: str
    session: Session
    max_age: int  # seconds, for the cookie


class ConsoleSessions:
    """Open, read and end console sessions."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        salt: bytes,
        moderators: DoorModerators,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.salt = salt
        self.moderators = moderators

    @staticmethod
    async def load_salt(store: Store, now: float) -> bytes:
        """The salt of the API key's mark, made once per database."""
        return bytes.fromhex(await store.add_value_once(KEY_MARK_SALT, secrets.token_hex(32), now))

    @property
    def by_key(self) -> bool:
        """Whether the API key signs in (API_KEY is set)."""
        return self.settings.api_key is not None

    @property
    def by_link(self) -> bool:
        """Whether moderators can ask for sign-in links (PUBLIC_URL is set)."""
        return self.settings.public_url is not None

    @property
    def enabled(self) -> bool:
        """Whether anyone can sign in at all."""
        return self.by_key or self.by_link

    async def sign_in(self, key: str) -> Opened | None:
        """Open a session for the holder of the API key; None for a wrong key (or none set)."""
        current = self._key()
        if current is None or not same_secret(key, current):
            return None
        return await self._open(API_KEY_ACTOR, self._mark(current))

    async def sign_in_moderator(self, user_id: str) -> Opened:
        """Open a session acting as a moderator (whose sign-in link was just used)."""
        opened = await self._open(Actor(ActorKind.CONSOLE, user_id), NO_KEY_MARK)
        doors = await self.moderators.doors_of(user_id)
        return replace(opened, session=replace(opened.session, doors=doors))

    async def session(self, token: str | None) -> Session | None:
        """Return the session a cookie's token opens, or None (unknown, expired, opened with an
        old key, or its moderator no longer moderates: then it ends)."""
        if not token or len(token) > 128:
            return None
        stored = await self.store.console.session(_hash(token))
        if stored is None or stored.expires_at <= self.clock.now():
            return None
        actor = Actor.parse(stored.actor)
        if stored.key_mark == NO_KEY_MARK:
            moderator = actor.name or ""
            doors = await self.moderators.doors_of(moderator) if moderator.startswith("@") else None
            if not doors:
                await self.store.console.end_session(_hash(token))
                return None
            return Session(actor, stored.csrf, doors)
        current = self._key()
        if current is None or not hmac.compare_digest(stored.key_mark, self._mark(current)):
            return None
        return Session(actor, stored.csrf)

    async def _open(self, actor: Actor, key_mark: str) -> Opened:
        token = secrets.token_urlsafe(32)
        ttl = self.settings.console_session_ttl
        stored = StoredSession(
            actor=str(actor),
            csrf=secrets.token_urlsafe(24),
            key_mark=key_mark,
            expires_at=self.clock.now() + ttl,
        )
        await self.store.console.add_session(_hash(token), stored, self.clock.now())
        return Opened(token, Session(actor, stored.csrf), int(ttl))

    async def sign_out(self, token: str | None) -> None:
        """End the session of a cookie's token."""
        if token:
            await self.store.console.end_session(_hash(token))

    def _key(self) -> str | None:
        key = self.settings.api_key
        return None if key is None else key.get_secret_value()

    def _mark(self, key: str) -> str:
        return hmac.new(self.salt, key.encode(), hashlib.sha256).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
