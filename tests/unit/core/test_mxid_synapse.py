"""Knock reads user ids as Synapse does, except where it is stricter on purpose (named here).

Synapse's `UserID.is_valid_strict` follows the spec's "Historical User IDs": a localpart of any
printable ASCII but ":", at most 255 bytes, and a server name it checks loosely. Knock takes an
id as typed when `mxid.read` gives it back unchanged. Every id generated below where the two
disagree must be one of the deliberate kinds, and Knock must never be the looser one.
"""

from __future__ import annotations

import itertools
import string
import warnings
from collections import Counter

import pytest

from knock.core import mxid

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # only Synapse's own imports; nothing of Knock's
    from synapse.types import UserID

PUNCTUATION = [chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum() and chr(c) != ":"]
LOCALPARTS = [
    # The current grammar.
    "alice",
    "a",
    "0",
    "a.b_c=d-e/f+g",
    "x" * 200,
    # Historical: upper case, and every other printable ASCII character but ":".
    "Alice",
    "ALICE",
    "aLiCe",
    *(f"al{char}ce" for char in PUNCTUATION if char not in "._=-/+"),
    # Outside even the historical grammar.
    "",
    "al ice",
    "jörg",
    "al\tice",
    "al\x00ice",
    "al\x7fice",
    "\u200balice",
]
SERVERS = [
    # DNS names.
    "example.org",
    "localhost",
    "a",
    "x-y.example",
    "123.example",
    "xn--exmple-cua.org",
    "EXAMPLE.org",
    "Example.Org",
    "exa_mple.org",
    "-example.org",
    "example-.org",
    "example..org",
    "example.org.",
    ".example.org",
    "exämple.org",
    "a" * 250 + ".org",
    # Ports.
    "example.org:1",
    "example.org:8448",
    "example.org:65535",
    "example.org:08448",
    "example.org:65536",
    "example.org:99999",
    "example.org:0",
    "example.org:+80",
    "example.org:-1",
    "example.org:8_448",
    "example.org: 80",
    "example.org:\u0668\u0660",
    "example.org:",
    "example.org:http",
    "example.org:80:80",
    # IPv4 literals, and what only looks like one.
    "1.2.3.4",
    "1.2.3.4:8448",
    "999.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "256.256.256.256",
    "01.2.3.4",
    # IPv6 literals.
    "[::1]",
    "[::1]:8448",
    "[2001:db8::1]",
    "[2001:DB8::1]",
    "[::ffff:192.0.2.1]",
    "[fe80::1%eth0]",
    "[::g]",
    "[]",
    "[1.2.3.4]",
    "[::1",
    "[::1]8448",
    "::1",
    "2001:db8::1",
    "[::1]:65536",
    "[::1]:0",
    # Nothing.
    "",
]
IDS = [f"@{local}:{server}" for local, server in itertools.product(LOCALPARTS, SERVERS)]

# The disagreements Knock makes on purpose, each with why.
DELIBERATE = {
    "upper-case server name": "homeservers compare ids as exact strings: Knock lower-cases it",
    "port not 1-65535 in ASCII digits": "Synapse reads the port with int(): 0, 99999, +80, 8_448",
    "numeric host that is no IPv4 address": "999.1.1.1 and 1.2.3 can only be mistyped addresses",
    'DNS label starting or ending with "-"': "no resolver finds such a host (RFC 1123)",
}


def knock_takes(user_id: str) -> bool:
    """Whether Knock reads the id exactly as typed."""
    try:
        return mxid.read(user_id, "") == (user_id, ())
    except mxid.InvalidMatrixId:
        return False


def synapse_takes(user_id: str) -> bool:
    return bool(UserID.is_valid_strict(user_id))


def kind(user_id: str) -> str:
    """Name the deliberate kind of a disagreement, or say that it is none of them."""
    server = user_id[1:].partition(":")[2]
    if server.startswith("["):
        host, _, rest = server.partition("]")
        host, port = host + "]", rest[1:] if rest.startswith(":") else None
    else:
        host, colon, port_text = server.rpartition(":")
        host, port = (host, port_text) if colon else (server, None)
    if port is not None and not (
        set(port) <= set(string.digits) and 1 <= len(port) <= 5 and 1 <= int(port) <= 65535
    ):
        return "port not 1-65535 in ASCII digits"
    if server != server.lower():
        return "upper-case server name"
    if host and set(host) <= set(string.digits + "."):
        return "numeric host that is no IPv4 address"
    if any(label.startswith("-") or label.endswith("-") for label in host.split(".")):
        return 'DNS label starting or ending with "-"'
    return "unexplained"


def disagreements() -> Counter[str]:
    found: Counter[str] = Counter()
    for user_id in IDS:
        knock, synapse = knock_takes(user_id), synapse_takes(user_id)
        if knock and not synapse:
            found["Knock takes what Synapse refuses"] += 1
        elif synapse and not knock:
            found[kind(user_id)] += 1
    return found


def test_every_disagreement_with_synapse_is_a_deliberate_kind() -> None:
    found = disagreements()

    # Knock is never the looser one, and every way it is stricter is named above.
    assert set(found) <= set(DELIBERATE), found


@pytest.mark.parametrize(
    "user_id",
    ["@Alice:example.org", "@al!ce:example.org", "@x[1]:[::1]:8448", "@~:localhost"],
)
def test_historical_ids_both_take_as_typed(user_id: str) -> None:
    assert synapse_takes(user_id)
    assert knock_takes(user_id)
