"""Periodic duties: every process follows the block-list version; one process does the rest.

The singleton duties — mirroring the list files, reading policy rooms, counting new block-list
entries, summarising a join wave, erasing old knocks — run on the holder of the `singleton` lease
only, so that two processes never write the files at once.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

from knock.clock import Clock
from knock.config import Settings
from knock.matrix.client import HomeserverUnavailable
from knock.services.blocklist.holds import Holds
from knock.services.blocklist.index import Blocklist
from knock.services.blocklist.mirror import ListFile
from knock.services.blocklist.policy_rooms import PolicyRooms
from knock.services.console.links import KEPT_FOR as LINKS_KEPT_FOR
from knock.services.homeserver.link import HomeserverLink
from knock.services.invites.intake import Intake
from knock.services.invites.membership import MembershipFollower
from knock.services.moderation.waves import JoinWaves
from knock.store import Store

log = logging.getLogger(__name__)

LEASE = "singleton"
DUTY_EVERY = 2.0  # seconds between looks at the block-list version and the singleton duties
FILES_EVERY = 20.0  # a person's edit to a list file applies within this (and the duty tick)
POLICY_EVERY = 60.0
RETENTION_EVERY = 3600.0


class Duties:
    """What a process does on every tick."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        blocklist: Blocklist,
        intake: Intake,
        follower: MembershipFollower,
        list_files: Sequence[ListFile],
        policy_rooms: PolicyRooms,
        holds: Holds,
        join_waves: JoinWaves,
        link: HomeserverLink,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.blocklist = blocklist
        self.intake = intake
        self.follower = follower
        self.list_files = tuple(list_files)
        self.policy_rooms = policy_rooms
        self.holds = holds
        self.join_waves = join_waves
        self.link = link
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._due: dict[str, float] = {}
        self.leader = False

    async def run(self) -> None:
        """Do the duties every `DUTY_EVERY` seconds until cancelled."""
        while True:
            await self.clock.sleep(DUTY_EVERY)
            await self.run_once()

    async def run_once(self, *, starting: bool = False) -> None:
        """Do whatever is due now; a failure is logged and tried again on a later tick.

        `starting`: the tick before the first knock, which applies edits to the list files
        but leaves writing them to the next tick (at a million entries, seconds of start-up).
        """
        try:
            await self.store.checkpoint()
            await self.blocklist.refresh_if_changed()
            await self._lead()
            if self.leader:
                await self._singleton_duties(self.clock.now(), starting=starting)
                await self.blocklist.refresh_if_changed()
        except HomeserverUnavailable:
            pass  # said once by the homeserver client; the duty is tried again on a later tick
        except Exception:
            log.exception("A periodic duty failed; it will be tried again")

    async def _lead(self) -> None:
        now, ttl = self.clock.now(), self.settings.lease_ttl
        leader = await self.store.take_lease(LEASE, self.holder, now, ttl)
        if leader != self.leader:
            log.info(
                "%s %s the background work (sync loop, scans, list files)",
                self.holder,
                "now leads" if leader else "no longer leads",
            )
        self.leader = leader

    async def _singleton_duties(self, now: float, *, starting: bool) -> None:
        settings = self.settings
        await self.intake.release_deferred()
        await self.join_waves.announce()
        if starting:  # edits only: the next tick writes the files (not marked done)
            for list_file in self.list_files:
                await list_file.sync(write=False)
        else:
            await self.blocklist.refold()  # after an upgrade only: no start-up waits for it
            if self._is_due("files", FILES_EVERY, now):
                for list_file in self.list_files:
                    await list_file.sync()
        if self.link.can_call():  # the homeserver's duties wait for a token
            await self._homeserver_duties(now)
        if self._is_due("retention", RETENTION_EVERY, now):
            erased = await self.store.purge_closed(now - settings.retention)
            if erased:
                log.info("Erased %d closed knocks older than RETENTION", erased)
            await self.store.forget_hits(now - self.intake.longest_window())
            await self.store.pages.forget(now, checked_before=now - settings.retention)
            await self.store.profiles.forget(fetched_before=now - settings.retention)
            await self.store.audit.forget(before=now - settings.retention)
            await self.store.console.forget_sessions(now)
            await self.store.console.forget_links(now - LINKS_KEPT_FOR)

    async def _homeserver_duties(self, now: float) -> None:
        settings = self.settings
        if settings.policy_room_ids and self._is_due("policy", POLICY_EVERY, now):
            await self.policy_rooms.refresh()
        link = self.link
        ready = [door for door, room in link.door_rooms.items() if link.room_ready(room)]
        if not ready:
            return  # the rooms' scans wait until the bot can work there (said once by the link)
        every = settings.invite_check_interval
        if every > 0 and self._is_due("invites", every, now):
            removed = [name for name, door in self.follower.doors.items() if door.removed]
            await self.follower.check_invites(ready + removed)
        # New block-list entries are counted first: each is put in force or held.
        put_in_force = await self.holds.review()
        every = settings.blocklist_scan_interval
        if every > 0 and (self._is_due("members", every, now) or put_in_force):
            await self.follower.scan_members(ready)

    def _is_due(self, duty: str, every: float, now: float) -> bool:
        if now < self._due.get(duty, 0.0):
            return False
        self._due[duty] = now + every
        return True

    def force(self) -> None:
        """Make every duty due on the next tick (tests, and `knock` commands)."""
        self._due.clear()

    async def release_lease(self) -> None:
        """Hand the singleton work over at once instead of after LEASE_TTL."""
        if self.leader:
            await self.store.release_lease(LEASE, self.holder)
            self.leader = False
