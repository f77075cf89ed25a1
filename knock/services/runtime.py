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
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError, Pacer
from knock.services.intake import Intake
from knock.services.moderation import Moderation
from knock.services.room_check import RoomCheckError, check_room
from knock.services.signin import SignIn, SignInError
from knock.services.worker import Worker
from knock.store import Store

log = logging.getLogger(__name__)

_RETENTION_EVERY = 3600.0


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
            pacer=Pacer(self.clock, settings.request_delay),
            rate_limit_wait_cap=settings.rate_limit_wait_cap,
        )
        self.signin = SignIn(settings, self.store, self.matrix, self.http, self.clock)
        try:
            self.bot_id = await self.signin.ensure()
            await check_room(self.matrix, settings.new_room_id, self.bot_id)
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
        self._wire()
        self.intake = Intake(
            settings,
            self.store,
            self.clock,
            default_server=settings.default_server_name or mxid.server_name(self.bot_id),
            ip_key=await Intake.load_ip_key(self.store, self.clock.now()),
            on_queued=self.worker.wake,
        )
        if background:
            self._tasks.append(asyncio.create_task(self.worker.run(), name="knock-worker"))
            self._tasks.append(asyncio.create_task(self._retention(), name="knock-retention"))
        log.info("Knock is running as %s for room %s", self.bot_id, settings.new_room_id)

    def _wire(self) -> None:
        room = self.settings.new_room_id
        self.worker = Worker(self.settings, self.store, self.matrix, self.clock, room)
        self.moderation = Moderation(self.settings, self.store, self.matrix, self.clock, room)

    async def stop(self) -> None:
        """Cancel background work and close connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
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

    async def _retention(self) -> None:
        while True:
            try:
                erased = await self.store.purge_closed(self.clock.now() - self.settings.retention)
                if erased:
                    log.info("Erased %d closed knocks older than RETENTION", erased)
            except SQLAlchemyError:
                log.exception("Erasing old knocks failed; trying again later")
            await self.clock.sleep(_RETENTION_EVERY)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
