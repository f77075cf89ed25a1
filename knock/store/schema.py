"""The tables: numbered migrations (DDL for SQLite and PostgreSQL) and Core table objects."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

# Each migration is a list of statements; `{serial}` is the engine's auto-numbered key type,
# `{binary}` its type for bytes.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE knocks (
            knock_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            requested_id TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            source TEXT NOT NULL,
            submission_key TEXT UNIQUE,
            ip_hash TEXT,
            answers TEXT,
            received_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            invite_attempted_at DOUBLE PRECISION,
            invited_at DOUBLE PRECISION
        )""",
        "CREATE INDEX knocks_user ON knocks (user_id, received_at)",
        "CREATE INDEX knocks_state ON knocks (state, updated_at)",
        """CREATE TABLE knock_events (
            id {serial} PRIMARY KEY,
            knock_id TEXT NOT NULL REFERENCES knocks (knock_id) ON DELETE CASCADE,
            at DOUBLE PRECISION NOT NULL,
            event TEXT NOT NULL,
            actor TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX knock_events_knock ON knock_events (knock_id, id)",
        """CREATE TABLE jobs (
            id {serial} PRIMARY KEY,
            kind TEXT NOT NULL,
            knock_id TEXT REFERENCES knocks (knock_id) ON DELETE CASCADE,
            run_at DOUBLE PRECISION NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            first_attempt_at DOUBLE PRECISION,
            locked_by TEXT,
            locked_until DOUBLE PRECISION,
            last_error TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX jobs_due ON jobs (run_at)",
        """CREATE TABLE state_values (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    [
        # `origin` says who may remove an entry: "moderator" (API, CLI, the file) or
        # "policy:<room id>" (only that policy room, by removing its rule).
        """CREATE TABLE blocklist_entries (
            pattern TEXT NOT NULL,
            allow INTEGER NOT NULL,
            origin TEXT NOT NULL,
            hashed INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            reason TEXT,
            added_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (pattern, allow, origin)
        )""",
        # Bans Knock placed, so that unblocking lifts them (and only them).
        """CREATE TABLE knock_bans (
            user_id TEXT PRIMARY KEY,
            pattern TEXT NOT NULL,
            banned_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    [
        # One row per counted event: `scope` is the window ("user", "ip", "server", "form",
        # "wave", "admitted"), `subject` what is counted (an id, an address hash, a server).
        """CREATE TABLE guard_hits (
            scope TEXT NOT NULL,
            subject TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX guard_hits_window ON guard_hits (scope, subject, at)",
        """CREATE TABLE strikes (
            subject TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            last_at DOUBLE PRECISION NOT NULL,
            locked_until DOUBLE PRECISION NOT NULL
        )""",
    ],
    [
        # When the bot account may next call its homeserver (REQUEST_DELAY and rate limits
        # apply to the account, whichever process calls).
        """CREATE TABLE pacing (
            name TEXT PRIMARY KEY,
            next_at DOUBLE PRECISION NOT NULL
        )""",
        "INSERT INTO pacing (name, next_at) VALUES ('bot', 0)",
    ],
    [
        # Which knock each post in the moderation room announced, erased with its knock (the
        # index serves that erasing). It was a stored value, `moderation_room.event.<event id>`
        # (a 22-character prefix) -> knock id; the values of knocks already erased are dropped.
        """CREATE TABLE review_posts (
            event_id TEXT PRIMARY KEY,
            knock_id TEXT NOT NULL REFERENCES knocks (knock_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX review_posts_knock ON review_posts (knock_id)",
        """INSERT INTO review_posts (event_id, knock_id)
            SELECT substr(key, 23), value FROM state_values
            WHERE substr(key, 1, 22) = 'moderation_room.event.'
                AND value IN (SELECT knock_id FROM knocks)""",
        "DELETE FROM state_values WHERE substr(key, 1, 22) = 'moderation_room.event.'",
    ],
    [
        # Whether a block-list entry is in force: "active"; "new", not yet counted (it refuses
        # knocks and removes nobody until the lease holder has counted the members it covers);
        # "held", it would remove more members than BLOCK_CONFIRM_THRESHOLD (it refuses knocks
        # and removes nobody until a moderator confirms it). Entries made before were in force.
        "ALTER TABLE blocklist_entries ADD COLUMN status TEXT NOT NULL DEFAULT 'active'",
        "CREATE INDEX blocklist_entries_status ON blocklist_entries (status)",
    ],
    [
        # From this version on, JSON platform deliveries need a signature or WEBHOOK_TOKEN. If
        # the database holds knocks from those platforms (or Jotform) stored before, they may
        # have been accepted without either: mark it, so that an upgrade does not silently
        # break a running form. Start-up clears the mark once a secret, the token or
        # ALLOW_UNSIGNED_WEBHOOKS is set (services/invites/reception.py).
        """INSERT INTO state_values (key, value, updated_at)
            SELECT 'intake.unsigned_knocks_before_upgrade', 'true', 0
            WHERE EXISTS (
                SELECT 1 FROM knocks WHERE source IN
                    ('tally', 'typeform', 'formbricks', 'heyform', 'jotform', 'fillout', 'generic')
            )""",
    ],
    [
        # The knock page's status links: a keyed hash of each link's token (never the token)
        # and the knock it shows, erased with its knock.
        """CREATE TABLE knock_pages (
            token_hash TEXT PRIMARY KEY,
            knock_id TEXT NOT NULL REFERENCES knocks (knock_id) ON DELETE CASCADE,
            door TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX knock_pages_knock ON knock_pages (knock_id)",
        # What the homeserver said about an account asked for from the knock page: 1 it exists,
        # 0 it does not, NULL it would not say.
        """CREATE TABLE account_checks (
            user_id TEXT PRIMARY KEY,
            known INTEGER,
            checked_at DOUBLE PRECISION NOT NULL
        )""",
        # Proof-of-work challenges already used: each is valid once, until it expires.
        """CREATE TABLE spent_challenges (
            challenge_id TEXT PRIMARY KEY,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    [
        # The console's sessions, shared by every process: a hash of the cookie's token (never
        # the token), who signed in, the form token, and a keyed mark of the API key signed in
        # with (a session ends when API_KEY changes).
        """CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            actor TEXT NOT NULL,
            csrf TEXT NOT NULL,
            key_mark TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)",
    ],
    [
        # The profiles of people who knocked, as their homeserver showed them when Knock looked
        # them up (the console reads them here, never from the homeserver): the display name,
        # the avatar's mxc URI and, when that is a raster image of at most 1 MiB, its bytes and
        # sniffed type. An avatar refused (not such an image) keeps its URI and no bytes, so it
        # is not fetched again until it changes. Erased once unused for RETENTION.
        """CREATE TABLE profiles (
            user_id TEXT PRIMARY KEY,
            display_name TEXT,
            avatar_mxc TEXT,
            avatar {binary},
            avatar_type TEXT,
            fetched_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX profiles_fetched ON profiles (fetched_at)",
    ],
    [
        # The door each knock came through (a door is a way into a room). Knocks from before
        # came through the only door there was, `default`.
        "ALTER TABLE knocks ADD COLUMN door TEXT NOT NULL DEFAULT 'default'",
        "CREATE INDEX knocks_door ON knocks (door, received_at)",
    ],
    [
        # 12: sign-in links, asked for on the console's sign-in page and sent to a moderator by
        # direct message. One row per request, whoever it names: the job sending it (a link is
        # made only when the job finds a moderator), the SHA-256 of the link's token (never the
        # token), when it expires and when it was used; the keyed hash of the asking address and
        # the named account count requests against their limits. Kept a day.
        """CREATE TABLE sign_in_links (
            id {serial} PRIMARY KEY,
            user_id TEXT NOT NULL,
            address TEXT NOT NULL,
            job_id BIGINT,
            token_hash TEXT UNIQUE,
            requested_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION,
            used_at DOUBLE PRECISION
        )""",
        "CREATE INDEX sign_in_links_user ON sign_in_links (user_id, requested_at)",
        "CREATE INDEX sign_in_links_address ON sign_in_links (address, requested_at)",
        "CREATE INDEX sign_in_links_job ON sign_in_links (job_id)",
        # A moderator's sessions end together when they leave the room that makes them one.
        "CREATE INDEX console_sessions_actor ON console_sessions (actor)",
    ],
    [
        # 13: what moderators changed that is not about one knock (a knock's changes are its
        # history): unblocking, removing an allow-list entry, confirming a held block, resetting
        # the join wave. `actor` as in knock_events; `target` the entry's pattern (none for the
        # join wave); `door` the door it concerns (a join wave is a door's), `*` for every door's
        # (the block-list and the allow-list are). Erased after RETENTION.
        """CREATE TABLE moderator_actions (
            id {serial} PRIMARY KEY,
            at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            note TEXT,
            door TEXT NOT NULL DEFAULT 'default'
        )""",
        "CREATE INDEX moderator_actions_at ON moderator_actions (at)",
    ],
    [
        # 14: the doors Knock was started with, and each one's room (or space), so that a door
        # removed from DOORS_FILE keeps its room: its knocks already invited are followed there
        # to the end, and those not yet invited wait in review.
        """CREATE TABLE doors (
            name TEXT PRIMARY KEY,
            room TEXT NOT NULL,
            seen_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    [
        # 15: the room a job is about, when it is not its knock's door's room: a space door's
        # child rooms are each invited into by a job of their own.
        "ALTER TABLE jobs ADD COLUMN room TEXT",
    ],
    [
        # 16: a running total of the hits of each door-wide window (the join wave, the global
        # window), and each hit's place in it, so that a window's count is the total minus the
        # place of its first hit: one index probe, not a read of every hit in the window. Hits
        # stored before carry no place; until they are older than `unnumbered_until`, windows
        # reaching back to them are counted hit by hit.
        "ALTER TABLE guard_hits ADD COLUMN n INTEGER",
        """CREATE TABLE guard_totals (
            scope TEXT NOT NULL,
            subject TEXT NOT NULL,
            total BIGINT NOT NULL,
            PRIMARY KEY (scope, subject)
        )""",
        "DROP INDEX guard_hits_window",
        "CREATE INDEX guard_hits_window ON guard_hits (scope, subject, at, n)",
        """INSERT INTO state_values (key, value, updated_at)
            SELECT 'guard_hits.unnumbered_until', CAST(at AS TEXT), 0
            FROM guard_hits ORDER BY at DESC LIMIT 1""",
    ],
    [
        # 17: Knock's bans by room: a door's own entry bans in that door's rooms, and unblocking
        # it lifts those bans only. A ban remembered before names no room ('*': every room).
        """CREATE TABLE room_bans (
            user_id TEXT NOT NULL,
            room TEXT NOT NULL,
            pattern TEXT NOT NULL,
            banned_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (user_id, room)
        )""",
        """INSERT INTO room_bans (user_id, room, pattern, banned_at)
            SELECT user_id, '*', pattern, banned_at FROM knock_bans""",
        "DROP TABLE knock_bans",
        "CREATE INDEX room_bans_pattern ON room_bans (pattern)",
    ],
    [
        # 18: a user entry's fold keys (its localpart's normalised and fuzzy keys; the fuzzy one
        # NULL when the same), and the version of the folding that made them (`folded`; other
        # kinds have no keys but a version too). A load reads them instead of folding every
        # name again; it folds entries stored before, or with another version, and the lease
        # holder stores their keys.
        "ALTER TABLE blocklist_entries ADD COLUMN name_key TEXT",
        "ALTER TABLE blocklist_entries ADD COLUMN fuzzy_key TEXT",
        "ALTER TABLE blocklist_entries ADD COLUMN folded INTEGER",
    ],
]

SERIAL = {"sqlite": "INTEGER", "postgresql": "BIGSERIAL"}
BINARY = {"sqlite": "BLOB", "postgresql": "BYTEA"}

# What the migrations above create, for building queries; tests/integration/test_schema.py
# checks on both engines that the two say the same.
metadata = MetaData()

knocks = Table(
    "knocks",
    metadata,
    Column("knock_id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("requested_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("reason", Text),
    Column("source", Text, nullable=False),
    Column("submission_key", Text, unique=True),
    Column("ip_hash", Text),
    Column("answers", Text),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("invite_attempted_at", Float),
    Column("invited_at", Float),
    Column("door", Text, nullable=False, server_default="default"),
    Index("knocks_user", "user_id", "received_at"),
    Index("knocks_state", "state", "updated_at"),
    Index("knocks_door", "door", "received_at"),
)

knock_events = Table(
    "knock_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("knock_id", Text, ForeignKey("knocks.knock_id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("event", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", Text),
    Index("knock_events_knock", "knock_id", "id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("knock_id", Text, ForeignKey("knocks.knock_id", ondelete="CASCADE")),
    Column("run_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("first_attempt_at", Float),
    Column("locked_by", Text),
    Column("locked_until", Float),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("room", Text),
    Index("jobs_due", "run_at"),
)

review_posts = Table(
    "review_posts",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("knock_id", Text, ForeignKey("knocks.knock_id", ondelete="CASCADE"), nullable=False),
    Index("review_posts_knock", "knock_id"),
)

state_values = Table(
    "state_values",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

blocklist_entries = Table(
    "blocklist_entries",
    metadata,
    Column("pattern", Text, primary_key=True),
    Column("allow", Integer, primary_key=True),
    Column("origin", Text, primary_key=True),
    Column("hashed", Integer, nullable=False, server_default="0"),
    Column("source", Text, nullable=False),
    Column("reason", Text),
    Column("added_at", Float, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("name_key", Text),
    Column("fuzzy_key", Text),
    Column("folded", Integer),
    Index("blocklist_entries_status", "status"),
)

room_bans = Table(
    "room_bans",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("room", Text, primary_key=True),  # "*": remembered before bans had rooms
    Column("pattern", Text, nullable=False),
    Column("banned_at", Float, nullable=False),
    Index("room_bans_pattern", "pattern"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

guard_hits = Table(
    "guard_hits",
    metadata,
    Column("scope", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("n", Integer),  # the hit's place in its door-wide window's running total
    Index("guard_hits_window", "scope", "subject", "at", "n"),
)

guard_totals = Table(
    "guard_totals",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("subject", Text, primary_key=True),
    Column("total", BigInteger, nullable=False),
)

strikes = Table(
    "strikes",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
)

pacing = Table(
    "pacing",
    metadata,
    Column("name", Text, primary_key=True),
    Column("next_at", Float, nullable=False),
)

knock_pages = Table(
    "knock_pages",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("knock_id", Text, ForeignKey("knocks.knock_id", ondelete="CASCADE"), nullable=False),
    Column("door", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("knock_pages_knock", "knock_id"),
)

account_checks = Table(
    "account_checks",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("known", Integer),
    Column("checked_at", Float, nullable=False),
)

spent_challenges = Table(
    "spent_challenges",
    metadata,
    Column("challenge_id", Text, primary_key=True),
    Column("expires_at", Float, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("actor", Text, nullable=False),
    Column("csrf", Text, nullable=False),
    Column("key_mark", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("console_sessions_expiry", "expires_at"),
    Index("console_sessions_actor", "actor"),
)

doors = Table(
    "doors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("room", Text, nullable=False),
    Column("seen_at", Float, nullable=False),
)

sign_in_links = Table(
    "sign_in_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("job_id", BigInteger),
    Column("token_hash", Text, unique=True),
    Column("requested_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("used_at", Float),
    Index("sign_in_links_user", "user_id", "requested_at"),
    Index("sign_in_links_address", "address", "requested_at"),
    Index("sign_in_links_job", "job_id"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("display_name", Text),
    Column("avatar_mxc", Text),
    Column("avatar", LargeBinary),
    Column("avatar_type", Text),
    Column("fetched_at", Float, nullable=False),
    Index("profiles_fetched", "fetched_at"),
)

moderator_actions = Table(
    "moderator_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("note", Text),
    Column("door", Text, nullable=False, server_default="default"),
    Index("moderator_actions_at", "at"),
)
