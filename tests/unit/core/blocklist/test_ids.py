"""Splitting and hashing the ids the block-list is asked about."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.ids import hash_key, host_of, id_hash, probe, split_user_id


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("@troll:example.org", ("troll", "example.org")),
        ("@troll:example.org:8448", ("troll", "example.org:8448")),
        ("@TR0LL@example.org", ("TR0LL", "example.org")),
        ("troll@example.org", ("troll", "example.org")),
        ("troll", ("troll", None)),
        ("@troll:", ("troll", None)),
        ("", ("", None)),
        ("@", ("", None)),
    ],
)
def test_split_user_id(text: str, parts: tuple[str, str | None]) -> None:
    assert split_user_id(text) == parts


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("example.org", "example.org"),
        ("example.org:8448", "example.org"),
        ("[::1]:8448", "[::1]"),
        ("[::1]", "[::1]"),
        ("example.org:http", "example.org:http"),
    ],
)
def test_host_drops_only_a_numeric_port(server: str, host: str) -> None:
    assert host_of(server) == host


def test_probe_lower_cases_servers_and_globs_view_but_not_the_localpart() -> None:
    request = probe("@Troll:Example.ORG:8448")
    assert (request.local, request.server, request.host) == (
        "Troll",
        "example.org:8448",
        "example.org",
    )
    assert request.lowered == "@troll:example.org:8448"


def test_id_hash_is_unpadded_base64_sha256() -> None:
    expected = base64.b64encode(hashlib.sha256(b"@troll:example.org").digest()).decode()
    assert id_hash("@troll:example.org") == expected.rstrip("=")
    assert hash_key(expected) == id_hash("@troll:example.org")


def test_hash_key_accepts_the_url_safe_alphabet() -> None:
    standard = id_hash("@troll:example.org")
    assert hash_key(standard.replace("+", "-").replace("/", "_") + "=") == standard


@given(st.text())
def test_probe_never_raises(text: str) -> None:
    request = probe(text)
    assert request.text == text
    id_hash(text)
