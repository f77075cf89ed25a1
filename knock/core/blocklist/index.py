"""The block-list index: add and remove entries one at a time, check an id against all of them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import replace

from .decide import MAX_MATCHES, Hit, decide, keep
from .fold import keys, light_alike, light_key
from .ids import Probe, ascii_lower, host_of, probe, split_user_id
from .model import Decision, Entry, MatchPolicy, Rule, Verdict, weakest
from .names import NameIndex
from .strong import Keys, NewEntry, StrongSet, strong_rule

__all__ = ["DEFAULT_POLICY", "DISTINCT_KEY", "BlockIndex", "Keys", "stored_keys"]

DEFAULT_POLICY = MatchPolicy()
# A normalised key this long or longer names someone: the same key on the same server blocks,
# when the two names met losslessly (their light keys, fold.light_key, are alike). Shorter keys
# ('al', 'bob', 'ana' for anna) are shared by too many people and only ask review, as does a
# match that needed a lossy fold (repeats collapsed, "l" read as "i", "rn" as "m", letters
# joined across a separator): it may be somebody else.
DISTINCT_KEY = 5
# Display names: keys shorter than this say nothing; only this many words are looked at.
DISPLAY_KEY = 4
DISPLAY_WORDS = 8
# Entries read per key when their server matters to the verdict; a key shared by more entries
# is judged by the first ones found.
_SCAN = 64
_WORDS = re.compile(r"[\s._\-=/+|,;:]+")

# The decision when no entry matches.
_NOTHING = Decision("allow")
# Hits by entry: block entries under their number, allow entries under -1 - number.
_Hits = dict[int, Hit]


class BlockIndex:
    """Block-list and allow-list entries, checked against an id in well under a millisecond."""

    def __init__(self, entries: Iterable[Entry] = (), policy: MatchPolicy = DEFAULT_POLICY) -> None:
        self._policy = policy
        self._block = StrongSet()
        self._allow = StrongSet()
        self._names = NameIndex(policy)
        if isinstance(entries, Sized):
            self.reserve(len(entries))
        for entry in entries:
            self.add(entry)

    def reserve(self, entries: int) -> None:
        """Size the tables for about ``entries`` entries, before adding them one by one."""
        self._names.reserve(entries)

    def get(self, pattern: str, *, allow: bool = False) -> Entry | None:
        """The entry with exactly this pattern (on the allow-list if ``allow``), if any."""
        return (self._allow if allow else self._block).get(pattern)

    def add(self, entry: Entry) -> None:
        """Add ``entry``, replacing any entry with the same pattern on the same side."""
        self.remove(entry.pattern, allow=entry.allow)
        side = self._allow if entry.allow else self._block
        number = side.add(entry)
        if not entry.allow and entry.kind == "user":
            self._names.add(number, *_name_keys(entry.pattern))

    def add_new(self, entries: Sequence[NewEntry]) -> None:
        """:meth:`add` for each of ``entries`` (see :func:`.strong.new_entry`), in one pass: a
        load. No pattern may be filed on its side already, nor given twice on one side.

        An entry's keys, when given, are its localpart's as :func:`.fold.keys` makes them (as
        stored), so that a load of stored keys does not fold.
        """
        allowed = [entry for entry in entries if entry[3]]
        if allowed:
            self._allow.add_new(allowed)
            entries = [entry for entry in entries if not entry[3]]
        first = self._block.add_new(entries)
        users: list[int] = []
        hosts: list[str] = []
        names: list[str] = []
        fuzzy: list[str] = []
        host_of_server: dict[str | None, str] = {}  # a list's servers are few
        for number, entry in enumerate(entries, first):
            if entry[6] != "user":
                continue
            local, server = split_user_id(entry[0])
            host = host_of_server.get(server)
            if host is None:
                host = host_of_server[server] = _host(server)
            key, spelled = entry[7] or keys(local)
            users.append(number)
            hosts.append(host)
            names.append(key)
            fuzzy.append(spelled)
        self._names.add_many(users, hosts, names, fuzzy)

    def remove(self, pattern: str, *, allow: bool = False) -> bool:
        """Remove the entry with exactly this pattern (from the allow-list if ``allow``)."""
        removed = (self._allow if allow else self._block).remove(pattern)
        if removed is None:
            return False
        number, entry = removed
        if not allow and entry.kind == "user":
            self._names.discard(number, *_name_keys(pattern))
        return True

    def __len__(self) -> int:
        return len(self._block) + len(self._allow)

    def entries(self) -> Iterator[Entry]:
        """Yield every entry: block entries, then allow entries."""
        yield from self._block
        yield from self._allow

    def check(
        self,
        user_id: str,
        *,
        typed: str | None = None,
        display_name: str | None = None,
        include_held: bool = True,
        fuzzy_action: Verdict | None = None,
    ) -> Decision:
        """Decide on ``user_id``, also matching the id as ``typed`` and the ``display_name``.

        ``user_id`` is the repaired id, or the raw text when it did not validate; any string
        will do. Allow entries are matched against ``user_id`` only; display-name matches are
        evidence for review at most. Held entries count unless ``include_held`` is False (for
        removing people already in: only entries in force may do that). ``fuzzy_action``, when
        given, replaces the policy's for this check (a door's own FUZZY_ACTION).
        """
        if not self._block and not self._allow:
            return _NOTHING  # no entry to meet: the folding below would find nothing
        policy = self._policy
        if fuzzy_action is not None and fuzzy_action != policy.fuzzy_action:
            policy = replace(policy, fuzzy_action=fuzzy_action)
        request = probe(user_id)
        hits: _Hits = {}
        for number, _ in self._allow.find(request):
            keep(hits, -1 - number, Hit(self._allow.entry(number), "allow", "allow"))
        folded = keys(request.local)
        self._strong_hits(request, hits, typed=False)
        self._name_hits(request, folded, hits, policy, typed=False)
        if typed is not None and typed != user_id:
            again = probe(typed)
            self._strong_hits(again, hits, typed=True)
            folded_again = keys(again.local)
            if (again.host, folded_again) != (request.host, folded):
                self._name_hits(again, folded_again, hits, policy, typed=True)
            elif again.local != request.local:
                # The same keys, so the same entries; but the text as typed may meet one of
                # them losslessly where the repaired one did not (a space the repair removed).
                self._same_name_hits(again, folded_again[0], hits, policy, typed=True)
        if display_name:
            self._display_hits(display_name, hits, policy)
        if not include_held:
            return decide(hit for hit in hits.values() if not hit.entry.held)
        return decide(hits.values())

    def covering(self, user_id: str) -> list[Entry]:
        """Return every block entry that :meth:`covers` ``user_id``, held ones too."""
        request = probe(user_id)
        found = dict.fromkeys(number for number, _ in self._block.find(request))
        key = keys(request.local)[0]
        for number in self._names.same_server(request.host or "", key):
            if number not in found and self.covers(self._block.entry(number), user_id):
                found[number] = None
        return [self._block.entry(number) for number in found]

    def covers(self, entry: Entry, user_id: str) -> bool:
        """Tell whether ``entry`` alone matches ``user_id`` strongly enough to act on at once.

        Strong rules only: exact, hash, server, glob, and for a block entry the same normalised
        name on the same server when that blocks. Near misses never count.
        """
        request = probe(user_id)
        if strong_rule(entry, request) is not None:
            return True
        if entry.allow or entry.kind != "user":
            return False
        host, key, _ = _covering_keys(entry.pattern)
        same = bool(key) and key == keys(request.local)[0] and host == (request.host or "")
        if not same or self._normalised(key, lossless=True) != "block":
            return False
        return self._normalised(key, lossless=_lossless(request.local, entry)) == "block"

    def _strong_hits(self, request: Probe, hits: _Hits, *, typed: bool) -> None:
        """Record the block entries that cover ``request`` without folding."""
        for number, rule in self._block.find(request):
            entry = self._block.entry(number)
            hit = Hit(entry, rule, "block", typed=typed, hashed=entry.kind == "hash")
            keep(hits, number, hit)

    def _name_hits(
        self,
        request: Probe,
        folded: tuple[str, str],
        hits: _Hits,
        policy: MatchPolicy,
        *,
        typed: bool,
    ) -> None:
        """Record the entries whose folded localpart meets the request's, exactly or nearly."""
        host, text = request.host or "", request.local
        key, fuzzy = folded
        here = self._same_name_hits(request, key, hits, policy, typed=typed)
        there = policy.other_server_action
        if len(key) < DISTINCT_KEY:
            there = weakest(there, policy.fuzzy_action)
        for number in self._names.anywhere(key)[:_SCAN]:
            if number not in here:
                entry = self._block.entry(number)
                hit = Hit(entry, "other_server", there, text=text, host=host, typed=typed)
                keep(hits, number, hit)
        self._near_hits(fuzzy, hits, policy, text=text, host=host, typed=typed)

    def _same_name_hits(
        self, request: Probe, key: str, hits: _Hits, policy: MatchPolicy, *, typed: bool
    ) -> list[int]:
        """Record the entries on the request's server with its normalised key; return them."""
        text = request.local
        here = self._names.same_server(request.host or "", key)
        if not here:
            return here
        lossy = self._normalised(key, lossless=False, policy=policy)
        lossless = self._normalised(key, lossless=True, policy=policy)
        light = light_key(text) if lossy != lossless else None
        for number in here:
            entry = self._block.entry(number)
            verdict = lossless if light is None or _lossless(text, entry, light) else lossy
            keep(hits, number, Hit(entry, "normalised", verdict, text=text, typed=typed))
        return here

    def _near_hits(
        self, fuzzy: str, hits: _Hits, policy: MatchPolicy, *, text: str, host: str, typed: bool
    ) -> None:
        """Record the entries within the allowed edits of ``fuzzy`` (``text`` folded)."""
        here = policy.fuzzy_action
        there = weakest(here, policy.other_server_action)
        same_verdict = here == there
        # When the server does not change the verdict, any few entries of the nearest names
        # will do; otherwise each name is read further, for an entry on the request's server.
        budget = MAX_MATCHES if same_verdict else _SCAN * MAX_MATCHES
        for name, distance, cutoff in sorted(self._names.near(fuzzy), key=lambda near: near[1]):
            rule: Rule = "digits" if distance == 0 else "edit_distance"
            members = self._names.members(name, budget if same_verdict else _SCAN)
            for number in members:
                entry = self._block.entry(number)
                mine = same_verdict or _host(_server(entry)) == host
                verdict = here if mine else there
                hit = Hit(entry, rule, verdict, distance, cutoff, text, True, host, typed)
                keep(hits, number, hit)
            budget -= len(members)
            if budget <= 0:
                break

    def _display_hits(self, display_name: str, hits: _Hits, policy: MatchPolicy) -> None:
        """Record the entries whose localpart reads like the display name or one of its words."""
        verdict = weakest(policy.fuzzy_action, "review")
        words = [word for word in _WORDS.split(display_name) if word][:DISPLAY_WORDS]
        for text in dict.fromkeys([display_name, *words]):
            key, fuzzy = keys(text)
            if len(key) >= DISPLAY_KEY:
                for number in self._names.anywhere(key)[:_SCAN]:
                    hit = Hit(self._block.entry(number), "display_name", verdict, 0, 0, text)
                    keep(hits, number, hit)
            name = self._names.name_of(fuzzy) if len(fuzzy) >= DISPLAY_KEY else None
            if name is not None:
                for number in self._names.members(name, MAX_MATCHES):
                    hit = Hit(self._block.entry(number), "display_name", verdict, 0, 0, text, True)
                    keep(hits, number, hit)

    def _normalised(
        self, key: str, *, lossless: bool, policy: MatchPolicy | None = None
    ) -> Verdict:
        """The verdict for the same normalised name on the same server, met (los)slessly."""
        if lossless and len(key) >= DISTINCT_KEY:
            return "block"
        return (policy or self._policy).fuzzy_action


def stored_keys(entry: Entry) -> Keys | None:
    """The keys a user entry is stored with, for a load to read instead of folding again
    (see :data:`.fold.FOLD_VERSION`); None for other kinds, which have none."""
    return keys(split_user_id(entry.pattern)[0]) if entry.kind == "user" else None


def _name_keys(pattern: str) -> tuple[str, str, str]:
    """A user entry's host (or ""), normalised key and fuzzy key."""
    local, server = split_user_id(pattern)
    return (_host(server), *keys(local))


# covers() is asked about one entry against every member and knock in turn.
_covering_keys = functools.lru_cache(maxsize=64)(_name_keys)


def _lossless(text: str, entry: Entry, light: str | None = None) -> bool:
    """Tell whether localpart ``text`` (light key ``light``) meets ``entry``'s losslessly."""
    local = split_user_id(entry.pattern)[0]
    if local == text:
        return True
    return light_alike(light_key(text) if light is None else light, light_key(local))


def _server(entry: Entry) -> str | None:
    """The server part of a user entry's pattern, as written."""
    return split_user_id(entry.pattern)[1]


def _host(server: str | None) -> str:
    """The host a server part names, lower-cased, or "" for none."""
    return host_of(ascii_lower(server)) if server else ""
