"""Say in a moderator's words why a knock waits for review, where it came from and what it said.

Pure: the console's review page gives the knock's reason, its history and its stored answers,
and shows what comes back. The block-list's evidence is read from the history (the JSON the
audit log keeps, :mod:`knock.core.evidence`); each match's transforms are already written for a
moderator (quoting what was typed, never the internal key), so they are shown as they are,
with arrows for "read as".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from knock.core.blocklist.explain import show
from knock.core.evidence import MatchEvidence, read_evidence
from knock.core.history import HistoryEntry
from knock.core.lifecycle import Event, Reason

__all__ = ["PLATFORMS", "ago", "held_because", "platform_name"]

# The sources a knock is recorded with, as a moderator knows them.
PLATFORMS: dict[str, str] = {
    "page": "Knock's own page",
    "native": "a knock in Matrix",
    "import": "an import",
    "tally": "Tally",
    "typeform": "Typeform",
    "jotform": "Jotform",
    "formbricks": "Formbricks",
    "heyform": "HeyForm",
    "fillout": "Fillout",
    "generic": "a generic form",
    "html": "an HTML form",
}
# Rules that found the same name written differently: the request "looks like" the entry.
_LOOK_ALIKE_RULES = frozenset({"normalised", "other_server", "digits", "edit_distance"})
_FIXED: dict[str, str] = {
    Reason.JOIN_WAVE.value: "arrived during a join wave (many knocks at once)",
    Reason.REVIEW_MODE.value: "every knock waits for a moderator (review mode)",
    Reason.DEFERRED_OVERFLOW.value: "arrived when too many knocks were already waiting their turn",
    Reason.DOOR_REMOVED.value: "came through a door since removed from DOORS_FILE",
}
_UNREADABLE_MATCH = "its Matrix ID or display name looks like one on the block-list"


def held_because(
    reason: str | None, history: Sequence[HistoryEntry], *, user_id: str, requested_id: str
) -> tuple[str, ...]:
    """Say why a knock is held for review, one plain sentence per finding, the main one first.

    ``reason`` is the knock's reason (:class:`Reason`), ``history`` its audit log (oldest first),
    ``user_id`` the id it stands for and ``requested_id`` the id as it was typed.
    """
    repaired = _repairs(history, user_id=user_id, requested_id=requested_id)
    if reason == Reason.FUZZY_MATCH.value:
        found = _matches(_held_detail(history))
        return (*found, *((repaired,) if repaired else ()))
    if reason == Reason.REPAIRED_ID.value:
        return (repaired or "the Matrix ID was repaired",)
    main = _FIXED.get(reason or "", f"held for review ({reason})" if reason else "held for review")
    return (main, *((repaired,) if repaired else ()))


def platform_name(source: str) -> str:
    """Name the platform a knock came from (a source Knock does not know is shown as it is)."""
    return PLATFORMS.get(source, show(source))


def ago(seconds: float) -> str:
    """Say how long ago something happened, roughly: "just now", "5 minutes ago", "2 days ago"."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "just now"
    for size, unit in ((60 * 24, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def _held_detail(history: Sequence[HistoryEntry]) -> str | None:
    """The detail of the last time the knock was held for review."""
    return next(
        (h.detail for h in reversed(history) if h.event == Event.HELD_FOR_REVIEW.value), None
    )


def _matches(detail: str | None) -> tuple[str, ...]:
    """One sentence per block-list match that asked for review (or blocked)."""
    matches = read_evidence(detail)
    if not matches:
        return (_UNREADABLE_MATCH,)
    said = tuple(_match_words(match) for match in matches if match.fields.get("verdict") != "allow")
    return said or (_UNREADABLE_MATCH,)


def _match_words(match: MatchEvidence) -> str:
    """``looks like @troll:example.org: 0→o, removed suffix "_99"``."""
    entry = show(match.entry)
    notes = ", ".join(_arrows(note) for note in match.transforms)
    if match.rule in _LOOK_ALIKE_RULES or match.rule == "display_name":
        said = f"looks like {entry}"
    else:
        said = f"is on the block-list as {entry}"
    return f"{said}: {notes}" if notes else said


def _arrows(note: str) -> str:
    return note.replace("->", "→")


def _repairs(history: Iterable[HistoryEntry], *, user_id: str, requested_id: str) -> str | None:
    """Say how the Matrix ID was repaired, if it was, and how it was typed."""
    details = [
        part
        for h in history
        if h.event == Event.REPAIRED.value and h.detail
        for part in h.detail.split("; ")
    ]
    typed = requested_id.strip() != user_id
    if not details and not typed:
        return None
    said = "the Matrix ID was repaired"
    if typed:
        said += f' (typed as "{show(requested_id)}")'
    return f"{said}: {', '.join(details)}" if details else said
