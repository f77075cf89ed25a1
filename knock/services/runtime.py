"""One Knock process: open the database, sign in, build the services, run the background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from sqlalchemy.exc import SQLAlchemyError

from knock.clock import Clock, SystemClock
from knock.config import Settings
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError
from knock.services.compose import Services, build_services
from knock.services.homeserver.pacing import AccountPacer
from knock.services.homeserver.room_check import (
    RoomCheckError,
    check_moderation_room,
    check_room,
)
from knock.services.homeserver.signin import SignIn, SignInError
from knock.store import Store

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Knock cannot start; the message is one line saying what to fix."""


class NotStarted(RuntimeError):
    """The runtime was asked for its services before `start` (or after `stop`)."""


class Runtime:
    """Everything one Knock process runs, started and stopped as one."""

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
        self._store: Store | None = None
        self._http: httpx.AsyncClient | None = None
        self._matrix: MatrixClient | None = None
        self._services: Services | None = None
        self.bot_id = ""  # the bot's Matrix ID, once signed in

    @property
    def services(self) -> Services:
        """The running services."""
        if self._services is None:
            raise NotStarted("Knock is not running")
        return self._services

    @property
    def store(self) -> Store:
        """The open database."""
        if self._store is None:
            raise NotStarted("Knock is not running")
        return self._store

    @property
    def matrix(self) -> MatrixClient:
        """The bot's homeserver client."""
        if self._matrix is None:
            raise NotStarted("Knock is not running")
        return self._matrix

    async def start(self, *, background: bool = True) -> None:
        """Open the database, sign in, check the room, build the services, start the worker."""
        settings = self.settings
        try:
            self._store = await Store.open(
                settings.database_url,
                synchronous=settings.sqlite_synchronous,
                timeout=settings.database_timeout,
            )
        except (SQLAlchemyError, OSError) as exc:
            raise StartupError(f"DATABASE_URL cannot be opened: {_first_line(exc)}") from None
        self._http = httpx.AsyncClient(timeout=30.0, transport=self._transport)
        self._matrix = MatrixClient(
            self._http,
            settings.matrix_base_url,
            self.clock,
            pacer=AccountPacer(self._store, self.clock, settings.request_delay),
            rate_limit_wait_cap=settings.rate_limit_wait_cap,
        )
        self.bot_id = bot_id = await self._sign_in(self._store, self._matrix, self._http)
        self._services = await build_services(
            settings, self._store, self._matrix, self.clock, bot_id
        )
        if background:
            # The files and policy rooms count from the first knock on. Commands run without
            # background work never take the lease, so they never pause a server's live view.
            await self._services.duties.run_once()
            self._start_background(self._services)
        log.info("Knock is running as %s for room %s", bot_id, settings.new_room_id)

    async def _sign_in(self, store: Store, matrix: MatrixClient, http: httpx.AsyncClient) -> str:
        """Sign the bot in and check its rooms; stop with one line when that cannot be done."""
        settings = self.settings
        try:
            bot_id = await SignIn(settings, store, matrix, http, self.clock).ensure()
            await check_room(matrix, settings.new_room_id, bot_id)
            if settings.moderation_room_id:
                await check_moderation_room(matrix, settings.moderation_room_id, bot_id)
            return bot_id
        except (SignInError, RoomCheckError) as exc:
            problem = str(exc)
        except HomeserverUnavailable as exc:
            problem = f"MATRIX_BASE_URL {settings.matrix_base_url} cannot be reached ({exc.error})"
        except MatrixError as exc:
            problem = f"MATRIX_BASE_URL {settings.matrix_base_url}: {exc}"
        await self.stop()
        raise StartupError(problem)

    def _start_background(self, services: Services) -> None:
        duties = services.duties
        self._tasks = [
            asyncio.create_task(duties.run(), name="knock-duties"),
            asyncio.create_task(services.worker.run(), name="knock-worker"),
            asyncio.create_task(services.live.run(lambda: duties.leader), name="knock-sync"),
        ]

    async def stop(self) -> None:
        """Cancel background work and close connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._services is not None:
            with contextlib.suppress(Exception):
                await self._services.duties.release_lease()
        if self._http is not None:
            await self._http.aclose()
        if self._store is not None:
            await self._store.close()
        self._services, self._store, self._http, self._matrix = None, None, None, None

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


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
