"""Mirror moderators' entries to BLOCKLIST_FILE / ALLOWLIST_FILE and apply a person's edits to them.

The database is the truth. The file is rewritten atomically whenever the entries change; a line a
person adds to it blocks (or allows), a line they remove unblocks. Edits are told apart from Knock's
own writes by the list of patterns Knock last wrote, kept in the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from knock.clock import Clock
from knock.core import mxid
from knock.core.blocklist import Entry, covers_anyone
from knock.services.atomic_file import read_if_present, write_atomically
from knock.services.blocklist.index import CATCH_ALL, BadPattern, Blocklist, normalise_pattern
from knock.store import Store
from knock.store.blocklist import NEW

log = logging.getLogger(__name__)

HEADER = (
    "# Managed by Knock: one entry a line, `@user:server Reason: text` (a whole server:"
    " `@*:server`); edits apply within about 20 seconds."
)
# Lines that are not entries are kept in the file as comments starting with this, so that the
# person who wrote them sees why; Knock keeps such comments until someone deletes them.
SKIPPED = "# Skipped by Knock"
NOT_AN_ENTRY = (
    "not an entry: a line starts with a Matrix ID or a pattern like @spam*:*, then the reason"
)


@dataclass(frozen=True)
class Line:
    """One entry as written in the file."""

    pattern: str
    reason: str | None


@dataclass(frozen=True)
class Skipped:
    """A line that is not an entry: its number (from 1), its text, and why it was skipped."""

    number: int
    text: str
    why: str

    def comment(self) -> str:
        """The comment the line becomes when Knock rewrites the file."""
        return f"{SKIPPED} ({self.why}): {self.text}"

    def warning(self, name: str) -> str:
        """One line naming the file and the line: `blocked_users.txt:3: skipped "*": ...`."""
        return f"{name}:{self.number}: skipped {json.dumps(self.text[:80])}: {self.why}"


@dataclass
class ParsedList:
    """A list file as read: its entries by pattern, the lines skipped, Knock's skip comments."""

    lines: dict[str, Line] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def parse_list(text: str) -> ParsedList:
    """Read the original format: `@user:server.tld Reason: free text`, the reason optional.

    A line is an entry only when its first word is a Matrix ID or an id pattern (`@spam*:*`,
    `@*:evil.example`); the rest of the line is the reason, with or without `Reason:`. Blank
    lines and `#` comments are nothing; every other line is skipped, with the reason why.
    """
    parsed = ParsedList()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith(SKIPPED):
            parsed.kept.append(line)
        if not line or line.startswith("#"):
            continue
        token, *rest = line.split(maxsplit=1)
        try:
            pattern = entry_pattern(token)
        except BadPattern as exc:
            parsed.skipped.append(Skipped(number, line, str(exc)))
            continue
        reason = rest[0].strip() if rest else ""
        if reason.lower().startswith("reason:"):
            reason = reason[len("reason:") :].strip()
        parsed.lines[pattern] = Line(pattern, reason or None)
    return parsed


def entry_pattern(token: str) -> str:
    """Check the first word of a line: a Matrix ID or an id pattern; raise BadPattern if not."""
    if covers_anyone(Entry(token)):
        raise BadPattern(f"{token[:64]} {CATCH_ALL}")
    if not token.startswith("@"):
        server = token.lower()
        hint = f" (a whole server is written @*:{server})" if _is_server(server) else ""
        raise BadPattern(NOT_AN_ENTRY + hint)
    return normalise_pattern(token)


def _is_server(text: str) -> bool:
    return "." in text.strip("*.") and mxid.is_valid(f"@x:{text.removeprefix('*.')}")


def render(
    entries: Iterable[tuple[str, str | None]],
    skipped: Iterable[Skipped] = (),
    kept: Iterable[str] = (),
) -> str:
    """Write (pattern, reason) entries in the original format, one a line, then the skipped
    lines as comments."""
    body = [f"{pattern} Reason: {reason}" if reason else pattern for pattern, reason in entries]
    comments = dict.fromkeys([*kept, *(line.comment() for line in skipped)])
    return "\n".join([HEADER, *body, *comments]) + "\n"


class ListFile:
    """One mirrored file: the block-list's, or the allow-list's."""

    def __init__(
        self, path: Path, *, allow: bool, blocklist: Blocklist, store: Store, clock: Clock
    ) -> None:
        self.path = path
        self.allow = allow
        self.blocklist = blocklist
        self.store = store
        self.clock = clock
        side = "allow" if allow else "block"
        self.snapshot_key = f"list_file.{side}.written"  # the patterns Knock last wrote
        self.mirrored_key = f"list_file.{side}.mirrored"  # see _mirrored
        self._unreadable = False  # said once until the file can be read again

    async def sync(self, *, write: bool = True) -> None:
        """Apply a person's edits to the file, then write the file from the database.

        A line that is not an entry is skipped with a warning naming the file and the line,
        and kept in the rewritten file as a comment saying why. A file as Knock last wrote it,
        with the block-list unchanged since, costs one read: at a million entries, parsing it
        and rendering the database's entries again took seconds every `FILES_EVERY`. Without
        `write`, a file without edits is not written (start-up: the edits count from the first
        knock on, the file is written by the next tick).
        """
        try:
            text = read_if_present(self.path)
        except UnicodeDecodeError:
            if not self._unreadable:
                log.warning(
                    "%s is not UTF-8 text: Knock neither reads nor rewrites it until it is",
                    self.path,
                )
            self._unreadable = True
            return  # a person's file Knock cannot read is not overwritten either
        self._unreadable = False
        mirrored = await self._mirrored()
        if text is not None and mirrored is not None and _digest(text) == mirrored[0]:
            if mirrored[1] == await self.store.blocklist.version():
                return  # Knock's own file, and nothing to add to it
            # Knock's own file: nothing to apply, and no line of it to skip again.
            parsed, edited = ParsedList(kept=_comments(text)), False
        else:
            parsed, edited = await self._apply_edits(text)
        if not write and not edited:
            return
        version = await self.store.blocklist.version()  # before the entries: never newer
        # Patterns and reasons only: at a million entries, objects would double the process.
        entries = await self.store.blocklist.moderator_lines(self.allow)
        wanted = render(entries, parsed.skipped, parsed.kept)
        if text != wanted:
            write_atomically(self.path, wanted)
        written = json.dumps([pattern for pattern, _ in entries])  # read as a set
        now = self.clock.now()
        await self.store.set_value(self.snapshot_key, written, now)
        await self.store.set_value(self.mirrored_key, f"{_digest(wanted)} {version}", now)

    async def _mirrored(self) -> tuple[str, int] | None:
        """The digest of the text Knock last wrote, and the block-list version it showed."""
        stored = await self.store.get_value(self.mirrored_key)
        if stored is None:
            return None
        digest, _, version = stored.partition(" ")
        return digest, int(version)

    async def _apply_edits(self, text: str | None) -> tuple[ParsedList, bool]:
        """Parse the file and apply a person's edits; tell whether there were any."""
        if text is None:
            return ParsedList(), False
        parsed = parse_list(text)
        for line in parsed.skipped:
            log.warning("%s", line.warning(str(self.path)))
        in_file = parsed.lines
        stored = await self.store.get_value(self.snapshot_key)
        last_written = set(json.loads(stored)) if stored else set()
        for pattern in in_file.keys() - last_written:
            await self._add(in_file[pattern])
        for pattern in last_written - in_file.keys():
            # An edit of the file names no moderator (its entries' source is `file`): not logged.
            await self.blocklist.remove(pattern, allow=self.allow, by=None)
            log.info("%s removed from %s by an edit of the file", pattern, self.path)
        return parsed, bool(in_file.keys() ^ last_written or parsed.skipped)

    async def _add(self, line: Line) -> None:
        entry = self.blocklist.entry_for(
            line.pattern, allow=self.allow, reason=line.reason, source="file"
        )
        # Counted by the lease holder before it removes anyone (BLOCK_CONFIRM_THRESHOLD).
        await self.blocklist.add(entry, status=NEW)
        log.info("%s added to %s by an edit of the file", entry.pattern, self.path)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _comments(text: str) -> list[str]:
    """The skip comments of a file Knock wrote (what parse_list keeps), without parsing it."""
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith(SKIPPED)]
