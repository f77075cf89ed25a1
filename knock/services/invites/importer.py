"""Bring a moderator's block-list and pending invites over from the original service.

The original kept `blocked_users.txt` (the block-list format Knock still mirrors) and
`pending_invites.json`, `{"@user:server": {"invite_time": <epoch s>, "last_checked": ...}}`.
Both files are read and checked in full before the database is opened, so one bad pending invite
imports nothing; a block-list line that is not an entry (as Knock reads `BLOCKLIST_FILE`) is skipped
and named. Importing the same files again changes nothing. Pending invites become knocks in state
`invited` with the original invite time, so reminders and expiry count from when the original
service sent them.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from knock.clock import Clock
from knock.config import Settings
from knock.core import mxid
from knock.core.admission_batch import AddKnock
from knock.core.blocklist import Entry
from knock.core.history import IMPORT, HistoryLine
from knock.core.knocks import NewKnock
from knock.core.lifecycle import FOLLOWED, Event, State
from knock.services.blocklist.index import Blocklist
from knock.services.blocklist.mirror import parse_list
from knock.store import UNAVAILABLE, Store, cannot_open_database
from knock.store.blocklist import MODERATOR, NEW

log = logging.getLogger(__name__)

ACTOR = str(IMPORT)  # the entries' source and the knocks' source, as the history's actor
FUTURE_LEEWAY = 3600.0  # clock skew between hosts; a millisecond timestamp is far beyond it
SHOWN_LIMIT = 80  # characters of a bad entry quoted in an error line


class BadInput(Exception):
    """A file that cannot be imported; `problems` says what is wrong, one line each.

    `skipped` names the block-list lines that are not entries, as a successful import would.
    """

    def __init__(self, problems: list[str], skipped: tuple[str, ...] = ()) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.skipped = skipped


class StoreUnavailable(Exception):
    """The database cannot be opened, or stopped answering; the message is one line."""


@dataclass(frozen=True)
class OriginalInvite:
    """An invite the original service sent that has not been answered yet."""

    user_id: str
    invite_time: float


@dataclass(frozen=True)
class ImportFiles:
    """The checked contents of the files to import (None: that file was not given)."""

    entries: list[Entry] | None
    invites: list[OriginalInvite] | None
    skipped: tuple[str, ...] = ()  # block-list lines that are not entries: one warning each


@dataclass
class Imported:
    """What an import did, for the summary a moderator reads."""

    added: int = 0
    present: int = 0
    imported: int = 0
    already_imported: int = 0
    open_knock: int = 0
    past_ttl: int = 0

    def summary(self, files: ImportFiles) -> list[str]:
        """Describe the import in a line per file."""
        lines = []
        if files.entries is not None:
            skips = f", {len(files.skipped)} lines skipped" if files.skipped else ""
            lines.append(f"block-list: {self.added} added, {self.present} already present{skips}")
        if files.invites is not None:
            skipped = self.already_imported + self.open_knock
            why = [
                f"{count} {words}"
                for count, words in (
                    (self.already_imported, "already imported"),
                    (self.open_knock, "already followed by Knock"),
                )
                if count
            ]
            detail = f" ({', '.join(why)})" if why else ""
            lines.append(f"pending invites: {self.imported} imported, {skipped} skipped{detail}")
        if self.past_ttl:
            lines.append(
                f"pending invites: {self.past_ttl} older than INVITE_TTL; "
                "Knock revokes them at its next invite check"
            )
        return lines


def read_files(blocklist: Path | None, pending: Path | None, now: float) -> ImportFiles:
    """Read and check both files; raise BadInput naming every problem in either."""
    problems: list[str] = []
    entries: list[Entry] | None = None
    invites: list[OriginalInvite] | None = None
    skipped: tuple[str, ...] = ()
    if blocklist is not None:
        try:
            entries, skipped = blocklist_entries(_read(blocklist), str(blocklist))
        except BadInput as exc:
            problems += exc.problems
    if pending is not None:
        try:
            invites = pending_invites(_read(pending), str(pending), now)
        except BadInput as exc:
            problems += exc.problems
    if problems:
        raise BadInput(problems, skipped)
    return ImportFiles(entries, invites, skipped)


def blocklist_entries(text: str, name: str) -> tuple[list[Entry], tuple[str, ...]]:
    """Read a block-list file as moderator entries, exactly as Knock reads `BLOCKLIST_FILE`.

    Return the entries and, for every line that is not one, a warning naming the file and the
    line (a line is an entry only when it starts with a Matrix ID or an id pattern).
    """
    parsed = parse_list(text)
    # `@Troll:x` and `@troll:x` are one entry: the parser keys lines by the pattern as stored.
    entries = [
        Entry(line.pattern, source=ACTOR, reason=line.reason) for line in parsed.lines.values()
    ]
    return entries, tuple(line.warning(name) for line in parsed.skipped)


def pending_invites(text: str, name: str, now: float) -> list[OriginalInvite]:
    """Read the original `pending_invites.json`; `last_checked` is left to Knock's own checks."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise BadInput([f"{name} is not valid JSON ({where}: {exc.msg})"]) from None
    except RecursionError:
        raise BadInput([f"{name} is nested too deeply to be a list of pending invites"]) from None
    if not isinstance(data, dict):
        example = '{"@alice:example.org": {"invite_time": 1700000000}}'
        raise BadInput([f"{name} must be a JSON object like {example}"])
    invites: list[OriginalInvite] = []
    problems: list[str] = []
    for user_id, value in data.items():
        try:
            invites.append(_invite(user_id, value, now))
        except ValueError as exc:
            problems.append(f"{name}: {_shown(user_id)}: {exc}")
    if problems:
        raise BadInput(problems)
    return invites


def _invite(user_id: str, value: object, now: float) -> OriginalInvite:
    try:
        valid = mxid.validate(user_id)
    except mxid.InvalidMatrixId as exc:
        raise ValueError(f"not a valid Matrix ID: {exc.reason}") from None
    if not isinstance(value, dict):
        raise ValueError('expected an object with "invite_time" (epoch seconds)')
    if "invite_time" not in value:
        raise ValueError('"invite_time" is missing')
    sent = _seconds(value["invite_time"])
    if not math.isfinite(sent) or sent <= 0:
        raise ValueError(f'"invite_time" must be epoch seconds, not {_shown(value["invite_time"])}')
    if sent > now + FUTURE_LEEWAY:
        raise ValueError(f'"invite_time" {sent:.0f} is in the future (seconds, not milliseconds?)')
    return OriginalInvite(valid, sent)


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _shown(value: object) -> str:
    """Quote a value from a file on one line, however it is made."""
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 3] + "..."


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput([f"{path} is not UTF-8 text"]) from None
    except OSError as exc:
        raise BadInput([f"cannot read {path}: {exc.strerror or exc}"]) from None


class _Outcome(Enum):
    IMPORTED = "imported"
    ALREADY_IMPORTED = "already imported"
    OPEN_KNOCK = "already followed by Knock"


class Importer:
    """Write checked entries and invites; whatever is already there is left as it is."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.blocklist = Blocklist(settings, store, clock)

    async def run(self, files: ImportFiles) -> Imported:
        """Import the block-list entries, then the pending invites."""
        imported = Imported()
        for entry in files.entries or []:
            if await self._add_entry(entry):
                imported.added += 1
            else:
                imported.present += 1
        for invite in files.invites or []:
            outcome = await self._add_invite(invite)
            if outcome is _Outcome.IMPORTED:
                imported.imported += 1
                if self.clock.now() - invite.invite_time >= self.settings.invite_ttl:
                    imported.past_ttl += 1
            elif outcome is _Outcome.ALREADY_IMPORTED:
                imported.already_imported += 1
            else:
                imported.open_knock += 1
        log.info("Imported from the original service: %s", imported)
        return imported

    async def _add_entry(self, entry: Entry) -> bool:
        stored = await self.store.blocklist.with_pattern(entry.pattern, False)
        if any(other.origin == MODERATOR for other in stored):
            return False  # a moderator's entry, with its own reason, stays as it is
        # Counted by Knock's lease holder before it removes anyone (BLOCK_CONFIRM_THRESHOLD).
        await self.blocklist.add(entry, status=NEW)
        return True

    async def _add_invite(self, invite: OriginalInvite) -> _Outcome:
        key = f"{ACTOR}:{invite.user_id}"
        if await self.store.knock_by_submission(key) is not None:
            return _Outcome.ALREADY_IMPORTED
        if await self.store.latest_knock(invite.user_id, FOLLOWED) is not None:
            return _Outcome.OPEN_KNOCK
        sent = datetime.fromtimestamp(invite.invite_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        history = (
            HistoryLine(Event.RECEIVED, IMPORT, "a pending invite of the original service"),
            HistoryLine(Event.QUEUED, IMPORT),
            HistoryLine(Event.INVITED, IMPORT, f"invited by the original service at {sent}"),
        )
        # One transaction: the knock arrives invited, as the worker leaves one it invited.
        created = await self.store.admit(AddKnock(_knock(invite, key), history), self.clock.now())
        return _Outcome.IMPORTED if created else _Outcome.ALREADY_IMPORTED


def _knock(invite: OriginalInvite, key: str) -> NewKnock:
    return NewKnock(
        knock_id=uuid.uuid4().hex[:20],
        user_id=invite.user_id,
        requested_id=invite.user_id,
        state=State.INVITED,
        reason=None,
        source=ACTOR,
        submission_key=key,
        ip_hash=None,
        answers=None,
        invited_at=invite.invite_time,
    )


async def import_files(settings: Settings, files: ImportFiles, clock: Clock) -> Imported:
    """Open the database, import checked files, and close it; raise StoreUnavailable if it fails."""
    try:
        store = await Store.open(
            settings.database_url,
            synchronous=settings.sqlite_synchronous,
            timeout=settings.database_timeout,
        )
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(cannot_open_database(settings.database_url, exc)) from None
    try:
        return await Importer(settings, store, clock).run(files)
    except UNAVAILABLE as exc:
        raise StoreUnavailable(
            f"the database stopped answering ({_first_line(exc)}); "
            "run the import again: what is already imported is skipped"
        ) from None
    finally:
        await store.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
