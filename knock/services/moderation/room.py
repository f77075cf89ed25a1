"""Review in Matrix: knocks held for review are posted to the moderation room, and moderators
answer there — ✅ / ❌ reactions, or `!approve @id`, `!deny @id`, `!block @id reason`,
`!block <pattern> confirm` for a held entry, and `!approve wave` / `!deny wave` for every knock a
join wave holds. A door's own moderation room blocks at its doors only (an entry of that door's
own); the main one at every door. Posts carry `m.mentions: {}`, so the ids they quote ping
nobody."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.answers import questions
from knock.core.evidence import read_evidence
from knock.core.history import Actor
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import Event, Reason, State
from knock.matrix.client import MatrixClient
from knock.services.blocklist.actions import Blocking, NeedsConfirmation
from knock.services.blocklist.index import BadPattern
from knock.services.homeserver.account import BotAccount
from knock.services.moderation.actions import Moderation, NoSuchKnock, NotInReview
from knock.services.moderation.moderators import Moderators
from knock.services.moderation.notices import would_remove
from knock.store import Store

log = logging.getLogger(__name__)

APPROVE, DENY = "✅", "❌"
# A review post shows this many of the form's answers, each cut to so many characters.
SHOWN_ANSWERS = 6
QUESTION_CHARS = 80
ANSWER_CHARS = 200
CUT = "… (cut)"
WAVE = "wave"  # `!approve wave`, `!deny wave`: every knock the join-wave breaker holds


class ModerationRoom:
    """Post reviews to the moderation room and carry out what its moderators decide."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        moderation: Moderation,
        blocking: Blocking,
        account: BotAccount,
        moderators: Moderators,
        doors: tuple[str, ...] = (DEFAULT_DOOR,),
    ) -> None:
        assert settings.moderation_room_id is not None
        self.room_id: str = settings.moderation_room_id
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.moderation = moderation
        self.blocking = blocking
        self.account = account
        self.moderators = moderators
        self.doors = doors  # the doors whose knocks it reviews

    async def announce(self, knock: KnockRecord) -> None:
        """Post a knock held for review, with its explanation and how to answer."""
        if knock.state is not State.REVIEW:
            return
        history = await self.store.history(knock.knock_id)
        evidence = next(
            (h.detail for h in reversed(history) if h.event == Event.HELD_FOR_REVIEW), None
        )
        at = "" if knock.door == DEFAULT_DOOR else f" at door {knock.door}"
        head = [f"Knock from {knock.user_id}{at} is held for review ({knock.reason})."]
        head += [line for line in _readable(evidence).split("\n") if line]
        answers = review_answers(knock.knock_id, await self.store.answers_of(knock.knock_id))
        how = (
            f"React {APPROVE} to invite or {DENY} to turn it down, or send "
            f"!approve {knock.user_id} / !deny {knock.user_id}."
        )
        body = "\n".join([*head, *answers.lines(), how])
        formatted = (
            "<br>".join(html.escape(line) for line in head) + answers.html() + html.escape(how)
        )
        event_id = await self.matrix.send_message(
            self.room_id, body, formatted, mentions=[], txn_id=f"announce-{knock.knock_id}"
        )
        await self.store.add_review_post(event_id, knock.knock_id)

    async def handle(self, event: dict[str, Any]) -> None:
        """Act on one event of the moderation room, if a moderator sent it.

        Only a person's text (`m.text`) is a command: a bridge or bot relaying a notice
        (`m.notice`) at moderator power is not obeyed, nor is an emote.
        """
        sender = str(event.get("sender", ""))
        if self.account.is_bot(sender) or event.get("type") not in ("m.reaction", "m.room.message"):
            return
        content = event.get("content", {})
        if event["type"] == "m.room.message" and content.get("msgtype") != "m.text":
            return
        # Asked of the room itself (one call per command): a command acts at once, on its own.
        if not await self.moderators.is_moderator_now(sender):
            return
        if event["type"] == "m.reaction":
            await self._reaction(sender, content.get("m.relates_to", {}))
        else:
            await self._command(sender, str(content.get("body", "")), str(event.get("event_id")))

    async def _reaction(self, sender: str, relation: dict[str, Any]) -> None:
        target = str(relation.get("event_id", ""))
        key = relation.get("key")
        knock_id = await self.store.knock_for_review_post(target)
        if knock_id is None or key not in (APPROVE, DENY):
            return
        said = await self._decide(knock_id, sender, approve=key == APPROVE)
        await self.matrix.send_message(self.room_id, said, mentions=[], thread_root=target)

    async def _command(self, sender: str, body: str, event_id: str) -> None:
        words = body.strip().split(maxsplit=2)
        if not words or words[0] not in ("!approve", "!deny", "!block") or len(words) < 2:
            return
        command, user_id = words[0], words[1]
        if command == "!block":
            said = await self._block(sender, user_id, words[2] if len(words) > 2 else None)
        elif user_id == WAVE:
            said = await self._decide_wave(sender, approve=command == "!approve")
        else:
            knock = await self._held(user_id)
            if knock is None:
                said = f"{user_id} has no knock waiting for review."
            else:
                said = await self._decide(knock.knock_id, sender, approve=command == "!approve")
        await self.matrix.send_message(self.room_id, said, mentions=[], thread_root=event_id)

    async def _held(self, user_id: str) -> KnockRecord | None:
        """The person's newest knock in review through one of this room's doors."""
        found = [
            knock
            for door in self.doors
            if (knock := await self.store.latest_knock(user_id, [State.REVIEW], door=door))
        ]
        return max(found, key=lambda knock: knock.received_at, default=None)

    async def _decide_wave(self, sender: str, *, approve: bool) -> str:
        """`!approve wave` / `!deny wave`: every knock the join-wave breaker holds (at this
        room's doors)."""
        actor, reason = Actor.matrix(sender), Reason.JOIN_WAVE.value
        if approve:
            approved = await self.moderation.approve_matching(
                actor, reason=reason, doors=self.doors
            )
            return f"Approved {len(approved)} knocks held by the join wave."
        denied = await self.moderation.deny_matching(
            actor, reason=reason, limit=100_000, doors=self.doors
        )
        return f"Denied {len(denied)} knocks held by the join wave."

    async def _decide(self, knock_id: str, sender: str, *, approve: bool) -> str:
        actor = Actor.matrix(sender)
        try:
            if approve:
                knock = await self.moderation.approve(knock_id, actor)
                return f"Approved: {knock.user_id} will be invited."
            knock = await self.moderation.deny(knock_id, actor)
            return f"Denied: {knock.user_id} will not be invited."
        except NotInReview as exc:
            return f"Nothing done: that knock is not waiting for review ({exc})."
        except NoSuchKnock:
            return "Nothing done: that knock no longer exists (erased after RETENTION)."

    async def _block(self, sender: str, pattern: str, rest: str | None) -> str:
        """`!block <pattern> [reason]`, or `!block <pattern> confirm [reason]` for a held one.

        The main moderation room (the default door's) blocks at every door. A door's own
        moderation room adds an entry of that door's own (of each door it reviews): it refuses
        knocks there and removes people from that door's rooms only.
        """
        actor = Actor.matrix(sender)
        first, _, after = (rest or "").partition(" ")
        confirm = first.lower() == "confirm"
        reason = (after if confirm else rest or "").strip() or None
        doors: list[str | None] = [None] if DEFAULT_DOOR in self.doors else list(self.doors)
        try:
            entry = self.blocking.blocklist.entry_for(pattern, reason=reason, source=str(actor))
        except BadPattern as exc:
            return f"Nothing done: {exc}."
        said = []
        for door in doors:
            at = "" if door is None else f" at door {door}"
            try:
                # The reply in the thread is the announcement: no second post in the room.
                result = await self.blocking.block(
                    entry, actor, confirm=confirm, announce=False, door=door
                )
            except NeedsConfirmation as exc:
                said.append(
                    f"Held {entry.pattern}{at}: {would_remove(exc.plan.removed, self.settings)}. "
                    f"New knocks it covers are refused; send !block {entry.pattern} confirm "
                    "to remove them."
                )
                continue
            said.append(
                f"Blocked {entry.pattern}{at}; {result.plan.people} removed or turned down."
            )
        return "\n".join(said)


def _readable(evidence: str | None) -> str:
    """Say in words what the block-list found (the audit log keeps the full match objects)."""
    matches = read_evidence(evidence)
    if matches is None:
        return evidence or ""
    return "\n".join(f"- {match.readable()}" for match in matches)


@dataclass(frozen=True)
class ReviewAnswers:
    """The form's answers as a review post shows them: a few, each short, on one line."""

    shown: list[tuple[str, str]]  # (question, answer), cut to length
    more: int  # answers left out
    knock_id: str

    def lines(self) -> list[str]:
        """The plain-text lines (none when the knock kept no answers)."""
        if not self.shown:
            return []
        lines = ["Answers:", *(f"- {question}: {answer}" for question, answer in self.shown)]
        if self.more:
            lines.append(f"(and {self.more} more answers: GET /knocks/{self.knock_id} shows all)")
        return lines

    def html(self) -> str:
        """The formatted body's list, escaped (empty when the knock kept no answers)."""
        if not self.shown:
            return ""
        items = "".join(
            f"<li><b>{html.escape(question)}</b>: {html.escape(answer)}</li>"
            for question, answer in self.shown
        )
        more = self.lines()[-1] if self.more else ""
        return f"<p>Answers:</p><ul>{items}</ul>" + (f"<p>{html.escape(more)}</p>" if more else "")


def review_answers(knock_id: str, answers: dict[str, str] | None) -> ReviewAnswers:
    """Pick the answers a review post shows: the first few, on one line each, cut to length."""
    items = list(questions(answers or {}))
    shown = [
        (_shorten(question, QUESTION_CHARS), _shorten(answer, ANSWER_CHARS) or "(no answer)")
        for question, answer in items[:SHOWN_ANSWERS]
    ]
    return ReviewAnswers(shown, len(items) - len(shown), knock_id)


def _shorten(text: str, limit: int) -> str:
    """The text on one line, cut to `limit` characters with a mark saying so."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: limit - len(CUT)].rstrip() + CUT
