"""One Knock process: open the database, sign in, build the services, run the background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from sqlalchemy.exc import SQLAlchemyError

from knock import metrics
from knock.clock import Clock, SystemClock
from knock.config import Settings
from knock.matrix.client import MatrixClient
from knock.services.compose import Services, build_services
from knock.services.homeserver.account import BotAccount
from knock.services.homeserver.pacing import AccountPacer
from knock.services.homeserver.signin import SignInError
from knock.store import Store, cannot_open_database

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
        self._account: BotAccount | None = None

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
            raise StartupError(cannot_open_database(settings.database_url, exc)) from None
        self._http = httpx.AsyncClient(timeout=30.0, transport=self._transport)
        self._matrix = MatrixClient(
            self._http,
            settings.matrix_base_url,
            self.clock,
            pacer=AccountPacer(self._store, self.clock, settings.request_delay),
            rate_limit_wait_cap=settings.rate_limit_wait_cap,
        )
        self._services = services = await build_services(
            settings, self._store, self._matrix, self._http, self.clock
        )
        self._account = services.account
        for warning in services.health.warnings:  # at every start, until they are fixed
            log.warning("%s", warning.message)
        try:
            await services.link.connect()
        except SignInError as exc:  # a settings mistake: the one thing that stops start-up
            await self.stop()
            raise StartupError(str(exc)) from None
        if metrics.one_of_several_alone():
            log.warning(
                "This process is one of several workers, but PROMETHEUS_MULTIPROC_DIR is not "
                "set: GET /metrics counts only the events of the process that answers. Run "
                "`knock serve --workers N`, or set PROMETHEUS_MULTIPROC_DIR to an empty directory"
            )
        if background:
            # The files and policy rooms count from the first knock on. Commands run without
            # background work never take the lease, so they never pause a server's live view.
            await services.duties.run_once(starting=True)
            self._start_background(services)
        others = [f"{name} ({door.room})" for name, door in services.doors.items()][1:]
        log.info(
            "Knock is running as %s for room %s%s",
            services.account.user_id or "a bot not signed in yet",
            settings.new_room_id,
            f" and the doors {', '.join(others)}" if others else "",
        )

    def _start_background(self, services: Services) -> None:
        duties, link = services.duties, services.link

        def following() -> bool:  # the live view runs on the leader, once it has a token
            return duties.leader and link.can_call()

        self._tasks = [
            asyncio.create_task(duties.run(), name="knock-duties"),
            asyncio.create_task(services.worker.run(), name="knock-worker"),
            asyncio.create_task(services.live.run(following), name="knock-sync"),
            asyncio.create_task(services.link.keep_connected(), name="knock-homeserver"),
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

    @property
    def bot_id(self) -> str:
        """The bot's Matrix ID, once known (it stays readable after `stop`)."""
        return self._account.user_id if self._account is not None else ""
