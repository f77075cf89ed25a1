"""Build every service from the settings, start the background work, and stop it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from sqlalchemy.exc import SQLAlchemyError

from knock.clock import Clock, SystemClock
from knock.config import Settings
from knock.core import mxid
from knock.core.retry import backoff_delay
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError
from knock.services.blocking import Blocking
from knock.services.blocklist import Blocklist
from knock.services.duties import LEASE, Duties
from knock.services.follow import Follower
from knock.services.intake import Intake
from knock.services.list_files import ListFile
from knock.services.live import LiveView
from knock.services.moderation import Moderation
from knock.services.moderation_room import ModerationRoom
from knock.services.pacing import AccountPacer
from knock.services.policy_rooms import PolicyRooms
from knock.services.room_check import RoomCheckError, check_moderation_room, check_room
from knock.services.signin import SignIn, SignInError
from knock.services.worker import Worker
from knock.store import Store

log = logging.getLogger(__name__)

DUTY_EVERY = 2.0  # seconds between looks at the block-list version and the singleton duties


class StartupError(Exception):
    """Knock cannot start; the message is one line saying what to fix."""


class Runtime:
    """Everything one Knock process runs, wired once from the settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._transport = transport
        self._tasks: list[asyncio.Task[None]] = []
        self.bot_id = ""

    async def start(self, *, background: bool = True) -> None:
        """Open the database, sign in, check the room, and start the worker."""
        settings = self.settings
        try:
            self.store = await Store.open(
                settings.database_url,
                synchronous=settings.sqlite_synchronous,
                timeout=settings.database_timeout,
            )
        except (SQLAlchemyError, OSError) as exc:
            raise StartupError(f"DATABASE_URL cannot be opened: {_first_line(exc)}") from None
        self.http = httpx.AsyncClient(timeout=30.0, transport=self._transport)
        self.matrix = MatrixClient(
            self.http,
            settings.matrix_base_url,
            self.clock,
            pacer=AccountPacer(self.store, self.clock, settings.request_delay),
            rate_limit_wait_cap=settings.rate_limit_wait_cap,
        )
        self.signin = SignIn(settings, self.store, self.matrix, self.http, self.clock)
        try:
            self.bot_id = await self.signin.ensure()
            await check_room(self.matrix, settings.new_room_id, self.bot_id)
            if settings.moderation_room_id:
                await check_moderation_room(self.matrix, settings.moderation_room_id, self.bot_id)
        except (SignInError, RoomCheckError) as exc:
            await self.stop()
            raise StartupError(str(exc)) from None
        except HomeserverUnavailable as exc:
            await self.stop()
            raise StartupError(
                f"MATRIX_BASE_URL {settings.matrix_base_url} cannot be reached ({exc.error})"
            ) from None
        except MatrixError as exc:
            await self.stop()
            raise StartupError(f"MATRIX_BASE_URL {settings.matrix_base_url}: {exc}") from None
        await self._wire()
        if background:
            # The files and policy rooms count from the first knock on. Commands run without
            # background work never take the lease, so they never pause a server's live view.
            await self.duties.run_once()
            self._tasks.append(asyncio.create_task(self.worker.run(), name="knock-worker"))
            self._tasks.append(asyncio.create_task(self._duties(), name="knock-duties"))
            self._tasks.append(asyncio.create_task(self._follow_live(), name="knock-sync"))
        log.info("Knock is running as %s for room %s", self.bot_id, settings.new_room_id)

    async def _wire(self) -> None:
        settings, store, clock = self.settings, self.store, self.clock
        room = settings.new_room_id
        self.blocklist = Blocklist(settings, store, clock)
        await self.blocklist.load()
        self.blocking = Blocking(settings, store, self.matrix, clock, self.blocklist, self.bot_id)
        self.follower = Follower(settings, store, self.matrix, clock, self.blocking, self.bot_id)
        self.live = LiveView(store, self.matrix, self.follower, room, clock)
        self.worker = Worker(
            settings, store, self.matrix, clock, room, self.blocklist, self.follower
        )
        self.moderation = Moderation(settings, store, self.matrix, clock, room)
        self.list_files = [
            ListFile(
                settings.blocklist_file,
                allow=False,
                blocklist=self.blocklist,
                store=store,
                clock=clock,
            ),
            ListFile(
                settings.allowlist_file,
                allow=True,
                blocklist=self.blocklist,
                store=store,
                clock=clock,
            ),
        ]
        self.policy_rooms = PolicyRooms(settings.policy_room_ids, store, self.matrix, clock)
        self.intake = Intake(
            settings,
            store,
            clock,
            blocklist=self.blocklist,
            default_server=settings.default_server_name or mxid.server_name(self.bot_id),
            ip_key=await Intake.load_ip_key(store, clock.now()),
            on_queued=self.worker.wake,
        )
        self.follower.intake = self.intake
        self.follower.on_job = self.worker.wake
        self.moderation_room: ModerationRoom | None = None
        if settings.moderation_room_id:
            self.moderation_room = ModerationRoom(
                settings, store, self.matrix, clock, self.moderation, self.blocking, self.bot_id
            )
        self.worker.moderation_room = self.live.moderation_room = self.moderation_room
        self.duties = Duties(self)

    async def stop(self) -> None:
        """Cancel background work and close connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if hasattr(self, "duties") and self.duties.leader:
            # Hand the singleton work over at once instead of after LEASE_TTL.
            with contextlib.suppress(Exception):
                await self.store.release_lease(LEASE, self.duties.holder)
        if hasattr(self, "http"):
            await self.http.aclose()
        if hasattr(self, "store"):
            await self.store.close()

    async def readiness(self) -> dict[str, bool]:
        """Tell whether the database answers and the homeserver accepts the bot's token."""
        checks = {"database": True, "homeserver": True}
        try:
            await self.store.ping()
        except Exception:
            checks["database"] = False
        try:
            await self.matrix.whoami(patient=False)
        except Exception:
            checks["homeserver"] = False
        return checks

    async def _follow_live(self) -> None:
        """Run the sync loop while this process holds the lease; stand by otherwise."""
        failures = 0
        while True:
            if not self.duties.leader:
                await asyncio.sleep(DUTY_EVERY)
                continue
            try:
                await self.live.run_once()
                failures = 0
            except Exception as exc:
                failures += 1
                delay = backoff_delay(failures, base=1.0, cap=60.0)
                log.warning("The sync loop failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)

    async def _duties(self) -> None:
        while True:
            await self.clock.sleep(DUTY_EVERY)
            await self.duties.run_once()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
