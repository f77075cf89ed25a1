"""Tests for knock.core.mxid: repairing, validating and splitting Matrix IDs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.mxid import (
    InvalidMatrixId,
    Repaired,
    is_room_id,
    is_valid,
    localpart,
    parse,
    repair,
    server_name,
    validate,
)

DEFAULT = "example.org"

ADDED_SIGIL = 'added "@"'
ADDED_DEFAULT = 'added the default server "example.org"'
AT_TO_COLON = 'replaced "@" before the server with ":"'
FROM_LINK = "took the id from a matrix.to link"
LOWER = "lower-cased"
SPACES = "removed spaces"
INVISIBLE = "removed invisible characters"

EMPTY = "the Matrix ID is empty; it looks like @alice:example.org"
NO_SIGIL = 'a Matrix ID starts with "@", like @alice:example.org'
NO_SERVER = 'a Matrix ID needs a server name after ":", like @alice:example.org'
EMPTY_LOCALPART = (
    'the name before ":" is empty; it goes between "@" and ":", like @alice:example.org'
)
SPACES_BETWEEN_WORDS = "a Matrix ID has no spaces between words, like @alice:example.org"
LOCALPART_UPPER = 'the part before ":" must be lower case, like @alice:example.org'
SERVER_UPPER = "the server name must be lower case, like example.org"
BAD_PORT = "the port must be a number from 1 to 65535"
UNCLOSED_IPV6 = 'the IPv6 address in the server name is missing its closing "]"'
AFTER_IPV6 = 'after the "]" of an IPv6 address only a port such as ":8448" may follow'
IPV6_NEEDS_BRACKETS = (
    "an IPv6 address in the server name must be in square brackets, like [2001:db8::1]"
)


def bad_localpart(chars: str) -> str:
    return f'the part before ":" may only contain a-z, 0-9 and . _ = - / +, not "{chars}"'


def bad_host(host: str, hint: str) -> str:
    return f'the server name "{host}" is not a valid host name; {hint}'


ONLY_DNS_CHARS = 'use only letters, digits, "-" and "."'
EMPTY_LABEL = "it has an empty part between dots"
HYPHEN_EDGE = 'no part of it may start or end with "-"'


# --- repair ---------------------------------------------------------------------------------

REPAIR_CASES = [
    pytest.param("@alice:example.org", "@alice:example.org", (), id="already-fine"),
    pytest.param("  @alice:example.org\n", "@alice:example.org", (SPACES,), id="surrounding-ws"),
    pytest.param("@alice :example. org", "@alice:example.org", (SPACES,), id="inner-spaces"),
    pytest.param("@alice:\u00a0example.org", "@alice:example.org", (SPACES,), id="nbsp"),
    pytest.param("@alice\u3000:example.org", "@alice:example.org", (SPACES,), id="ideographic"),
    pytest.param("@alice\u200b:example.org", "@alice:example.org", (INVISIBLE,), id="zwsp"),
    pytest.param(
        "\ufeff@alice:example.org\u200e", "@alice:example.org", (INVISIBLE,), id="bom-lrm"
    ),
    pytest.param(
        " @alice:exa\u200dmple.org", "@alice:example.org", (SPACES, INVISIBLE), id="both-kinds"
    ),
    pytest.param(
        "https://matrix.to/#/@alice:example.org", "@alice:example.org", (FROM_LINK,), id="link"
    ),
    pytest.param(
        "matrix.to/#/@alice:example.org", "@alice:example.org", (FROM_LINK,), id="link-no-scheme"
    ),
    pytest.param(
        "http://matrix.to/#/@alice:example.org", "@alice:example.org", (FROM_LINK,), id="link-http"
    ),
    pytest.param(
        "https://matrix.to/#/%40alice%3Aexample.org",
        "@alice:example.org",
        (FROM_LINK,),
        id="link-url-encoded",
    ),
    pytest.param(
        "https://matrix.to/#/@alice:example.org?via=example.org&via=other.net",
        "@alice:example.org",
        (FROM_LINK,),
        id="link-with-via",
    ),
    pytest.param(
        "HTTPS://Matrix.To/#/@alice:example.org",
        "@alice:example.org",
        (FROM_LINK,),
        id="link-upper-case-host",
    ),
    pytest.param("@alice@example.org", "@alice:example.org", (AT_TO_COLON,), id="at-for-colon"),
    pytest.param(
        "alice@example.org", "@alice:example.org", (AT_TO_COLON, ADDED_SIGIL), id="email-shape"
    ),
    pytest.param("alice:example.org", "@alice:example.org", (ADDED_SIGIL,), id="missing-sigil"),
    pytest.param(
        "alice:[::1]:8448", "@alice:[::1]:8448", (ADDED_SIGIL,), id="missing-sigil-ipv6-port"
    ),
    pytest.param("@Alice:Example.ORG", "@alice:example.org", (LOWER,), id="upper-case"),
    pytest.param("alice", "@alice:example.org", (ADDED_SIGIL, ADDED_DEFAULT), id="bare-localpart"),
    pytest.param("@alice", "@alice:example.org", (ADDED_DEFAULT,), id="sigil-no-server"),
    pytest.param(
        "@alice:example.org.",
        "@alice:example.org",
        ('removed "." after the id',),
        id="trailing-dot",
    ),
    pytest.param(
        "@alice:example.org,",
        "@alice:example.org",
        ('removed "," after the id',),
        id="trailing-comma",
    ),
    pytest.param(
        "alice,",
        "@alice:example.org",
        ('removed "," after the id', ADDED_SIGIL, ADDED_DEFAULT),
        id="bare-trailing-comma",
    ),
    pytest.param(
        " https://matrix.to/#/%40Alice%3AExample.org?via=example.org ",
        "@alice:example.org",
        (SPACES, FROM_LINK, LOWER),
        id="messy-link",
    ),
    pytest.param(
        "Alice@Example.org.",
        "@alice:example.org",
        ('removed "." after the id', LOWER, AT_TO_COLON, ADDED_SIGIL),
        id="messy-email-shape",
    ),
]


@pytest.mark.parametrize(("raw", "candidate", "repairs"), REPAIR_CASES)
def test_repair_fixes_and_reports(raw: str, candidate: str, repairs: tuple[str, ...]) -> None:
    assert repair(raw, DEFAULT) == Repaired(candidate=candidate, repairs=repairs)


# Inputs where a fix would be a guess: repair must leave them exactly as typed.
UNREPAIRED = [
    pytest.param("", id="empty"),
    pytest.param("https://matrix.to/#/#room:example.org", id="room-alias-link"),
    pytest.param("https://matrix.to/#/!room:example.org", id="room-id-link"),
    pytest.param("https://example.com/@alice", id="other-url"),
    pytest.param("#room:example.org", id="room-alias"),
    pytest.param("alice@example.org:8448", id="email-shape-with-port"),
    pytest.param("@alice@example.org:8448", id="at-for-colon-with-port"),
    pytest.param("alice@bob@example.org", id="two-at-signs"),
    pytest.param("@@alice:example.org", id="double-sigil"),
    pytest.param("al!ce", id="bare-name-with-bad-char"),
    pytest.param("@alice:example.org/", id="trailing-slash"),
    pytest.param("@alice:\u212aelvin.org", id="kelvin-sign-not-lower-cased-to-k"),
    pytest.param("@ali ce:exam ple.org", id="spaces-between-words"),
    pytest.param("not an id at all", id="words"),
]


@pytest.mark.parametrize("raw", UNREPAIRED)
def test_repair_leaves_guesses_alone(raw: str) -> None:
    assert repair(raw, DEFAULT) == Repaired(candidate=raw, repairs=())


def test_repair_keeps_a_dot_that_may_belong_to_a_bare_name() -> None:
    assert repair("alice.", DEFAULT).candidate == "@alice.:example.org"


def test_repair_uses_the_given_default_server() -> None:
    repaired = repair("alice", "matrix.example.net:8448")
    assert repaired.candidate == "@alice:matrix.example.net:8448"
    assert repaired.repairs[-1] == 'added the default server "matrix.example.net:8448"'


def test_repair_without_default_server_leaves_a_bare_name() -> None:
    assert repair("alice", "") == Repaired(candidate="alice", repairs=())


# --- validate -------------------------------------------------------------------------------

VALID = [
    "@alice:example.org",
    "@a:b",
    "@alice:localhost",
    "@a.b_c=d-e/f+g:example.org",
    "@0123:x-y.example",
    "@alice:example.org:1",
    "@alice:example.org:8448",
    "@alice:example.org:65535",
    "@alice:example.org:08448",
    "@alice:1.2.3.4",
    "@alice:1.2.3.4:8448",
    "@alice:[::1]",
    "@alice:[2001:db8::1]:8448",
    "@alice:[::ffff:192.0.2.1]",
    "@alice:123.example",
]


@pytest.mark.parametrize("user_id", VALID)
def test_valid_ids_pass_unchanged(user_id: str) -> None:
    assert is_valid(user_id)
    assert validate(user_id) == user_id
    assert parse(user_id, DEFAULT) == (user_id, ())


INVALID = [
    pytest.param("", EMPTY, id="empty"),
    pytest.param("alice:example.org", NO_SIGIL, id="no-sigil"),
    pytest.param("@alice", NO_SERVER, id="no-colon"),
    pytest.param("@alice:", NO_SERVER, id="nothing-after-colon"),
    pytest.param("@alice::8448", NO_SERVER, id="port-without-host"),
    pytest.param("@:example.org", EMPTY_LOCALPART, id="empty-localpart"),
    pytest.param("@Alice:example.org", LOCALPART_UPPER, id="upper-localpart"),
    pytest.param("@al!ce:example.org", bad_localpart("!"), id="bang"),
    pytest.param("@a lice:example.org", SPACES_BETWEEN_WORDS, id="space"),
    pytest.param("@a#b#Ce:example.org", bad_localpart("#C"), id="each-bad-char-once"),
    pytest.param("@jörg:example.org", bad_localpart("ö"), id="non-ascii"),
    pytest.param("@alice:Example.org", SERVER_UPPER, id="upper-server"),
    pytest.param("@alice:[2001:DB8::1]", SERVER_UPPER, id="upper-ipv6"),
    pytest.param("@alice:exa_mple.org", bad_host("exa_mple.org", ONLY_DNS_CHARS), id="underscore"),
    pytest.param("@alice:exämple.org", bad_host("exämple.org", ONLY_DNS_CHARS), id="idn-unencoded"),
    pytest.param("@alice:example..org", bad_host("example..org", EMPTY_LABEL), id="empty-label"),
    pytest.param("@alice:example.org.", bad_host("example.org.", EMPTY_LABEL), id="trailing-dot"),
    pytest.param("@alice:-example.org", bad_host("-example.org", HYPHEN_EDGE), id="lead-hyphen"),
    pytest.param("@alice:example-.org", bad_host("example-.org", HYPHEN_EDGE), id="trail-hyphen"),
    pytest.param("@alice:example.org:", BAD_PORT, id="empty-port"),
    pytest.param("@alice:example.org:0", BAD_PORT, id="port-zero"),
    pytest.param("@alice:example.org:65536", BAD_PORT, id="port-too-big"),
    pytest.param("@alice:example.org:123456", BAD_PORT, id="port-six-digits"),
    pytest.param("@alice:example.org:http", BAD_PORT, id="port-not-number"),
    pytest.param("@alice:example.org:\u0668\u0664", BAD_PORT, id="port-arabic-digits"),
    pytest.param("@alice:example.org:80:80", BAD_PORT, id="two-ports"),
    pytest.param(
        "@alice:999.1.1.1",
        'the server name "999.1.1.1" is not a valid IPv4 address',
        id="ipv4-octet-too-big",
    ),
    pytest.param(
        "@alice:1.2.3", 'the server name "1.2.3" is not a valid IPv4 address', id="ipv4-short"
    ),
    pytest.param("@alice:1.2.3.4:0", BAD_PORT, id="ipv4-bad-port"),
    pytest.param("@alice:[::1", UNCLOSED_IPV6, id="ipv6-unclosed"),
    pytest.param(
        "@alice:[::g]", 'the server name "[::g]" is not a valid IPv6 address', id="ipv6-bad-hex"
    ),
    pytest.param("@alice:[]", 'the server name "[]" is not a valid IPv6 address', id="ipv6-empty"),
    pytest.param(
        "@alice:[fe80::1%eth0]",
        'the server name "[fe80::1%eth0]" is not a valid IPv6 address',
        id="ipv6-zone",
    ),
    pytest.param(
        "@alice:[1.2.3.4]",
        'the server name "[1.2.3.4]" is not a valid IPv6 address',
        id="ipv4-in-[]",
    ),
    pytest.param("@alice:[::1]8448", AFTER_IPV6, id="ipv6-port-without-colon"),
    pytest.param("@alice:[::1]:65536", BAD_PORT, id="ipv6-bad-port"),
    pytest.param("@alice:::1", IPV6_NEEDS_BRACKETS, id="ipv6-without-brackets"),
    pytest.param("@alice:2001:db8::1", IPV6_NEEDS_BRACKETS, id="ipv6-without-brackets-long"),
]


@pytest.mark.parametrize(("candidate", "reason"), INVALID)
def test_invalid_ids_say_why(candidate: str, reason: str) -> None:
    assert not is_valid(candidate)
    with pytest.raises(InvalidMatrixId) as caught:
        validate(candidate)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_invalid_matrix_id_reaches_value_error_handlers_with_its_reason() -> None:
    # Validators (pydantic's among them) turn a ValueError's message into the error people see.
    with pytest.raises(ValueError, match='^a Matrix ID starts with "@"'):
        parse("#room:example.org", DEFAULT)


# --- the 255-byte limit ---------------------------------------------------------------------


def user_id_of_size(size: int) -> str:
    return "@" + "a" * (size - len("@:example.org")) + ":example.org"


def test_user_id_of_exactly_255_bytes_is_valid() -> None:
    user_id = user_id_of_size(255)
    assert len(user_id) == 255
    assert is_valid(user_id)


def test_user_id_of_256_bytes_is_too_long() -> None:
    with pytest.raises(InvalidMatrixId) as caught:
        validate(user_id_of_size(256))
    assert caught.value.reason == "a Matrix ID is at most 255 bytes long, this one has 256"


def test_length_is_counted_in_utf8_bytes_not_characters() -> None:
    user_id = "@" + "é" * 127 + ":example.org"
    assert len(user_id) < 255
    with pytest.raises(InvalidMatrixId) as caught:
        validate(user_id)
    assert caught.value.reason == "a Matrix ID is at most 255 bytes long, this one has 267"


def test_lone_surrogates_are_rejected_not_crashed_on() -> None:
    # JSON may decode "\ud800" into a lone surrogate, which strict UTF-8 cannot encode.
    with pytest.raises(InvalidMatrixId) as caught:
        parse("@al\ud800ice:example.org", DEFAULT)
    assert caught.value.reason == bad_localpart("\\ud800")


# --- what reasons quote ---------------------------------------------------------------------


def test_reason_quotes_a_long_server_name_only_in_part() -> None:
    host = "a_" * 100
    with pytest.raises(InvalidMatrixId) as caught:
        validate(f"@alice:{host}")
    reason = caught.value.reason
    assert host not in reason
    assert f'"{host[:64]}…"' in reason
    assert len(reason) < 150


def test_reason_shows_control_characters_as_escapes() -> None:
    with pytest.raises(InvalidMatrixId) as caught:
        validate("@alice:exa\x00mple.org")
    assert "\\x00" in caught.value.reason
    assert caught.value.reason.isprintable()


# --- parse ----------------------------------------------------------------------------------


def test_parse_returns_the_repaired_id_and_its_repairs() -> None:
    assert parse("Alice@Example.org", DEFAULT) == (
        "@alice:example.org",
        (LOWER, AT_TO_COLON, ADDED_SIGIL),
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("https://matrix.to/#/#room:example.org", NO_SIGIL, id="room-link"),
        pytest.param("   ", EMPTY, id="only-spaces"),
        pytest.param("@alice:exa_mple.org", bad_host("exa_mple.org", ONLY_DNS_CHARS), id="host"),
        pytest.param("al!ce", NO_SIGIL, id="bad-bare-name"),
    ],
)
def test_parse_reports_what_repair_could_not_fix(raw: str, reason: str) -> None:
    with pytest.raises(InvalidMatrixId) as caught:
        parse(raw, DEFAULT)
    assert caught.value.reason == reason


# --- room IDs -------------------------------------------------------------------------------

V12_ROOM_ID = "!" + "ZsmZ0xYBcl2GVvyd_mCzmS8LG0Ol91yVdG-wlUQ_p1Y"

ROOM_IDS = [
    pytest.param("!abcdefghijklmnop:example.org", True, id="classic"),
    pytest.param("!abc:Example.org:8448", True, id="server-case-and-port"),
    pytest.param("!abc:1.2.3.4", True, id="ipv4"),
    pytest.param("!abc:[::1]:8448", True, id="ipv6"),
    pytest.param(V12_ROOM_ID, True, id="room-v12"),
    pytest.param("!a.b~c-d_e", True, id="serverless-punctuation"),
    pytest.param("", False, id="empty"),
    pytest.param("!", False, id="sigil-only"),
    pytest.param("!:example.org", False, id="empty-opaque"),
    pytest.param("abc:example.org", False, id="no-sigil"),
    pytest.param("@alice:example.org", False, id="user-id"),
    pytest.param("#room:example.org", False, id="alias"),
    pytest.param("!ab c:example.org", False, id="space"),
    pytest.param("!abc\n", False, id="newline"),
    pytest.param("!abc\u200b", False, id="zero-width"),
    pytest.param("!abc:", False, id="empty-server"),
    pytest.param("!abc:exa_mple.org", False, id="bad-server"),
    pytest.param("!abc:example.org:0", False, id="bad-port"),
    pytest.param("!abc:[::1", False, id="unclosed-ipv6"),
    pytest.param("!" + "a" * 242 + ":example.org", True, id="255-bytes"),
    pytest.param("!" + "a" * 243 + ":example.org", False, id="256-bytes"),
]


@pytest.mark.parametrize(("value", "expected"), ROOM_IDS)
def test_is_room_id(value: str, expected: bool) -> None:
    assert is_room_id(value) is expected


# --- localpart and server_name --------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "local", "server"),
    [
        ("@alice:example.org", "alice", "example.org"),
        ("@alice:example.org:8448", "alice", "example.org:8448"),
        ("@alice:[2001:db8::1]:8448", "alice", "[2001:db8::1]:8448"),
        # A historical ID from a homeserver still splits though it would not validate today.
        ("@Alice:example.org", "Alice", "example.org"),
    ],
)
def test_split_user_id(user_id: str, local: str, server: str) -> None:
    assert localpart(user_id) == local
    assert server_name(user_id) == server


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("alice:example.org", NO_SIGIL),
        ("@alice", NO_SERVER),
        ("@alice:", NO_SERVER),
        ("@:example.org", EMPTY_LOCALPART),
    ],
)
def test_split_rejects_what_is_not_shaped_like_a_user_id(value: str, reason: str) -> None:
    for split in (localpart, server_name):
        with pytest.raises(InvalidMatrixId) as caught:
            split(value)
        assert caught.value.reason == reason


# --- properties -----------------------------------------------------------------------------

any_text = st.text(st.characters(codec=None, exclude_categories=()))

LOCALPART_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789._=-/+"
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
dns_names = (
    st.lists(labels, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda host: not set(host) <= set("0123456789."))
)
hosts = st.one_of(
    dns_names,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
)
servers = st.builds(
    lambda host, port: host if port is None else f"{host}:{port}",
    hosts,
    st.none() | st.integers(1, 65535),
)
valid_ids = st.builds(
    lambda local, server: f"@{local}:{server}",
    st.text(LOCALPART_ALPHABET, min_size=1, max_size=40),
    servers,
)

# Pieces people actually type, so that random strings reach every repair.
FRAGMENTS = [
    *"aAzZ09._=-/+@:!#[],%? \t",
    "\u00a0",
    "\u200b",
    "\ufeff",
    "é",
    "https://",
    "matrix.to/#/",
    "%40",
    "%3A",
    "%20",
    "?via=",
    "example.org",
    "Example.ORG",
    "::1",
    "1.2.3.4",
    "8448",
    "alice",
]
messy = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)
inputs = st.one_of(any_text, messy, valid_ids)


@given(raw=any_text, default_server=any_text)
def test_repair_never_raises_and_reports_iff_it_changed_something(
    raw: str, default_server: str
) -> None:
    repaired = repair(raw, default_server)
    assert (repaired.repairs == ()) == (repaired.candidate == raw)


@given(raw=inputs)
def test_parse_returns_a_valid_id_or_raises_invalid_matrix_id(raw: str) -> None:
    try:
        user_id, _ = parse(raw, DEFAULT)
    except InvalidMatrixId as error:
        assert error.reason
        assert error.reason.isprintable()
        assert len(error.reason) < 200
    else:
        assert is_valid(user_id)


@given(value=inputs)
def test_valid_input_is_returned_unchanged(value: str) -> None:
    if is_valid(value):
        assert parse(value, DEFAULT) == (value, ())


@given(value=valid_ids)
def test_generated_ids_are_valid_and_kept_as_typed(value: str) -> None:
    assert is_valid(value)
    assert parse(value, DEFAULT) == (value, ())


@given(raw=inputs)
def test_repair_is_idempotent_on_valid_candidates(raw: str) -> None:
    candidate = repair(raw, DEFAULT).candidate
    if is_valid(candidate):
        assert repair(candidate, DEFAULT) == Repaired(candidate=candidate, repairs=())


@given(value=inputs)
def test_is_valid_agrees_with_validate(value: str) -> None:
    try:
        validate(value)
    except InvalidMatrixId:
        assert not is_valid(value)
    else:
        assert is_valid(value)
