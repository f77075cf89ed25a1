"""Sign-in links: a moderator asks on the console's sign-in page and gets a link by direct message.

Asking answers the same, as fast, whatever the account: the request is kept and a job looks at the
account afterwards. The job sends a link only to a moderator (see `Moderators`): first from the
kept power levels (no homeserver call for anyone else), then from the room itself. A link is
`PUBLIC_URL` + `/console/link/<token>`: the token is random, only its SHA-256 is kept, it works
once and for `LINK_TTL`, and it is used up only by the **Sign in** button's post, never by a GET
(a chat client's link preview fetches it). Requests are limited per asking address (past it: 429)
and per named account (past it: kept and counted, but nothing is sent).
"""

from __future__ import annotations

import hashlib
import html
import logging
import secrets

from knock.clock import Clock
from knock.config import Settings
from knock.matrix.client import MatrixClient
from knock.services.homeserver.direct import DirectChats
from knock.services.moderation.moderators import DoorModerators
from knock.services.wakeup import Wakeup
from knock.store import Job, Store
from knock.store.console import Asked

log = logging.getLogger(__name__)

LINK_TTL = 600.0  # seconds a link works after it is sent
KEPT_FOR = 86_400.0  # seconds requests are kept (at least as long as either limit's window)
LINK_PATH = "/console/link/"


class SignInLinks:
    """Take requests for sign-in links, send them to moderators, and use them up."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        *,
        moderators: DoorModerators,
        chats: DirectChats,
        wakeup: Wakeup,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.moderators = moderators
        self.chats = chats
        self.wakeup = wakeup

    @property
    def enabled(self) -> bool:
        """Whether links can be sent: they need PUBLIC_URL, the only base a link is made on."""
        return self.settings.public_url is not None

    async def ask(self, user_id: str, address: str) -> Asked:
        """Keep a request for a link to `user_id` from a (hashed) address, within the limits."""
        asked = await self.store.console.ask_for_link(
            user_id,
            address,
            self.clock.now(),
            per_address=self.settings.sign_in_link_limit_per_ip,
            per_user=self.settings.sign_in_link_limit_per_user,
        )
        if asked.queued:
            self.wakeup.job_added()
        elif asked.retry_after is None:
            log.info("Sign-in links for %s are at their limit; this request sends none", user_id)
        return asked

    async def send(self, job: Job) -> None:
        """The job of a request: send a link if the account may moderate; else nothing."""
        request = await self.store.console.link_request(job.job_id)
        if request is None or self.settings.public_url is None:
            return
        if self.clock.now() - request.requested_at > LINK_TTL:
            log.info("Sent no sign-in link to %s: asked for too long ago", request.user_id)
            return
        user_id = request.user_id
        if not await self.moderators.moderates_any_now(user_id):
            return
        token = secrets.token_urlsafe(32)
        token_hash = _hash(token)
        await self.store.console.link_made(request.link_id, token_hash, self.clock.now() + LINK_TTL)
        room = await self.chats.room_with(user_id)
        body, formatted = _message(self.settings.public_url + LINK_PATH + token)
        # A retried send makes a new link, so it is a new message (the old link no longer works).
        txn_id = f"sign-in-{request.link_id}-{token_hash[:16]}"
        await self.matrix.send_message(room, body, formatted, mentions=[], txn_id=txn_id)
        log.info("Sent a console sign-in link to %s", user_id)

    async def usable(self, token: str) -> bool:
        """Tell whether a link would sign someone in now (without using it up)."""
        if not _plausible(token):
            return False
        return await self.store.console.usable_link(_hash(token), self.clock.now()) is not None

    async def use(self, token: str) -> str | None:
        """Use a link up; return the moderator it signs in, or None (used, expired, unknown, or
        the account no longer moderates)."""
        if not _plausible(token):
            return None
        user_id = await self.store.console.use_link(_hash(token), self.clock.now())
        if user_id is None or not await self.moderators.doors_of(user_id):
            return None
        return user_id

    async def forget(self) -> int:
        """Forget old requests; return how many."""
        return await self.store.console.forget_links(self.clock.now() - KEPT_FOR)


def _message(link: str) -> tuple[str, str]:
    minutes = int(LINK_TTL // 60)
    body = (
        "Someone asked to sign in to Knock's console as you. "
        f"This link signs in the browser that opens it, once, within {minutes} minutes:\n{link}\n"
        "If it was not you, ignore this message: nothing happens unless the link is used."
    )
    formatted = (
        "Someone asked to sign in to Knock's console as you. "
        f"This link signs in the browser that opens it, once, within {minutes} minutes:<br>"
        f'<a href="{html.escape(link)}">Sign in to the console</a><br>'
        "If it was not you, ignore this message: nothing happens unless the link is used."
    )
    return body, formatted


def _plausible(token: str) -> bool:
    return 20 <= len(token) <= 128


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
