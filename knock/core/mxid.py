"""Matrix user IDs: repair what people type into forms, then validate it against the spec.

People paste Matrix IDs into forms in many shapes: with stray spaces, as a matrix.to link, as
``alice@example.org``, or as a bare name. :func:`repair` fixes the common, unambiguous slips and
says what it changed, so a moderator can see it; :func:`validate` then applies the identifier
grammar from the Matrix spec (appendix "Identifier grammar": user identifiers and server names).
Words with spaces between them are never glued into an id: they are refused.

:func:`read` is what intake uses: it keeps a valid *historical* user ID (a localpart of any
printable ASCII but ":", as the spec still requires servers to accept, e.g. ``@Alice:example.org``)
as typed, so a real old account is invited under its own name; :func:`lower_cased` gives the id
to try when the homeserver does not know that one. Nothing here does I/O.
"""

import ipaddress
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NewType
from urllib.parse import unquote

__all__ = [
    "MAX_ID_BYTES",
    "InvalidMatrixId",
    "Repaired",
    "RoomID",
    "TooLong",
    "UserID",
    "is_room_id",
    "is_valid",
    "is_valid_historical",
    "localpart",
    "lower_cased",
    "parse",
    "read",
    "repair",
    "server_name",
    "validate",
]

UserID = NewType("UserID", str)
RoomID = NewType("RoomID", str)

# Both user and room IDs must fit in a PDU field (the state key of m.room.member, room_id),
# which the spec limits to 255 bytes.
MAX_ID_BYTES = 255

_QUOTE_LIMIT = 64
_LOCALPART_CHARS = frozenset(string.ascii_lowercase + string.digits + "._=-/+")
# Historical user IDs (spec appendix "Historical User IDs"): any printable ASCII but ":".
_HISTORICAL_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F)) - {":"}
_DNS_CHARS = frozenset(string.ascii_letters + string.digits + "-")
_IPV4_CHARS = frozenset(string.digits + ".")
_IPV6_CHARS = frozenset(string.hexdigits + ":.")
_IPV6_MAX_LEN = 39
# What may follow "localpart:" for us to believe the colon separates a user from a server;
# anything else (a URL's "//", a room alias) is left alone rather than guessed at.
_SERVER_CHARS = frozenset(string.ascii_letters + string.digits + ".-:[]")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Characters that render as nothing but survive copy and paste; str.isspace() misses them.
_INVISIBLE = frozenset(
    "\u00ad"  # soft hyphen
    "\u180e"  # Mongolian vowel separator (no longer a space since Unicode 6.3)
    "\u200b\u200c\u200d"  # zero-width space, non-joiner, joiner
    "\u200e\u200f"  # left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2060\u2061\u2062\u2063\u2064"  # word joiner and invisible operators
    "\u2066\u2067\u2068\u2069"  # bidi isolates
    "\ufeff"  # byte order mark, zero-width no-break space
)
# re.ASCII keeps IGNORECASE from matching look-alikes such as "ſ" (long s) for "s".
_MATRIX_TO_LINK = re.compile(
    r"(?:https?://)?matrix\.to/#/(?P<target>[^?]*)(?:\?.*)?",
    re.IGNORECASE | re.ASCII | re.DOTALL,
)
_EMAIL_SHAPE = re.compile(
    r"(?P<sigil>@?)(?P<local>[A-Za-z0-9._=/+-]+)@(?P<host>[A-Za-z0-9.-]+)", re.ASCII
)

_EXAMPLE = "@alice:example.org"
_EMPTY = f"the Matrix ID is empty; it looks like {_EXAMPLE}"
_SPACES = f"a Matrix ID has no spaces between words, like {_EXAMPLE}"
_NO_SIGIL = f'a Matrix ID starts with "@", like {_EXAMPLE}'
_NO_SERVER = f'a Matrix ID needs a server name after ":", like {_EXAMPLE}'
_EMPTY_LOCALPART = f'the name before ":" is empty; it goes between "@" and ":", like {_EXAMPLE}'
_LOCALPART_UPPER = f'the part before ":" must be lower case, like {_EXAMPLE}'
_SERVER_UPPER = "the server name must be lower case, like example.org"
_BAD_PORT = "the port must be a number from 1 to 65535"
_UNCLOSED_IPV6 = 'the IPv6 address in the server name is missing its closing "]"'
_AFTER_IPV6 = 'after the "]" of an IPv6 address only a port such as ":8448" may follow'
_IPV6_NEEDS_BRACKETS = (
    "an IPv6 address in the server name must be in square brackets, like [2001:db8::1]"
)


class InvalidMatrixId(ValueError):
    """A text that is not a valid Matrix user ID, with a reason a person can act on."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLong(InvalidMatrixId):
    """A typed text longer than any Matrix ID can be: refused before it is repaired or matched."""


@dataclass(frozen=True)
class Repaired:
    """A candidate user ID after repairs, with the repairs in words a moderator reads."""

    candidate: str
    repairs: tuple[str, ...]


_Step = Callable[[str], tuple[str, tuple[str, ...]]]


def repair(raw: str, default_server: str, *, keep_case: bool = False) -> Repaired:
    """Fix the common, unambiguous slips in a typed Matrix ID; never raise.

    The result is not validated. Input that needs no repair comes back unchanged with no
    repairs, so ``repairs == ()`` exactly when ``candidate == raw``.
    ``default_server`` is appended to a bare name and should be a lower-case server name.
    With ``keep_case`` only the server name is lower-cased, never the localpart.
    """
    steps: tuple[_Step, ...] = (
        _remove_spaces,
        _take_from_matrix_to_link,
        _strip_trailing_punctuation,
        *(() if keep_case else (_lower_case,)),
        _email_shape_to_user_id,
        _add_missing_sigil,
        lambda text: _add_default_server(text, default_server),
        *((_lower_case_server,) if keep_case else ()),
    )
    text = raw
    repairs: list[str] = []
    for step in steps:
        text, done = step(text)
        repairs.extend(done)
    return Repaired(candidate=text, repairs=tuple(repairs))


def validate(candidate: str) -> UserID:
    """Return ``candidate`` as a UserID, or raise InvalidMatrixId saying what is wrong."""
    problem = _user_id_problem(candidate)
    if problem is not None:
        raise InvalidMatrixId(problem)
    return UserID(candidate)


def parse(raw: str, default_server: str) -> tuple[UserID, tuple[str, ...]]:
    """Repair then validate a typed Matrix ID; return it with the repairs that were made."""
    repaired = repair(raw, default_server)
    return validate(repaired.candidate), repaired.repairs


def read(raw: str, default_server: str) -> tuple[UserID, tuple[str, ...]]:
    """Read the Matrix ID a person typed into a form, to invite it; return it with its repairs.

    A valid historical id (``@Alice:example.org``, ``@al!ce:example.org``) is kept as typed,
    only its server name lower-cased: it may be a real old account. Anything else is repaired
    and validated as by :func:`parse`. Raise :class:`TooLong`, before any repair, when the text
    is longer than an id can be, and :class:`InvalidMatrixId` when it is no id.
    """
    size = _utf8_size(raw.strip())
    if size > MAX_ID_BYTES:
        raise TooLong(_too_long(size))
    as_typed = repair(raw, default_server, keep_case=True)
    if _user_id_problem(as_typed.candidate, historical=True) is None:
        return UserID(as_typed.candidate), as_typed.repairs
    return parse(raw, default_server)


def lower_cased(user_id: str) -> UserID | None:
    """Return ``user_id`` with its localpart lower-cased when that is another, valid user ID.

    This is the id a repair makes of a historical one; intake tries it when the homeserver
    does not know the id as typed.
    """
    local, colon, server = user_id[1:].partition(":")
    candidate = f"@{local.translate(_ASCII_LOWER)}{colon}{server}"
    if candidate == user_id or not is_valid(candidate):
        return None
    return UserID(candidate)


def is_valid(value: str) -> bool:
    """Tell whether ``value``, exactly as given, is a valid user ID under the current grammar."""
    return _user_id_problem(value) is None


def is_valid_historical(value: str) -> bool:
    """Tell whether ``value``, exactly as given, is a valid user ID, historical ones included.

    The localpart may hold any printable ASCII but ":"; the server name must be valid and,
    as Knock reads ids, lower case.
    """
    return _user_id_problem(value, historical=True) is None


def is_room_id(value: str) -> bool:
    """Tell whether ``value`` looks like a room ID: ``!opaque:server``, or ``!opaque`` (room v12).

    The opaque part is only required to be printable without whitespace or ":"; the server
    part, when present, must be a valid server name.
    """
    if not value.startswith("!") or _utf8_size(value) > MAX_ID_BYTES:
        return False
    opaque, colon, server = value[1:].partition(":")
    if not opaque or not all(char.isprintable() and not char.isspace() for char in opaque):
        return False
    return not colon or _server_name_problem(server) is None


def localpart(user_id: str) -> str:
    """Return the part of a user ID between "@" and the first ":".

    Only the shape ``@localpart:server`` is checked, not the grammar, so that historical IDs
    reported by a homeserver still split; raises InvalidMatrixId when the shape is wrong.
    """
    return _split_user_id(user_id)[0]


def server_name(user_id: str) -> str:
    """Return the server name of a user ID, port included, like ``example.org:8448``.

    Checks the shape only, like :func:`localpart`.
    """
    return _split_user_id(user_id)[1]


def _split_user_id(user_id: str) -> tuple[str, str]:
    """Split ``@localpart:server`` into its two non-empty parts or raise InvalidMatrixId."""
    if not user_id.startswith("@"):
        raise InvalidMatrixId(_NO_SIGIL)
    local, _, server = user_id[1:].partition(":")
    if not server:
        raise InvalidMatrixId(_NO_SERVER)
    if not local:
        raise InvalidMatrixId(_EMPTY_LOCALPART)
    return local, server


# Repair steps. Each takes the text so far and returns it with what it changed, if anything.


def _remove_spaces(text: str) -> tuple[str, tuple[str, ...]]:
    """Remove whitespace (Unicode spaces included) and invisible characters.

    Whitespace between two words (letters or digits on both sides, invisible characters
    looked through) is kept: "not an id at all" is no id, and gluing it into one would
    invite a stranger. Validation then refuses it.
    """
    repairs: list[str] = []
    without_spaces = "".join(
        char for index, char in enumerate(text) if not char.isspace() or _between_words(text, index)
    )
    if without_spaces != text:
        repairs.append("removed spaces")
    visible = "".join(char for char in without_spaces if char not in _INVISIBLE)
    if visible != without_spaces:
        repairs.append("removed invisible characters")
    return visible, tuple(repairs)


def _between_words(text: str, index: int) -> bool:
    """Tell whether the whitespace at ``index`` lies between two letters or digits."""

    def neighbour(indices: Iterable[int]) -> str:
        for at in indices:
            char = text[at]
            if not char.isspace() and char not in _INVISIBLE:
                return char
        return ""

    before = neighbour(range(index - 1, -1, -1))
    after = neighbour(range(index + 1, len(text)))
    return before.isalnum() and after.isalnum()


def _take_from_matrix_to_link(text: str) -> tuple[str, tuple[str, ...]]:
    """Take the user ID out of a matrix.to link, dropping any ``?via=`` query."""
    match = _MATRIX_TO_LINK.fullmatch(text)
    if match is None:
        return text, ()
    target = unquote(match["target"])
    # A link to a room or an event is not a person; taking its target out would hide that.
    if not target.startswith("@"):
        return text, ()
    return target, ("took the id from a matrix.to link",)


def _strip_trailing_punctuation(text: str) -> tuple[str, tuple[str, ...]]:
    """Drop the "." or "," typed after an ID, as at the end of a sentence."""
    has_server = ":" in text or "@" in text[1:]
    # A server name never ends in "." or ",", but a bare localpart may end in ".", so only
    # "," is surely not part of a bare name.
    stripped = text.rstrip(".,") if has_server else text.rstrip(",")
    if stripped == text:
        return text, ()
    return stripped, (f'removed "{_quote(text[len(stripped) :])}" after the id',)


def _lower_case(text: str) -> tuple[str, tuple[str, ...]]:
    """Lower-case ASCII letters; localparts must be lower case and server names ignore case."""
    # Only ASCII: str.lower() would turn look-alikes such as the Kelvin sign into a plain "k"
    # and so make an ID out of something the person did not type.
    lowered = text.translate(_ASCII_LOWER)
    if lowered == text:
        return text, ()
    return lowered, ("lower-cased",)


def _lower_case_server(text: str) -> tuple[str, tuple[str, ...]]:
    """Lower-case the ASCII letters of the server name of ``@localpart:server``."""
    local, colon, server = text.partition(":")
    lowered = server.translate(_ASCII_LOWER)
    if not text.startswith("@") or not colon or lowered == server:
        return text, ()
    return f"{local}:{lowered}", ("lower-cased the server name",)


def _email_shape_to_user_id(text: str) -> tuple[str, tuple[str, ...]]:
    """Turn ``@alice@example.org`` or ``alice@example.org`` into ``@alice:example.org``."""
    match = _EMAIL_SHAPE.fullmatch(text)
    if match is None:
        return text, ()
    repairs = ['replaced "@" before the server with ":"']
    if not match["sigil"]:
        repairs.append('added "@"')
    return f"@{match['local']}:{match['host']}", tuple(repairs)


def _add_missing_sigil(text: str) -> tuple[str, tuple[str, ...]]:
    """Prefix "@" to ``alice:example.org``."""
    if text.startswith("@"):
        return text, ()
    local, colon, server = text.partition(":")
    if not colon or not _is_localpart(local) or not set(server) <= _SERVER_CHARS:
        return text, ()
    return f"@{text}", ('added "@"',)


def _add_default_server(text: str, default_server: str) -> tuple[str, tuple[str, ...]]:
    """Append the default server to a bare name such as ``alice`` or ``@alice``."""
    if ":" in text or not default_server:
        return text, ()
    has_sigil = text.startswith("@")
    name = text[1:] if has_sigil else text
    if not _is_localpart(name):
        return text, ()
    added_sigil = () if has_sigil else ('added "@"',)
    added_server = f'added the default server "{_quote(default_server)}"'
    return f"@{name}:{default_server}", (*added_sigil, added_server)


def _is_localpart(text: str) -> bool:
    """Tell whether ``text`` is a non-empty localpart, valid once lower-cased."""
    return bool(text) and set(text.translate(_ASCII_LOWER)) <= _LOCALPART_CHARS


# Validation. Each function returns the reason for the first problem found, or None.


def _user_id_problem(value: str, *, historical: bool = False) -> str | None:
    """Find the first problem with ``value`` as a user ID (a historical one, if allowed)."""
    if not value:
        return _EMPTY
    if any(char.isspace() for char in value.strip()):
        return _SPACES
    if not value.startswith("@"):
        return _NO_SIGIL
    size = _utf8_size(value)
    if size > MAX_ID_BYTES:
        return _too_long(size)
    local, colon, server = value[1:].partition(":")
    if not colon:
        return _NO_SERVER
    if not local:
        return _EMPTY_LOCALPART
    if historical and not set(local) <= _HISTORICAL_CHARS:
        return _localpart_problem(local)
    problem = (None if historical else _localpart_problem(local)) or _server_name_problem(server)
    if problem is not None:
        return problem
    # The spec lets server names ignore case, but homeservers compare user IDs as exact
    # strings, so only the lower-case form (which repair produces) names the account.
    if server.translate(_ASCII_LOWER) != server:
        return _SERVER_UPPER
    return None


def _too_long(size: int) -> str:
    return f"a Matrix ID is at most {MAX_ID_BYTES} bytes long, this one has {size}"


def _localpart_problem(local: str) -> str | None:
    """Find characters the current grammar does not allow in a localpart."""
    bad = "".join(_unique(char for char in local if char not in _LOCALPART_CHARS))
    if not bad:
        return None
    if set(bad) <= set(string.ascii_uppercase):
        return _LOCALPART_UPPER
    return f'the part before ":" may only contain a-z, 0-9 and . _ = - / +, not "{_quote(bad)}"'


def _server_name_problem(server: str) -> str | None:
    """Find the first problem with ``server`` as ``host[:port]`` (case is not checked)."""
    if not server:
        return _NO_SERVER
    if server.startswith("["):
        return _bracketed_server_problem(server)
    if server.count(":") > 1 and _is_ipv6(server):
        return _IPV6_NEEDS_BRACKETS
    host, colon, port = server.partition(":")
    if not host:
        return _NO_SERVER
    return _host_problem(host) or (_port_problem(port) if colon else None)


def _bracketed_server_problem(server: str) -> str | None:
    """Find the first problem with ``[ipv6]`` or ``[ipv6]:port``."""
    address, bracket, rest = server[1:].partition("]")
    if not bracket:
        return _UNCLOSED_IPV6
    if not _is_ipv6(address):
        return f'the server name "[{_quote(address)}]" is not a valid IPv6 address'
    if not rest:
        return None
    if not rest.startswith(":"):
        return _AFTER_IPV6
    return _port_problem(rest[1:])


def _host_problem(host: str) -> str | None:
    """Find the first problem with ``host`` as an IPv4 address or a DNS name."""
    # All digits and dots can only be meant as an IPv4 address: no top-level domain is numeric.
    if set(host) <= _IPV4_CHARS:
        if _is_ipv4(host):
            return None
        return f'the server name "{_quote(host)}" is not a valid IPv4 address'
    invalid = f'the server name "{_quote(host)}" is not a valid host name'
    labels = host.split(".")
    if not all(set(label) <= _DNS_CHARS for label in labels):
        return f'{invalid}; use only letters, digits, "-" and "."'
    if not all(labels):
        return f"{invalid}; it has an empty part between dots"
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        return f'{invalid}; no part of it may start or end with "-"'
    return None


def _port_problem(port: str) -> str | None:
    """Find a problem with ``port`` as 1 to 5 ASCII digits from 1 to 65535."""
    # str.isdigit() would accept digits from other scripts, which no resolver understands.
    if not 1 <= len(port) <= 5 or not set(port) <= set(string.digits):
        return _BAD_PORT
    return None if 1 <= int(port) <= 65535 else _BAD_PORT


def _is_ipv4(text: str) -> bool:
    """Tell whether ``text`` is a dotted-quad IPv4 address."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    """Tell whether ``text`` is an IPv6 address as the spec's grammar writes one."""
    # ipaddress also accepts a "%zone" suffix, which the spec's grammar does not.
    if not text or len(text) > _IPV6_MAX_LEN or not set(text) <= _IPV6_CHARS:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _utf8_size(text: str) -> int:
    """Count the bytes of ``text`` in UTF-8, without failing on lone surrogates."""
    # JSON can carry lone surrogates ("\ud800"); a strict encode would raise on them.
    return len(text.encode("utf-8", "surrogatepass"))


def _unique(chars: Iterable[str]) -> list[str]:
    """Return ``chars`` without repeats, in first-seen order."""
    return list(dict.fromkeys(chars))


def _quote(text: str) -> str:
    """Shorten ``text`` for quoting in a reason and make control characters visible."""
    # ascii() spells a control character as an escape such as \x00 instead of emitting it.
    shown = "".join(
        char if char.isprintable() else ascii(char)[1:-1] for char in text[: _QUOTE_LIMIT + 1]
    )
    if len(shown) > _QUOTE_LIMIT:
        return shown[:_QUOTE_LIMIT] + "…"
    return shown
