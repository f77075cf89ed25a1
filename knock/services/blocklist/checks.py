"""`knock check` and `knock blocklist`: the block-list read as intake reads it, without a room.

An id is repaired and validated as intake does (a matrix.to link, upper case, a bare name with
the default server), then matched with what was typed. The lists come from the database, or, while
it has no entries yet, from BLOCKLIST_FILE and ALLOWLIST_FILE; `--blocklist FILE` reads a file
instead. Nothing here signs in or needs NEW_ROOM_ID.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from knock.clock import Clock
from knock.config import Settings
from knock.core.admission import IdResult, read_id
from knock.core.blocklist import BlockIndex, Decision, Entry, MatchPolicy
from knock.services.blocklist.index import Blocklist
from knock.services.blocklist.mirror import parse_list
from knock.services.homeserver.account import BotAccount
from knock.services.homeserver.signin import USER_KEY
from knock.store import Store, StoredEntry


class CannotCheck(Exception):
    """The lists cannot be read; the message is one line saying why."""


@dataclass(frozen=True)
class Checked:
    """One input, read as intake reads it, and the block-list's decision on it."""

    text: str
    identity: IdResult
    decision: Decision

    def as_dict(self) -> dict[str, Any]:
        """One JSON line: the input, the id checked (None: not an id), and the decision."""
        valid = self.identity.problem is None
        answer: dict[str, Any] = {
            "user_id": self.text,
            "matrix_id": self.identity.user_id if valid else None,
            "repairs": list(self.identity.repairs),
        }
        if not valid:
            answer["problem"] = self.identity.problem
        return {**answer, **self.decision.as_dict()}

    def problem_line(self) -> str | None:
        """One line saying the input is not a Matrix ID, or None when it is one."""
        if self.identity.problem is None:
            return None
        return f"{json.dumps(self.text[:80])} is not a Matrix ID: {self.identity.problem}"


@dataclass
class Checker:
    """Check ids against one list; `notes` says where the list came from and what was skipped."""

    match: Callable[[str, str], Decision]
    default_server: str
    notes: list[str] = field(default_factory=list)

    def check(self, text: str) -> Checked:
        """Repair and validate `text` as intake does, then match the id and what was typed."""
        raw = text.strip()
        identity = read_id(raw, self.default_server)
        return Checked(text, identity, self.match(identity.user_id, raw))


def file_checker(path: Path, policy: MatchPolicy, default_server: str = "") -> Checker:
    """A checker over a block-list file (a bare name cannot be completed without a server)."""
    return _files_checker([(path, str(path), False)], policy, default_server)


@contextlib.asynccontextmanager
async def stored_checker(settings: Settings, clock: Clock) -> AsyncIterator[Checker]:
    """A checker over the stored lists, or BLOCKLIST_FILE while the database has none."""
    async with stored_blocklist(settings, clock) as blocklist:
        await blocklist.load()
        default_server = BotAccount(
            await blocklist.store.get_value(USER_KEY) or settings.matrix_user_id,
            base_url=settings.matrix_base_url,
            default_server=settings.default_server_name,
        ).default_server()
        if len(blocklist.index) == 0 and settings.blocklist_file.exists():
            files = [
                (settings.blocklist_file, "BLOCKLIST_FILE", False),
                (settings.allowlist_file, "ALLOWLIST_FILE", True),
            ]
            yield _files_checker(files, blocklist.policy, default_server, fallback=True)
            return
        index = blocklist.index
        yield Checker(lambda user_id, typed: index.check(user_id, typed=typed), default_server)


@contextlib.asynccontextmanager
async def stored_blocklist(settings: Settings, clock: Clock) -> AsyncIterator[Blocklist]:
    """The block-list as stored, not yet loaded, without signing in (for `knock` commands)."""
    try:
        store = await Store.open(
            settings.database_url,
            synchronous=settings.sqlite_synchronous,
            timeout=settings.database_timeout,
        )
    except (SQLAlchemyError, OSError) as exc:
        raise CannotCheck(f"DATABASE_URL cannot be opened: {_first_line(exc)}") from None
    try:
        yield Blocklist(settings, store, clock)
    finally:
        await store.close()


async def stored_entries(settings: Settings, clock: Clock) -> list[StoredEntry]:
    """Every stored entry, the block-list's and the allow-list's."""
    async with stored_blocklist(settings, clock) as blocklist:
        return await blocklist.entries()


def _files_checker(
    files: list[tuple[Path, str, bool]],
    policy: MatchPolicy,
    default_server: str,
    *,
    fallback: bool = False,
) -> Checker:
    """Read (path, name, allow) files into one index; the first must exist, the others may not."""
    files = [item for number, item in enumerate(files) if not number or item[0].exists()]
    entries: list[Entry] = []
    notes: list[str] = []
    if fallback:
        read = " and ".join(f"{name} ({path})" for path, name, _ in files)
        notes.append(f"the database has no block-list entries yet; checking against {read}")
    for path, _, allow in files:
        parsed = parse_list(_read(path))
        notes.extend(line.warning(str(path)) for line in parsed.skipped)
        entries.extend(
            Entry(line.pattern, source="file", reason=line.reason, allow=allow)
            for line in parsed.lines.values()
        )
    index = BlockIndex(entries, policy)
    return Checker(lambda user_id, typed: index.check(user_id, typed=typed), default_server, notes)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CannotCheck(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CannotCheck(f"cannot read {path}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
