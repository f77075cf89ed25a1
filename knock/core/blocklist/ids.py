"""Split the ids the block-list is asked about, however malformed, and hash them (MSC4205).

A request may be a repaired, valid user id, or raw text that failed validation, or the id as
typed (``@TR0LL@example.org``); none of that may raise. :func:`probe` splits what it can:
``@local:server``, ``local@server`` and a bare name all give a localpart, and a server when
there is one. Server names are compared ASCII-lower-cased and, where a port is given, also
without it (``host``), as server ACLs do.
"""

from __future__ import annotations

import base64
import hashlib
import string
from dataclasses import dataclass

__all__ = ["Probe", "ascii_lower", "hash_key", "host_of", "id_hash", "probe", "split_user_id"]

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_BASE64_URL = str.maketrans("-_", "+/")


@dataclass(frozen=True, slots=True)
class Probe:
    """One id to look up, split as far as it splits."""

    text: str
    lowered: str  # ASCII lower-cased whole text: what globs are matched against
    local: str
    server: str | None  # ASCII lower-cased, port included
    host: str | None  # the server without its port


def probe(text: str) -> Probe:
    """Split ``text`` into the parts the block-list compares; never raise."""
    local, server = split_user_id(text)
    lowered_server = ascii_lower(server) if server is not None else None
    return Probe(
        text=text,
        lowered=ascii_lower(text),
        local=local,
        server=lowered_server,
        host=host_of(lowered_server) if lowered_server is not None else None,
    )


def split_user_id(text: str) -> tuple[str, str | None]:
    """Split ``@local:server`` (or ``local@server``, or a bare name) into localpart and server."""
    body = text[1:] if text.startswith("@") else text
    local, colon, server = body.partition(":")
    if not colon:
        local, at, server = body.rpartition("@")
        if not at or not local:
            return body, None
    server = server.strip()
    return local, server or None


def host_of(server: str) -> str:
    """Return ``server`` without a trailing ``:port`` (``[::1]:8448`` gives ``[::1]``)."""
    if server.startswith("["):
        address, bracket, _ = server.partition("]")
        return address + bracket
    head, colon, port = server.rpartition(":")
    return head if colon and head and port.isascii() and port.isdigit() else server


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as server names and Matrix globs compare."""
    return text.translate(_ASCII_LOWER)


def id_hash(user_id: str) -> str:
    """Return the unpadded base64 SHA-256 of ``user_id``, as MSC4205 hashes policy entities."""
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def hash_key(pattern: str) -> str:
    """Return a hashed entry's base64 as :func:`id_hash` spells it: unpadded, standard alphabet."""
    return "".join(pattern.split()).rstrip("=").translate(_BASE64_URL)
