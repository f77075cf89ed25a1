"""Globs and server entries: compiled once, found without trying each, same answer as one by one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.blocklist.ids import host_of
from knock.core.blocklist.patterns import (
    GlobSet,
    ServerSet,
    glob_covers,
    server_covers,
    server_part,
    server_shape,
)


@pytest.mark.parametrize(
    ("glob", "text", "covered"),
    [
        ("@spam*:*", "@spammer:example.org", True),
        ("@spam*:*", "@spam:x", True),
        ("@spam*:*", "@nospam:example.org", False),
        ("@spam?:*", "@spam1:example.org", True),
        ("@spam?:*", "@spam12:example.org", False),
        ("@*bot:example.org", "@helperbot:example.org", True),
        ("@*bot:example.org", "@helperbot:example.org.evil", False),
        ("@[a]:x", "@[a]:x", True),  # "[" is an ordinary character in Matrix globs
        ("@[a]:x", "@a:x", False),
    ],
)
def test_glob_covers(glob: str, text: str, covered: bool) -> None:
    assert glob_covers(glob, text) is covered


def test_many_stars_do_not_backtrack_for_ever() -> None:
    assert not glob_covers("@" + "*a" * 30 + "*b", "@" + "a" * 250)


@pytest.mark.parametrize(
    ("pattern", "shape"),
    [
        ("evil.example", ("exact", "evil.example")),
        ("*.evil.example", ("suffix", "evil.example")),
        ("evil*.example", ("glob", "evil*.example")),
        ("*.evil?.example", ("glob", "*.evil?.example")),
    ],
)
def test_server_shapes(pattern: str, shape: tuple[str, str]) -> None:
    assert server_shape(pattern) == shape


@pytest.mark.parametrize(
    ("pattern", "server", "covered"),
    [
        ("evil.example", "evil.example", True),
        ("evil.example", "evil.example:8448", True),  # the port is ignored...
        ("evil.example:8448", "evil.example", False),  # ...unless the entry names one
        ("evil.example", "notevil.example", False),
        ("*.evil.example", "a.b.evil.example", True),
        ("*.evil.example", "evil.example", False),
        ("*.evil.example", "badevil.example", False),
        ("evil*.example", "evil2.example", True),
    ],
)
def test_server_covers(pattern: str, server: str, covered: bool) -> None:
    assert server_covers(pattern, server, host_of(server)) is covered


def test_server_part_of_a_server_wide_user_glob() -> None:
    assert server_part("@*:evil.example") == "evil.example"
    assert server_part("@*bot:evil.example") is None
    assert server_part("@*:") is None


def test_glob_set_finds_by_prefix_and_combines_a_crowded_bucket() -> None:
    globs = GlobSet()
    patterns = ["@spam*:*", "@sp?m:*", "@*bot:x", *(f"@*{n}*:*" for n in range(10))]
    for item, pattern in enumerate(patterns):
        globs.add(item, pattern)
    assert sorted(globs.find("@spam:y")) == [0, 1]
    assert sorted(globs.find("@a3bot:x")) == [2, 6]
    globs.discard(0, "@spam*:*")
    globs.discard(6, "@*3*:*")
    assert globs.find("@spam:y") == [1]
    assert sorted(globs.find("@a3bot:x")) == [2]


def test_server_set_finds_exact_suffix_and_glob_entries() -> None:
    servers = ServerSet()
    for item, pattern in enumerate(["evil.example", "*.evil.example", "worse*", "evil.example"]):
        servers.add(item, pattern)
    assert sorted(servers.find("evil.example", "evil.example")) == [0, 3]
    assert sorted(servers.find("a.evil.example:8448", "a.evil.example")) == [1]
    assert servers.find("worse.example", "worse.example") == [2]
    servers.discard(0, "evil.example")
    assert servers.find("evil.example", "evil.example") == [3]
    assert servers.find(None, None) == []


_GLOB_TEXT = st.text(alphabet="@:ab.*?[", max_size=8)


@given(st.lists(_GLOB_TEXT, max_size=12), st.text(alphabet="@:ab.[", max_size=8))
def test_glob_set_agrees_with_each_glob_alone(patterns: list[str], text: str) -> None:
    globs = GlobSet()
    for item, pattern in enumerate(patterns):
        globs.add(item, pattern)
    expected = {item for item, pattern in enumerate(patterns) if glob_covers(pattern, text)}
    assert set(globs.find(text)) == expected


@given(
    st.lists(st.text(alphabet="ab.*?:8", max_size=7), max_size=12),
    st.text(alphabet="ab.:8", max_size=7),
)
def test_server_set_agrees_with_each_pattern_alone(patterns: list[str], server: str) -> None:
    servers = ServerSet()
    for item, pattern in enumerate(patterns):
        servers.add(item, pattern)
    host = host_of(server)
    expected = {
        item for item, pattern in enumerate(patterns) if server_covers(pattern, server, host)
    }
    assert set(servers.find(server, host)) == expected
