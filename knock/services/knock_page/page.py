"""Knock's own knock page: take a knock from a person's browser, and say where it stands.

A post always ends at a status link (303), whatever admission decided, so the answer tells
nothing; only a malformed id (422, shown again with the problem) and an address that must slow
down (429) are said out loud, as to any per-address caller.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from knock import log_context
from knock.clock import Clock
from knock.config import Settings, read_questions
from knock.core.addresses import client_address
from knock.core.admission_state import StatusLink
from knock.core.forms import (
    CallerKind,
    Field,
    PayloadError,
    Submission,
    require_storable,
    same_site_post,
)
from knock.core.knocks import DEFAULT_DOOR
from knock.core.page_status import PageState, page_state
from knock.services.errors import Unavailable
from knock.services.invites.intake import Intake
from knock.services.knock_page.proof import Proofs
from knock.store import Store

log = logging.getLogger(__name__)

PLATFORM = "page"  # recorded as the source `page`, by the actor `form:page`
ID_FIELD = "matrix_id"
MAX_ANSWER = 2000  # characters kept of one answer


class Answer(StrEnum):
    """How the page answers a post."""

    STATUS = "status"  # 303 to the knock's status link, whatever was decided
    FIX_ID = "fix_id"  # 422: the form again, with what is wrong with the id
    SLOW_DOWN = "slow_down"  # 429: this address sent too much
    NOT_HERE = "not_here"  # 403: posted from another site's page
    UNREADABLE = "unreadable"  # 400: the post could not be read (or the proof of work failed)
    UNAVAILABLE = "unavailable"  # 503: nothing was stored; try again in a moment


@dataclass(frozen=True)
class PagePost:
    """One post of the knock page's form, as it arrived."""

    fields: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    peer: str | None


@dataclass(frozen=True)
class PageAnswer:
    """What the person is shown after posting."""

    answer: Answer
    token: str | None = None  # the status link's token (Answer.STATUS)
    problem: str | None = None  # words for the person (every answer but STATUS)
    retry_after: int | None = None  # seconds (Answer.SLOW_DOWN)


@dataclass(frozen=True)
class Status:
    """What a status link shows."""

    state: PageState
    user_id: str  # the id as Knock read it (shown with `not_found`, so a typo can be seen)
    door: str  # the door whose page made the link (its texts are shown)


class KnockPage:
    """One door's knock page: its words, its questions, its posts and its status links."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        intake: Intake,
        proofs: Proofs,
        *,
        door: str = DEFAULT_DOOR,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.intake = intake
        self.proofs = proofs
        self.door = door
        path = settings.knock_page_questions_file
        self.questions = read_questions(path) if path is not None else ()
        self.honeypot = settings.honeypot_fields[0] if settings.honeypot_fields else None

    @property
    def title(self) -> str:
        """The page's title."""
        return self.settings.knock_page_title

    @property
    def room_name(self) -> str | None:
        """The room's public name (never its id or alias)."""
        return self.settings.knock_page_room_name

    @property
    def description(self) -> str | None:
        """A few words about the room."""
        return self.settings.knock_page_description

    async def knock(self, post: PagePost) -> PageAnswer:
        """Take one post: commit its knock, and say where to look for its status."""
        with log_context.about(door=self.door):
            return await self._knock(post)

    async def _knock(self, post: PagePost) -> PageAnswer:
        if not same_site_post(post.headers, frozenset(self.settings.allowed_origins)):
            return PageAnswer(Answer.NOT_HERE, problem="Knock takes this form only from its page.")
        problem = await self.proofs.verify(post.fields)
        if problem is not None:
            return PageAnswer(Answer.UNREADABLE, problem=problem)
        requested = post.fields.get(ID_FIELD, "").strip()
        if not requested:
            return PageAnswer(Answer.FIX_ID, problem="Enter your Matrix ID, like @name:server.")
        try:
            submission = require_storable(self._submission(post.fields))
        except PayloadError as exc:
            return PageAnswer(Answer.UNREADABLE, problem=exc.message)
        token = secrets.token_urlsafe(24)  # 192 bits
        link = StatusLink(token_hash(token), self.door)
        client = client_address(
            post.peer, post.headers.get("x-forwarded-for"), self.settings.trusted_proxies
        )
        try:
            outcome = await self.intake.knock(
                submission, requested, client.address, CallerKind.PER_ADDRESS, link
            )
        except Unavailable:
            log.error("Could not commit a knock from the knock page; asked the person to retry")
            return PageAnswer(
                Answer.UNAVAILABLE,
                problem="Knock cannot take requests right now. Nothing was sent; "
                "try again in a minute.",
            )
        log_context.mark_knock(outcome.knock_id)
        if outcome.retry_after is not None:
            wait = max(1, math.ceil(outcome.retry_after))
            return PageAnswer(Answer.SLOW_DOWN, problem=_try_again(wait), retry_after=wait)
        if outcome.problem:
            problem = f"That Matrix ID is not valid: {outcome.problem}"
            return PageAnswer(Answer.FIX_ID, problem=problem)
        return PageAnswer(Answer.STATUS, token=token)

    async def status(self, token: str) -> Status | None:
        """Return what a status link shows, or None for a link Knock does not know."""
        if not 16 <= len(token) <= 64:
            return None
        facts = await self.store.pages.status(token_hash(token))
        if facts is None:
            return None
        return Status(page_state(facts), facts.user_id, facts.door)

    def _submission(self, fields: Mapping[str, str]) -> Submission:
        answers = [Field("Matrix ID", ID_FIELD, None, fields.get(ID_FIELD, "")[:MAX_ANSWER])]
        for number, question in enumerate(self.questions, start=1):
            value = fields.get(question_field(number), "").strip()
            answers.append(Field(question, None, None, value[:MAX_ANSWER]))
        if self.honeypot is not None and fields.get(self.honeypot):
            # Kept so the knock shows what caught it; the field is hidden from people.
            value = fields[self.honeypot][:MAX_ANSWER]
            answers.append(Field(None, self.honeypot, None, value, hidden=True))
        return Submission(PLATFORM, None, tuple(answers))


def question_field(number: int) -> str:
    """The form field that answers the page's question `number` (from 1)."""
    return f"q{number}"


def token_hash(token: str) -> str:
    """What the database keeps of a status link's token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _try_again(seconds: int) -> str:
    if seconds < 90:
        when = f"{seconds} seconds"
    elif seconds < 5400:
        when = f"{math.ceil(seconds / 60)} minutes"
    else:
        when = f"{math.ceil(seconds / 3600)} hours"
    return f"Too many requests came from your network. Try again in {when}."
