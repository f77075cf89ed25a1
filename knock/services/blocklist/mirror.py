"""Mirror moderators' entries to BLOCKLIST_FILE / ALLOWLIST_FILE and apply a person's edits to them.

The database is the truth. The file is rewritten atomically whenever the entries change; a line a
person adds to it blocks (or allows), a line they remove unblocks. Edits are told apart from Knock's
own writes by the list of patterns Knock last wrote, kept in the database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from knock.clock import Clock
from knock.services.atomic_file import read_if_present, write_atomically
from knock.services.blocklist.index import BadPattern, Blocklist
from knock.store import Store
from knock.store.blocklist import MODERATOR, StoredEntry

log = logging.getLogger(__name__)

HEADER = (
    "# Managed by Knock: one entry a line, `@user:server Reason: text`; edits apply in a minute."
)


@dataclass(frozen=True)
class Line:
    """One entry as written in the file."""

    pattern: str
    reason: str | None


def parse_lines(text: str) -> dict[str, Line]:
    """Read the original format: `@user:server.tld Reason: free text`, the reason optional."""
    lines: dict[str, Line] = {}
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        pattern, _, rest = raw.partition(" ")
        rest = rest.strip()
        if rest.lower().startswith("reason:"):
            rest = rest[len("reason:") :].strip()
        lines[pattern] = Line(pattern, rest or None)
    return lines


def render(entries: list[StoredEntry]) -> str:
    """Write entries in the original format, one a line."""
    body = [f"{e.pattern} Reason: {e.reason}" if e.reason else e.pattern for e in entries]
    return "\n".join([HEADER, *body]) + "\n"


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
        self.snapshot_key = f"list_file.{'allow' if allow else 'block'}.written"

    async def sync(self) -> None:
        """Apply a person's edits to the file, then write the file from the database."""
        await self._apply_edits()
        entries = [
            e for e in await self.store.blocklist.entries(MODERATOR) if e.allow == self.allow
        ]
        wanted = render(entries)
        if read_if_present(self.path) != wanted:
            write_atomically(self.path, wanted)
        written = json.dumps(sorted(e.pattern for e in entries))
        await self.store.set_value(self.snapshot_key, written, self.clock.now())

    async def _apply_edits(self) -> None:
        text = read_if_present(self.path)
        if text is None:
            return
        in_file = parse_lines(text)
        stored = await self.store.get_value(self.snapshot_key)
        last_written = set(json.loads(stored)) if stored else set()
        for pattern in in_file.keys() - last_written:
            await self._add(in_file[pattern])
        for pattern in last_written - in_file.keys():
            await self.blocklist.remove(pattern, allow=self.allow)
            log.info("%s removed from %s by an edit of the file", pattern, self.path)

    async def _add(self, line: Line) -> None:
        try:
            entry = self.blocklist.entry_for(
                line.pattern, allow=self.allow, reason=line.reason, source="file"
            )
        except BadPattern as exc:
            log.warning("Ignoring a line of %s: %s", self.path, exc)
            return
        await self.blocklist.add(entry)
        log.info("%s added to %s by an edit of the file", entry.pattern, self.path)
