"""Follow every invite to its end: welcome on join, record declines, remind, expire, enforce.

Membership changes arrive from the sync loop within seconds; the periodic scans reconcile what
the live view missed (for instance while Knock was down).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from knock.clock import Clock
from knock.config import Settings
from knock.core.forms import Field, Submission
from knock.core.lifecycle import Event, State
from knock.matrix.client import MatrixClient, MatrixError
from knock.services.blocking import Blocking
from knock.store import KnockRecord, Store

if TYPE_CHECKING:
    from knock.services.intake import Intake

log = logging.getLogger(__name__)

WELCOME_JOB = "welcome"
REMIND_JOB = "remind"
WATCHDOG = "watchdog"
NATIVE = "native"
DM_ROOMS = "m.direct"


class Follower:
    """React to the room's membership and to the passing of time."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        clock: Clock,
        blocking: Blocking,
        bot_id: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.blocking = blocking
        self.bot_id = bot_id
        self.room_id = settings.new_room_id
        self.intake: Intake | None = None  # set once intake exists (it is built after us)
        self.on_job: Callable[[], None] = lambda: None  # wakes the worker for a new job

    # Live membership changes.

    async def membership_changed(
        self, user_id: str, membership: str, sender: str, event_id: str | None = None
    ) -> None:
        """Handle one membership change seen in the room."""
        if user_id == self.bot_id:
            return
        if membership == "knock":
            await self._native_knock(user_id, event_id)
            return
        if membership in ("join", "invite") and await self._removed_if_blocked(user_id):
            return
        if membership == "join":
            await self._joined(user_id)
        elif membership == "leave" and sender == user_id:
            await self._left(user_id)

    async def _native_knock(self, user_id: str, event_id: str | None) -> None:
        """Treat a Matrix knock like a form's: the same checks, the same audit trail."""
        if self.intake is None:
            return
        submission = Submission(
            platform=NATIVE,
            submission_id=event_id,
            fields=(Field("Matrix ID", "user_id", None, user_id),),
        )
        outcome = await self.intake.knock(submission, user_id, None)
        if outcome.created and outcome.state in (State.REJECTED, State.DROPPED):
            # Declining a knock is a kick, with the same neutral reason as every removal.
            await self.matrix.kick(self.room_id, user_id, self.settings.kick_reason)

    async def _joined(self, user_id: str) -> None:
        knock = await self.store.latest_knock(user_id, [State.INVITED])
        if knock is None:
            return
        moved = await self.store.move(
            knock.knock_id,
            State.JOINED,
            reason=None,
            history=[(str(Event.JOINED), f"matrix:{user_id}", None)],
            now=self.clock.now(),
            job_kind=WELCOME_JOB if self.settings.welcome_mode != "off" else None,
        )
        if moved:
            self.on_job()
            log.info("%s joined (knock %s)", user_id, knock.knock_id)

    async def _left(self, user_id: str) -> None:
        invited = await self.store.latest_knock(user_id, [State.INVITED])
        if invited is not None:
            await self.store.move(
                invited.knock_id,
                State.DECLINED,
                reason=None,
                history=[(str(Event.DECLINED), f"matrix:{user_id}", None)],
                now=self.clock.now(),
            )
            return
        joined = await self.store.latest_knock(user_id, [State.JOINED])
        if joined is not None:
            await self.store.add_history(
                joined.knock_id, [(str(Event.LEFT), f"matrix:{user_id}", None)], self.clock.now()
            )

    async def _removed_if_blocked(self, user_id: str) -> bool:
        """Remove a block-listed person who got in (or was invited) by another route."""
        decision = self.blocking.blocklist.check(user_id)
        if decision.verdict != "block":
            return False
        try:
            await self.blocking.remove(user_id, decision.matches[0].entry)
        except MatrixError as exc:
            log.warning("The watchdog could not remove %s: %s", user_id, exc)
            return False
        log.info("The watchdog removed block-listed %s", user_id)
        open_knock = await self.store.latest_knock(user_id, [State.INVITED, State.JOINED])
        if open_knock is not None:
            await self.store.move(
                open_knock.knock_id,
                State.BLOCKED,
                reason=None,
                history=[(str(Event.BLOCKED), WATCHDOG, None)],
                now=self.clock.now(),
            )
        return True

    # Jobs.

    async def welcome(self, knock: KnockRecord) -> None:
        """Welcome someone who joined, once: a retried send reuses its transaction id."""
        history = await self.store.history(knock.knock_id)
        if any(entry.event == Event.WELCOMED for entry in history):
            return
        name = await self._display_name(knock.user_id)
        body, formatted = _mention(self.settings.welcome_message, knock.user_id, name)
        room = self.room_id
        if self.settings.welcome_mode == "dm":
            room = await self.direct_room(knock.user_id)
        await self.matrix.send_message(
            room, body, formatted, mentions=[knock.user_id], txn_id=f"welcome-{knock.knock_id}"
        )
        await self.store.add_history(
            knock.knock_id, [(str(Event.WELCOMED), "knock", None)], self.clock.now()
        )

    async def remind(self, knock: KnockRecord) -> None:
        """Send one reminder about a pending invite, by direct message."""
        history = await self.store.history(knock.knock_id)
        if any(entry.event == Event.REMINDED for entry in history):
            return
        name = await self._display_name(knock.user_id)
        body, formatted = _mention(self.settings.reminder_message, knock.user_id, name)
        room = await self.direct_room(knock.user_id)
        await self.matrix.send_message(
            room, body, formatted, mentions=[knock.user_id], txn_id=f"remind-{knock.knock_id}"
        )
        await self.store.add_history(
            knock.knock_id, [(str(Event.REMINDED), "knock", None)], self.clock.now()
        )

    async def direct_room(self, user_id: str) -> str:
        """Return the bot's direct chat with a person, creating it (once) when there is none."""
        direct = await self.matrix.account_data(self.bot_id, DM_ROOMS)
        rooms = direct.get(user_id)
        if isinstance(rooms, list) and rooms:
            return str(rooms[0])
        room_id = await self.matrix.create_direct_room(user_id)
        direct[user_id] = [room_id]
        await self.matrix.set_account_data(self.bot_id, DM_ROOMS, direct)
        return room_id

    async def _display_name(self, user_id: str) -> str:
        try:
            profile = await self.matrix.profile(user_id)
        except MatrixError:
            return user_id
        name = profile.get("displayname")
        return name if isinstance(name, str) and name.strip() else user_id

    # Periodic scans.

    async def check_invites(self) -> None:
        """Reconcile pending invites: joins and declines missed, reminders due, invites expired."""
        members = await self.matrix.members(self.room_id)
        now = self.clock.now()
        for knock in await self.store.knocks_in([State.INVITED], limit=100_000):
            membership = members.get(knock.user_id)
            if membership == "join":
                await self._joined(knock.user_id)
            elif membership != "invite":
                await self._left(knock.user_id)
            else:
                await self._pending(knock, now)

    async def _pending(self, knock: KnockRecord, now: float) -> None:
        sent = knock.invited_at or knock.updated_at
        if now - sent >= self.settings.invite_ttl:
            await self.matrix.kick(self.room_id, knock.user_id, self.settings.kick_reason)
            await self.store.move(
                knock.knock_id,
                State.EXPIRED,
                reason=None,
                history=[(str(Event.EXPIRED), "knock", None)],
                now=now,
            )
        elif now - sent >= self.settings.reminder_after:
            await self.remind(knock)

    async def scan_members(self) -> None:
        """Remove block-listed people among members, invitees and knockers."""
        for user_id, membership in (await self.matrix.members(self.room_id)).items():
            if membership in ("join", "invite", "knock") and user_id != self.bot_id:
                await self._removed_if_blocked(user_id)


def _mention(template: str, user_id: str, name: str) -> tuple[str, str]:
    """Fill a message template, as plain text and as HTML with a proper mention pill."""
    link = f'<a href="https://matrix.to/#/{html.escape(user_id)}">{html.escape(name)}</a>'
    values: dict[str, Any] = {"user_id": user_id, "display_name": name}
    try:
        body = template.format(**values)
        formatted = html.escape(template).format(user_id=html.escape(user_id), display_name=link)
    except (KeyError, IndexError, ValueError):
        body = template  # a template with other braces is sent as written
        formatted = html.escape(template)
    return body, formatted
