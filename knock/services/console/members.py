"""The console's members: who is in the room, their names, and the knock that let them in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from knock.config import Settings
from knock.core.knocks import DEFAULT_DOOR, KnockRecord
from knock.core.lifecycle import State
from knock.matrix.client import MatrixClient
from knock.services.console.profiles import Profile, Profiles
from knock.services.homeserver.account import BotAccount
from knock.store import Store

MAX_KNOCKS = 100_000  # joined knocks read per view: far more than a room of people


@dataclass(frozen=True)
class MemberRow:
    """One joined member as the console shows them."""

    user_id: str
    display_name: str | None
    profile: Profile | None  # Knock's cached profile (an avatar), when they knocked
    knock_id: str | None  # their knock in state joined; None: they joined without one
    knock_door: str | None
    joined_at: float | None  # when their knock was joined; None without a knock
    is_bot: bool  # Knock's own account: never offered for blocking


class Members:
    """The room's joined members, with what Knock knows of each."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        *,
        account: BotAccount,
        profiles: Profiles,
        door_rooms: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.matrix = matrix
        self.account = account
        self.profiles = profiles
        self.door_rooms = door_rooms or {DEFAULT_DOOR: settings.new_room_id}

    async def joined(self, door: str = DEFAULT_DOOR) -> list[MemberRow]:
        """Every joined member, those who came through a knock first (the newest first).

        One homeserver call per view (`joined_members`, which also gives display names): the live
        view follows membership changes but keeps no list of members, and the periodic scans
        keep none either. The knocks and profiles come from the database.
        """
        joined = await self.matrix.joined_members(self.door_rooms[door])
        knocks: dict[str, KnockRecord] = {}
        for knock in await self.store.knocks_in([State.JOINED], limit=MAX_KNOCKS, door=door):
            knocks[knock.user_id] = knock  # oldest first: the latest joined knock wins
        profiles = await self.profiles.of(sorted(joined))
        rows = []
        for user_id, member in joined.items():
            found = knocks.get(user_id)
            name = member.get("display_name") if isinstance(member, dict) else None
            profile = profiles.get(user_id)
            rows.append(
                MemberRow(
                    user_id=user_id,
                    display_name=name
                    if isinstance(name, str) and name
                    else (profile.display_name if profile else None),
                    profile=profile,
                    knock_id=found.knock_id if found else None,
                    knock_door=found.door if found else None,
                    # A joined knock moves on only to rescinded: its last change is the join.
                    joined_at=found.updated_at if found else None,
                    is_bot=self.account.is_bot(user_id),
                )
            )
        rows.sort(key=lambda r: (r.joined_at is None, -(r.joined_at or 0), r.user_id))
        return rows
