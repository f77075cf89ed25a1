"""The console's pending invites: who has not answered yet, reminding them now, rescinding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from knock.clock import Clock
from knock.config import Settings
from knock.core.history import Actor
from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import State
from knock.services.console.profiles import Profile, Profiles
from knock.services.invites.welcome import Welcomer
from knock.services.moderation.actions import Moderation, NothingToRescind, OwnAccount
from knock.store import Store


class Done(StrEnum):
    """What a moderator's action on an invite came to (the page says it in fixed words)."""

    REMINDED = "reminded"
    ALREADY_REMINDED = "already-reminded"
    RESCINDED = "rescinded"
    NOT_PENDING = "not-pending"


@dataclass(frozen=True)
class PendingRow:
    """A pending invite as the console shows it."""

    knock_id: str
    user_id: str
    door: str  # the door the knock came through
    profile: Profile | None
    invited_at: float
    age_seconds: float
    reminded_at: float | None  # None: not reminded yet
    reminder_due_at: float  # when Knock reminds by itself (REMINDER_AFTER)
    expires_at: float  # when Knock revokes the invite (the door's INVITE_TTL)


class Invites:
    """Read the pending invites and act on one: remind the person now, or rescind the invite."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        moderation: Moderation,
        welcomer: Welcomer,
        profiles: Profiles,
        door_settings: Mapping[str, Settings] | None = None,
    ) -> None:
        self.settings = settings
        # Each door's settings (its INVITE_TTL), by door.
        self.door_settings = door_settings or {DEFAULT_DOOR: settings}
        self.store = store
        self.clock = clock
        self.moderation = moderation
        self.welcomer = welcomer
        self.profiles = profiles

    async def pending(self, door: str) -> list[PendingRow]:
        """Knock's invites through one door pending now, oldest first.

        One homeserver call per view: `Moderation.pending_invites` reads the room's invite list,
        so that an invite answered or revoked outside Knock is not shown as pending. The rest
        (reminders, profiles) comes from the database.
        """
        through = {
            knock.knock_id
            for knock in await self.store.knocks_in([State.INVITED], limit=10000, door=door)
        }
        invite_ttl = self.door_settings.get(door, self.settings).invite_ttl
        pending = [p for p in await self.moderation.pending_invites(door) if p.knock_id in through]
        reminded = await self.store.search.reminded_at(p.knock_id for p in pending)
        profiles = await self.profiles.of(sorted({p.user_id for p in pending}))
        return [
            PendingRow(
                knock_id=p.knock_id,
                user_id=p.user_id,
                door=door,
                profile=profiles.get(p.user_id),
                invited_at=p.invite_time,
                age_seconds=p.age_seconds,
                reminded_at=reminded.get(p.knock_id),
                reminder_due_at=p.invite_time + self.settings.reminder_after,
                expires_at=p.invite_time + invite_ttl,
            )
            for p in pending
        ]

    async def remind(
        self, knock_id: str, actor: Actor, doors: frozenset[str] | None = None
    ) -> Done:
        """Send the invite's reminder now, the one REMINDER_AFTER would send (at most one);
        only for a knock at `doors` (None: any)."""
        knock = await self.store.get_knock(knock_id)
        if knock is None or knock.state is not State.INVITED or not _at(knock.door, doors):
            return Done.NOT_PENDING
        sent = await self.welcomer.remind(knock, actor)
        return Done.REMINDED if sent else Done.ALREADY_REMINDED

    async def rescind(
        self, knock_id: str, actor: Actor, doors: frozenset[str] | None = None
    ) -> Done:
        """Revoke a knock's pending invite, in its door's room (its history names the moderator);
        only for a knock at `doors` (None: any)."""
        knock = await self.store.get_knock(knock_id)
        if knock is None or knock.state is not State.INVITED or not _at(knock.door, doors):
            return Done.NOT_PENDING
        try:
            await self.moderation.rescind(knock.user_id, None, actor, door=knock.door)
        except (NothingToRescind, OwnAccount):
            return Done.NOT_PENDING
        return Done.RESCINDED


def _at(door: str, doors: frozenset[str] | None) -> bool:
    return doors is None or door in doors
