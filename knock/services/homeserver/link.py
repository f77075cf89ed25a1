"""Knock's link to its homeserver: sign in, check the rooms, and say what is missing.

Knock starts and takes knocks whatever the homeserver's state; only a settings mistake stops it.
Everything else — the homeserver down, a Beeper code still to come, a room the bot has not joined
or lacks power in, an encrypted moderation room — is logged in one line, reported by `/readyz`,
and looked at again until it is fixed: knocks wait, committed, meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

import httpx

from knock.clock import Clock
from knock.config import Settings
from knock.core.knocks import DEFAULT_DOOR
from knock.core.retry import backoff_delay
from knock.doors import Door
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError
from knock.services.homeserver.account import BotAccount
from knock.services.homeserver.room_check import (
    RoomCheckError,
    check_moderation_room,
    check_room,
    other_rooms,
)
from knock.services.homeserver.signin import CannotSignInYet, SignIn, WaitingForCode
from knock.services.wakeup import Wakeup
from knock.store import Store

log = logging.getLogger(__name__)

RECHECK_EVERY = 60.0  # seconds between looks at what is not ready yet
RETRY_SIGN_IN_EVERY = 15.0  # at most, while the bot is not signed in
PROBE_FOR = 5.0  # seconds a homeserver probe's answer is reused (readiness probes come often)


class HomeserverLink:
    """Sign the bot in and keep track of whether it can do its job in each room."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        account: BotAccount,
        wakeup: Wakeup,
        door_rooms: Mapping[str, str] | None = None,
        moderation_rooms: list[str] | None = None,
        doors: Mapping[str, Door] | None = None,
    ) -> None:
        self.settings = settings
        # Each door's room by door, the default door's first (NEW_ROOM_ID).
        self.door_rooms = door_rooms or {DEFAULT_DOOR: settings.new_room_id}
        # The doors themselves: a space door's other rooms are checked too, and each door's
        # moderation room is reported with it.
        self.doors = doors or {}
        self.other_rooms: dict[str, list[str]] = {}  # a space door's other rooms, by door
        # Every door's moderation room (the global MODERATION_ROOM_ID among them, if set).
        self.moderation_rooms = moderation_rooms or (
            [settings.moderation_room_id] if settings.moderation_room_id else []
        )
        self.matrix = matrix
        self.clock = clock
        self.account = account
        self.wakeup = wakeup
        self.signin = SignIn(settings, store, matrix, http, clock)
        self.signed_in = False
        self.waiting_for = "sign-in not tried yet"  # why the bot is not signed in
        self.problems: dict[str, str] = {}  # room id -> what is missing there, in one line
        self._probed: tuple[float, bool] | None = None
        self._recheck = asyncio.Event()

    # What the rest of Knock asks.

    def can_call(self) -> bool:
        """Tell whether the bot has a token to call the homeserver with."""
        return self.signed_in or self.matrix.access_token is not None

    def room_ready(self, room_id: str) -> bool:
        """Tell whether the bot was last seen able to do its job in `room_id`."""
        return self.signed_in and room_id not in self.problems

    def rooms_ready(self) -> bool:
        """Tell whether every room Knock serves is ready."""
        return self.signed_in and not self.problems

    def door_problems(self) -> dict[str, list[str]]:
        """What is missing at each door, in one line each: in its room (or space), in a space
        door's other rooms, in its moderation room (none: the door is ready, once signed in)."""
        found = {}
        for name, room in self.door_rooms.items():
            door = self.doors.get(name)
            rooms = [room, *self.other_rooms.get(name, [])]
            if door is not None and door.settings.moderation_room_id:
                rooms.append(door.settings.moderation_room_id)
            found[name] = [self.problems[r] for r in dict.fromkeys(rooms) if r in self.problems]
        return found

    async def homeserver_up(self) -> bool:
        """Tell whether the homeserver accepts the bot's token, probing at most every few seconds.

        Probes go out unpaced and are tried once: a readiness probe never delays an invite.
        """
        now = self.clock.now()
        if self._probed is not None and now - self._probed[0] < PROBE_FOR:
            return self._probed[1]
        up = False
        if self.matrix.access_token is not None:
            try:
                await self.matrix.whoami(patient=False)
                up = True
            except (MatrixError, httpx.HTTPError):
                up = False
        self._probed = (now, up)
        return up

    def room_changed(self, room_id: str) -> None:
        """Look at a room again soon (its power levels or the bot's membership changed)."""
        if room_id in self.watched_rooms():
            self._recheck.set()

    def watched_rooms(self) -> list[str]:
        """The rooms whose readiness Knock checks."""
        rooms = list(self.door_rooms.values())
        rooms += [room for others in self.other_rooms.values() for room in others]
        return list(dict.fromkeys(rooms + self.moderation_rooms))

    # Connecting.

    async def connect(self) -> None:
        """Sign in and check the rooms, once; raise SignInError only for a settings mistake."""
        if not self.signed_in and not await self._sign_in():
            return
        await self.check_rooms()

    async def _sign_in(self) -> bool:
        try:
            user_id = await self.signin.ensure()
        except HomeserverUnavailable as exc:
            return self._not_yet(
                f"MATRIX_BASE_URL {self.settings.matrix_base_url} cannot be reached "
                f"({exc.error}); knocks are taken and will be invited when it answers"
            )
        except (WaitingForCode, CannotSignInYet) as exc:
            return self._not_yet(str(exc))
        if user_id != self.account.user_id and self.account.known:
            log.warning("The bot is now %s (it was %s)", user_id, self.account.user_id)
        self.account.signed_in_as(user_id)
        self.signed_in = True
        self.waiting_for = ""
        log.info("Signed in to the homeserver as %s", user_id)
        self.wakeup.job_added()
        return True

    def _not_yet(self, why: str) -> bool:
        if why != self.waiting_for:
            log.warning("Not signed in yet: %s", why)
        self.waiting_for = why
        return False

    async def check_rooms(self) -> None:
        """Check that the bot can do its job in every room; log what changed, in one line each."""
        bot = self.account.user_id
        checks: dict[str, Callable[[MatrixClient, str, str], Awaitable[None]]] = {
            room_id: partial(check_room, named=_named(door))
            for door, room_id in self.door_rooms.items()
        }
        for name, door in self.doors.items():
            if not door.rooms or name not in self.door_rooms:
                continue
            try:
                self.other_rooms[name] = await other_rooms(self.matrix, door)
            except MatrixError as exc:  # the space is not readable: its own check says why
                log.info("Could not read door %s's space %s now (%s)", name, door.room, exc)
            for room_id in self.other_rooms.get(name, []):
                checks.setdefault(room_id, partial(check_room, named=f"a room of door {name}"))
        for room_id in self.moderation_rooms:
            checks.setdefault(room_id, check_moderation_room)
        for room_id in [room for room in self.problems if room not in checks]:
            del self.problems[room_id]  # a room no longer checked (a space's, no longer suggested)
        for room_id, check in checks.items():
            try:
                await check(self.matrix, room_id, bot)
            except RoomCheckError as exc:
                self._problem(room_id, str(exc))
            except MatrixError as exc:  # unreachable, rate-limited: nothing learnt, keep it
                log.info("Could not check room %s now (%s)", room_id, exc)
                return
            else:
                self._problem(room_id, None)

    def _problem(self, room_id: str, problem: str | None) -> None:
        before = self.problems.get(room_id)
        if problem == before:
            return
        if problem is None:
            del self.problems[room_id]
            log.info("Room %s is ready: the bot can do its job there again", room_id)
            self.wakeup.job_added()  # jobs held back for this room may go now
        else:
            self.problems[room_id] = problem
            log.warning("Room %s is not ready: %s", room_id, problem)

    async def keep_connected(self) -> None:
        """Sign in when possible and re-check the rooms every minute and on their changes."""
        failures = 0
        while True:
            await self._wait(self._next_look(failures))
            try:
                await self.connect()
                failures = 0 if self.signed_in else failures + 1
            except Exception as exc:  # a settings mistake found late, or a bug: keep serving
                failures += 1
                log.error("Checking the homeserver failed: %s", exc)

    def _next_look(self, failures: int) -> float:
        if self.signed_in and not failures:
            return RECHECK_EVERY
        # Not signed in yet: look again soon, so that invites start shortly after the
        # homeserver (or Beeper) answers; a failure found late backs off to the minute.
        cap = RETRY_SIGN_IN_EVERY if not self.signed_in else RECHECK_EVERY
        return backoff_delay(max(1, failures), base=2.0, cap=cap)

    async def _wait(self, seconds: float) -> None:
        """Wait `seconds`, or less when a room changed."""
        self._recheck.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._recheck.wait()


def _named(door: str) -> str:
    """How a door's room is named in a line about it."""
    return "NEW_ROOM_ID" if door == DEFAULT_DOOR else f"door {door}'s room"
