"""What `GET /metrics` answers: every process's event counts, and the state read at scrape time.

The state is one Knock's, whichever process (or host) answers: the jobs and the lease come from
the database in two small queries, the join waves from the database once per door, the
block-list's size from this process's index (every process follows the shared list within a
few seconds), and the homeserver from a probe reused for a few seconds (`/readyz`'s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from knock import metrics
from knock.clock import Clock
from knock.core.jobs import JobKind
from knock.services.background.duties import LEASE
from knock.services.blocklist.index import Blocklist
from knock.services.homeserver.link import HomeserverLink
from knock.services.invites.intake import Intake
from knock.store import Store

PROBE_TIMEOUT = 3.0  # seconds a scrape waits for the homeserver before calling it down


class Scrape:
    """Read Knock's state for Prometheus and add it to the event counts."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        intake: Intake,
        blocklist: Blocklist,
        link: HomeserverLink,
        doors: Sequence[str],
    ) -> None:
        self.store = store
        self.clock = clock
        self.intake = intake
        self.blocklist = blocklist
        self.link = link
        self.doors = tuple(doors)

    async def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (version 0.0.4)."""
        registry = CollectorRegistry()
        registry.register(_Fixed(await self.state()))
        return metrics.events_exposition() + generate_latest(registry)

    async def state(self) -> list[Metric]:
        """The gauges of Knock's state now."""
        now = self.clock.now()
        jobs = GaugeMetricFamily(
            "knock_jobs_waiting", "Jobs waiting or running, by kind", labels=["kind"]
        )
        backlog = {kind: (count, oldest) for kind, count, oldest in await self.store.job_backlog()}
        for kind in sorted({*(k.value for k in JobKind), *backlog}):
            jobs.add_metric([kind], backlog.get(kind, (0, now))[0])
        oldest = min((made for _, made in backlog.values()), default=now)
        waves = GaugeMetricFamily(
            "knock_join_wave_tripped",
            "1 while a door's join wave holds new knocks for review",
            labels=["door"],
        )
        for door in self.doors:
            tripped = (await self.intake.join_wave_state(door))["tripped"]
            waves.add_metric([door], 1 if tripped else 0)
        return [
            jobs,
            _gauge(
                "knock_jobs_oldest_age_seconds",
                "Seconds since the oldest job waiting or running was made (0 when none)",
                max(0.0, now - oldest),
            ),
            _gauge(
                "knock_leader",
                "1 while a Knock process holds the lease of the background work",
                1 if await self.store.lease_held(LEASE, now) else 0,
            ),
            _gauge(
                "knock_homeserver_up",
                "1 while the homeserver answers and accepts the bot's token",
                1 if await self._homeserver_up() else 0,
            ),
            _gauge(
                "knock_blocklist_entries",
                "Block-list and allow-list entries in force",
                self.blocklist.size(),
            ),
            waves,
        ]

    async def _homeserver_up(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                return await self.link.homeserver_up()
        except TimeoutError:
            return False


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Fixed(Collector):
    """Metrics already read (a collector's `collect` cannot wait for the database)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families
