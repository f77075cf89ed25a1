"""The composition root: build every service once, in dependency order, and hand them out frozen.

Each service gets its collaborators in its constructor; nothing is wired afterwards, and no
service reads another off a shared object. Reading this function top to bottom is reading who
depends on whom.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from knock.clock import Clock
from knock.config import Settings
from knock.core.history import KNOCK, HistoryLine
from knock.core.knocks import DEFAULT_DOOR
from knock.core.lifecycle import Event, Reason
from knock.doors import Door, load_doors
from knock.matrix.client import MatrixClient
from knock.services.background.duties import Duties
from knock.services.background.sync_loop import LiveView
from knock.services.blocklist.actions import Blocking
from knock.services.blocklist.holds import Holds
from knock.services.blocklist.index import Blocklist
from knock.services.blocklist.mirror import ListFile
from knock.services.blocklist.policy_rooms import PolicyRooms
from knock.services.console.audit import Audit
from knock.services.console.invites import Invites
from knock.services.console.links import SignInLinks
from knock.services.console.members import Members
from knock.services.console.overview import Overviews
from knock.services.console.profiles import Profiles
from knock.services.console.review import Reviews
from knock.services.console.search import KnockSearch
from knock.services.console.sessions import ConsoleSessions
from knock.services.health import Health
from knock.services.homeserver.account import BotAccount
from knock.services.homeserver.direct import DirectChats
from knock.services.homeserver.link import HomeserverLink
from knock.services.homeserver.profiles import ProfileCache
from knock.services.homeserver.signin import SignIn
from knock.services.invites.intake import Intake
from knock.services.invites.invite_step import Inviter
from knock.services.invites.membership import MembershipFollower
from knock.services.invites.reception import Reception, unsigned_knocks_stored
from knock.services.invites.welcome import Welcomer
from knock.services.invites.worker import Worker
from knock.services.knock_page.accounts import AccountChecks
from knock.services.knock_page.page import KnockPage
from knock.services.knock_page.proof import Proofs
from knock.services.moderation.actions import Moderation
from knock.services.moderation.audit import AuditLog
from knock.services.moderation.moderators import DoorModerators, Moderators
from knock.services.moderation.notices import Notices
from knock.services.moderation.room import ModerationRoom
from knock.services.moderation.waves import JoinWaves
from knock.services.scrape import Scrape
from knock.services.wakeup import Wakeup
from knock.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Every service of one Knock process, built once by `build_services`."""

    settings: Settings
    clock: Clock
    account: BotAccount
    link: HomeserverLink
    health: Health
    blocklist: Blocklist
    blocking: Blocking
    intake: Intake
    doors: Mapping[str, Door]  # by name, `default` first
    receptions: Mapping[str, Reception]  # each door's webhook, by door
    proofs: Proofs
    knock_pages: Mapping[str, KnockPage]  # each door's knock page, by door
    console: ConsoleSessions
    sign_in_links: SignInLinks
    moderators: Moderators  # the default door's
    door_moderators: DoorModerators
    overviews: Overviews
    profiles: Profiles
    reviews: Reviews
    knock_search: KnockSearch
    invites: Invites
    members: Members
    console_audit: Audit
    welcomer: Welcomer
    direct_chats: DirectChats
    follower: MembershipFollower
    moderation: Moderation
    moderation_room: ModerationRoom | None  # the default door's (MODERATION_ROOM_ID)
    moderation_rooms: Mapping[str, ModerationRoom]  # every door's, by room id
    audit: AuditLog
    worker: Worker
    live: LiveView
    list_files: tuple[ListFile, ...]
    policy_rooms: PolicyRooms
    duties: Duties
    scrape: Scrape  # GET /metrics

    @property
    def reception(self) -> Reception:
        """The default door's webhook (`POST /invite_from_form`)."""
        return self.receptions[DEFAULT_DOOR]

    @property
    def bot_id(self) -> str:
        """The bot's Matrix ID ("" before Knock has ever signed in)."""
        return self.account.user_id


async def build_services(
    settings: Settings,
    store: Store,
    matrix: MatrixClient,
    http: httpx.AsyncClient,
    clock: Clock,
) -> Services:
    """Build every service over an open store and a homeserver client (signed in or not yet)."""
    wakeup = Wakeup()
    doors = load_doors(settings)
    # Doors removed from DOORS_FILE that still have knocks: followed in their rooms, not served.
    followed = {**doors, **await removed_doors(settings, store, doors, clock)}
    account = BotAccount(
        await SignIn(settings, store, matrix, http, clock).known_user_id(),
        base_url=settings.matrix_base_url,
        default_server=settings.default_server_name,
    )
    link = HomeserverLink(
        settings,
        store,
        matrix,
        http,
        clock,
        account=account,
        wakeup=wakeup,
        door_rooms={name: door.room for name, door in doors.items()},
        moderation_rooms=list(_by_moderation_room(followed)),
        doors=doors,
    )
    fuzzy_actions = {name: door.settings.fuzzy_action for name, door in followed.items()}
    blocklist = Blocklist(settings, store, clock, fuzzy_actions)
    await blocklist.load()
    notices = Notices(settings, matrix, link)
    # Every room a door names: an entry of every door removes from each; a door's own entry
    # from that door's.
    rooms = list(dict.fromkeys(room for door in doors.values() for room in door.all_rooms()))
    door_rooms = {name: list(door.all_rooms()) for name, door in followed.items()}
    blocking = Blocking(
        settings, store, matrix, clock, blocklist, account, notices, rooms, door_rooms
    )
    intake = Intake(
        settings,
        store,
        clock,
        blocklist=blocklist,
        account=account,
        ip_key=await Intake.load_ip_key(store, clock.now()),
        wakeup=wakeup,
        doors=followed,
    )
    unsigned_knocks = await unsigned_knocks_stored(settings, store)
    proofs = Proofs(
        store,
        clock,
        bits=settings.knock_page_pow_bits,
        key=await Proofs.load_key(store, clock.now()),
    )
    receptions = {
        name: Reception(
            door.settings, clock, intake, proofs, unsigned_knocks=unsigned_knocks, door=name
        )
        for name, door in followed.items()  # a removed door's deliveries wait in review
    }
    knock_pages = {
        name: KnockPage(door.settings, store, clock, intake, proofs, door=name)
        for name, door in doors.items()
    }
    direct_chats = DirectChats(matrix, account)
    welcomer = Welcomer(settings, store, matrix, clock, direct_chats, followed)
    follower = MembershipFollower(
        settings,
        store,
        matrix,
        clock,
        account=account,
        intake=intake,
        blocking=blocking,
        welcomer=welcomer,
        wakeup=wakeup,
        doors=followed,
    )
    moderation = Moderation(
        settings, store, matrix, clock, account=account, wakeup=wakeup, doors=followed
    )
    door_moderators = _door_moderators(followed, store, matrix, clock)
    moderators = door_moderators.of(DEFAULT_DOOR)
    moderation_rooms = {
        room_id: ModerationRoom(
            first.settings,
            store,
            matrix,
            clock,
            moderation,
            blocking,
            account,
            door_moderators.of(first.name),
            doors=tuple(door.name for door in served),
        )
        for room_id, served in _by_moderation_room(followed).items()
        for first in served[:1]
    }
    moderation_room = moderation_rooms.get(settings.moderation_room_id or "")
    sign_in_links = SignInLinks(
        settings,
        store,
        matrix,
        clock,
        moderators=door_moderators,
        chats=direct_chats,
        wakeup=wakeup,
    )
    profile_cache = ProfileCache(store, matrix, clock)
    worker = Worker(
        settings,
        store,
        clock,
        inviter=Inviter(
            settings, store, matrix, clock, blocklist, intake.rules, profile_cache, followed
        ),
        welcomer=welcomer,
        accounts=AccountChecks(store, matrix, clock, profile_cache),
        profiles=profile_cache,
        moderation_rooms=moderation_rooms,
        sign_in_links=sign_in_links,
        link=link,
        wakeup=wakeup,
    )
    live = LiveView(
        store,
        matrix,
        clock,
        room_ids=list(dict.fromkeys(r for door in followed.values() for r in door.all_rooms())),
        follower=follower,
        moderation_rooms=moderation_rooms,
        moderators=door_moderators.rooms(),
        link=link,
    )
    list_files = tuple(
        ListFile(path, allow=allow, blocklist=blocklist, store=store, clock=clock)
        for path, allow in ((settings.blocklist_file, False), (settings.allowlist_file, True))
    )
    policy_rooms = PolicyRooms(settings.policy_room_ids, store, matrix, clock)
    holds = Holds(
        settings, matrix, blocklist=blocklist, account=account, notices=notices, rooms=rooms
    )
    duties = Duties(
        settings,
        store,
        clock,
        blocklist=blocklist,
        intake=intake,
        follower=follower,
        list_files=list_files,
        policy_rooms=policy_rooms,
        holds=holds,
        join_waves=JoinWaves(settings, store, clock, intake=intake, notices=notices, doors=doors),
        link=link,
    )
    health = Health(settings, store, link, unsigned_knocks=unsigned_knocks)
    profiles = Profiles(store)
    invites = Invites(
        settings,
        store,
        clock,
        moderation=moderation,
        welcomer=welcomer,
        profiles=profiles,
        door_settings={name: door.settings for name, door in doors.items()},
    )
    return Services(
        settings=settings,
        clock=clock,
        account=account,
        link=link,
        health=health,
        blocklist=blocklist,
        blocking=blocking,
        intake=intake,
        doors=doors,
        receptions=receptions,
        proofs=proofs,
        knock_pages=knock_pages,
        overviews=Overviews(store, clock, intake=intake, health=health),
        profiles=profiles,
        reviews=Reviews(settings, store, clock, moderation=moderation),
        knock_search=KnockSearch(settings, store, profiles),
        invites=invites,
        members=Members(
            settings,
            store,
            matrix,
            account=account,
            profiles=profiles,
            door_rooms=link.door_rooms,
        ),
        console_audit=Audit(store),
        console=ConsoleSessions(
            settings,
            store,
            clock,
            salt=await ConsoleSessions.load_salt(store, clock.now()),
            moderators=door_moderators,
        ),
        sign_in_links=sign_in_links,
        moderators=moderators,
        door_moderators=door_moderators,
        welcomer=welcomer,
        direct_chats=direct_chats,
        follower=follower,
        moderation=moderation,
        moderation_room=moderation_room,
        moderation_rooms=moderation_rooms,
        audit=AuditLog(store),
        worker=worker,
        live=live,
        list_files=list_files,
        policy_rooms=policy_rooms,
        duties=duties,
        scrape=Scrape(
            store, clock, intake=intake, blocklist=blocklist, link=link, doors=list(doors)
        ),
    )


async def removed_doors(
    settings: Settings, store: Store, doors: Mapping[str, Door], clock: Clock
) -> dict[str, Door]:
    """The doors removed from DOORS_FILE that still have knocks, each in its room as last kept.

    Their knocks not yet invited are moved to review (`review/door_removed`) for a moderator;
    those invited are followed to the end in the door's room.
    """
    rooms = {name: door.room for name, door in doors.items()}
    removed = await store.doors.seen(rooms, clock.now())
    line = HistoryLine(Event.HELD_FOR_REVIEW, KNOCK, Reason.DOOR_REMOVED.value)
    held = await store.doors.hold_removed(sorted(removed), line, clock.now())
    if held:
        log.warning("%d knocks of doors removed from DOORS_FILE now wait in review", held)
    return {
        name: Door(name, settings.model_copy(update={"new_room_id": room}), removed=True)
        for name, room in removed.items()
    }


def _by_moderation_room(doors: Mapping[str, Door]) -> dict[str, list[Door]]:
    """The doors each moderation room reviews (a door without one of its own shares the
    global MODERATION_ROOM_ID, if any)."""
    rooms: dict[str, list[Door]] = {}
    for door in doors.values():
        if door.settings.moderation_room_id:
            rooms.setdefault(door.settings.moderation_room_id, []).append(door)
    return rooms


def _door_moderators(
    doors: Mapping[str, Door], store: Store, matrix: MatrixClient, clock: Clock
) -> DoorModerators:
    """Each door's moderators, by the rule of its moderation room, else its room; doors with
    one rule room share one `Moderators`."""
    by_room: dict[str, Moderators] = {}
    by_door = {}
    for name, door in doors.items():
        room = door.settings.moderation_room_id or door.room
        if room not in by_room:
            by_room[room] = Moderators(door.settings, store, matrix, clock)
        by_door[name] = by_room[room]
    return DoorModerators(by_door)
