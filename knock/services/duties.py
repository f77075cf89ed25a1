"""Periodic duties: every process follows the block-list version; one process does the rest.

The singleton duties — mirroring the list files, reading policy rooms, erasing old knocks — run on
the holder of the `singleton` lease only, so that two processes never write the files at once.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from knock.config import Settings

if TYPE_CHECKING:
    from knock.services.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = "singleton"
FILES_EVERY = 20.0  # a person's edit to a list file applies within this (and the duty tick)
POLICY_EVERY = 60.0
RETENTION_EVERY = 3600.0


class Duties:
    """What the runtime does on every tick."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._due: dict[str, float] = {}
        self.leader = False

    async def run_once(self) -> None:
        """Do whatever is due now; a failure is logged and tried again on a later tick."""
        runtime = self.runtime
        try:
            await runtime.blocklist.refresh_if_changed()
            now = runtime.clock.now()
            settings = runtime.settings
            leader = await runtime.store.take_lease(LEASE, self.holder, now, settings.lease_ttl)
            if leader != self.leader:
                log.info(
                    "%s %s the background work (sync loop, scans, list files)",
                    self.holder,
                    "now leads" if leader else "no longer leads",
                )
            self.leader = leader
            if not self.leader:
                return
            await runtime.intake.release_deferred()
            if self._is_due("files", FILES_EVERY, now):
                for list_file in runtime.list_files:
                    await list_file.sync()
            if settings.policy_room_ids and self._is_due("policy", POLICY_EVERY, now):
                await runtime.policy_rooms.refresh()
            every = settings.invite_check_interval
            if every > 0 and self._is_due("invites", every, now):
                await runtime.follower.check_invites()
            every = settings.blocklist_scan_interval
            if every > 0 and self._is_due("members", every, now):
                await runtime.follower.scan_members()
            if self._is_due("retention", RETENTION_EVERY, now):
                erased = await runtime.store.purge_closed(now - runtime.settings.retention)
                if erased:
                    log.info("Erased %d closed knocks older than RETENTION", erased)
                await runtime.store.forget_hits(now - _longest_window(runtime.settings))
            await runtime.blocklist.refresh_if_changed()
        except Exception:
            log.exception("A periodic duty failed; it will be tried again")

    def _is_due(self, duty: str, every: float, now: float) -> bool:
        if now < self._due.get(duty, 0.0):
            return False
        self._due[duty] = now + every
        return True

    def force(self) -> None:
        """Make every duty due on the next tick (tests, and `knock` commands)."""
        self._due.clear()


def _longest_window(settings: Settings) -> float:
    """Return the longest time any door window looks back."""
    rates = [
        settings.limit_per_user,
        settings.limit_per_ip,
        settings.limit_per_server,
        settings.limit_per_form,
    ]
    windows = [rate.seconds for rate in rates if rate is not None]
    return max([settings.spam_window_seconds, settings.join_wave_window, *windows])
