"""Which address a caller is limited by."""

from __future__ import annotations

import pytest

from knock.core.addresses import ClientAddress, client_address, limited_as

PROXY = "203.0.113.7"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = ["203.0.113.0/24"]
    assert client_address(PROXY, "198.51.100.1", trusted) == ClientAddress("198.51.100.1")
    assert client_address(PROXY, "198.51.100.1, 203.0.113.8", trusted) == ClientAddress(
        "198.51.100.1"
    )
    assert client_address(PROXY, None, trusted) == ClientAddress(PROXY)


def test_forwarded_for_from_an_untrusted_peer_is_ignored_and_said_so() -> None:
    assert client_address(PROXY, "198.51.100.1", []) == ClientAddress(PROXY, True)
    assert client_address(PROXY, None, []) == ClientAddress(PROXY, False)
    assert client_address(None, "198.51.100.1", []) == ClientAddress(None)


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("198.51.100.1", "198.51.100.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_caller_is_counted_by_its_64(address: str, counted: str) -> None:
    assert limited_as(address) == counted
