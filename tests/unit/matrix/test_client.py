"""MatrixClient's one request path: pacing, rate limits, outages and a dropped access token.

The homeserver here is an `httpx.MockTransport`, legitimately: these are faults a real homeserver
cannot be made to show on demand (a 429 with a chosen Retry-After, a 502 twice and then an
answer, a refused connection, a token revoked between two calls). Time is a fake clock whose
`sleep` records the delay asked for and moves the clock on at once, so no test waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from knock.core.media import MediaId
from knock.matrix.client import (
    API,
    HomeserverUnavailable,
    LocalPacer,
    MatrixClient,
    MatrixError,
    RateLimited,
)

BASE_URL = "https://hs.example.org"
WHOAMI = {"user_id": "@knock:hs.example.org", "device_id": "KNOCK"}

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Time that moves only when someone sleeps on it; every sleep is recorded."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)  # yield to other tasks, as a real sleep would

    def waits(self) -> list[float]:
        """The sleeps that actually waited (the pacer asks for negative ones when not needed)."""
        return [seconds for seconds in self.sleeps if seconds > 0]


class Homeserver:
    """Answers each request with the next scripted answer, and remembers when it came."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.answers: list[Answer] = []
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def client(self, *, delay: float = 0.0, **options: Any) -> MatrixClient:
        pacer = LocalPacer(self.clock, delay)
        client = MatrixClient(self.http, BASE_URL, self.clock, pacer=pacer, **options)
        client.access_token = "old-token"
        return client

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.clock.now())
        assert self.answers, f"unexpected request {request.method} {request.url}"
        answer = self.answers.pop(0)
        return answer if isinstance(answer, httpx.Response) else answer(request)


def ok(body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, json=WHOAMI if body is None else body)


def error(status: int, errcode: str, **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", None)
    return httpx.Response(
        status, json={"errcode": errcode, "error": f"{errcode} error", **extra}, headers=headers
    )


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("Connection refused", request=request)


def outage(kind: str) -> Answer:
    if kind == "connect":
        return refused
    return httpx.Response(int(kind), text="<html>Bad gateway</html>")


OUTAGES = ["502", "503", "504", "connect"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def homeserver(clock: FakeClock) -> AsyncIterator[Homeserver]:
    server = Homeserver(clock)
    yield server
    await server.http.aclose()


# --- Rate limits ----------------------------------------------------------------------------


async def test_a_429_with_retry_after_is_waited_out_and_the_call_then_succeeds(
    homeserver: Homeserver, clock: FakeClock
) -> None:
    homeserver.answer(error(429, "M_LIMIT_EXCEEDED", headers={"Retry-After": "3"}), ok())

    assert await homeserver.client().whoami() == WHOAMI
    assert clock.waits() == [pytest.approx(3.0)]
    assert homeserver.times[1] - homeserver.times[0] == pytest.approx(3.0)


async def test_a_429_with_only_retry_after_ms_waits_that_long(
    homeserver: Homeserver, clock: FakeClock
) -> None:
    homeserver.answer(error(429, "M_LIMIT_EXCEEDED", retry_after_ms=1500), ok())

    assert await homeserver.client().whoami() == WHOAMI
    assert clock.waits() == [pytest.approx(1.5)]


async def test_a_429_without_a_hint_waits_a_second(
    homeserver: Homeserver, clock: FakeClock
) -> None:
    homeserver.answer(error(429, "M_LIMIT_EXCEEDED"), ok())

    assert await homeserver.client().whoami() == WHOAMI
    assert clock.waits() == [pytest.approx(1.0)]


@pytest.mark.parametrize(
    "limited",
    [
        error(429, "M_LIMIT_EXCEEDED", headers={"Retry-After": "120"}),
        error(429, "M_LIMIT_EXCEEDED", retry_after_ms=120_000),
    ],
    ids=["header", "body"],
)
async def test_a_429_asking_for_more_than_the_cap_is_raised_without_waiting(
    homeserver: Homeserver, clock: FakeClock, limited: httpx.Response
) -> None:
    homeserver.answer(limited)

    with pytest.raises(RateLimited) as caught:
        await homeserver.client(rate_limit_wait_cap=60.0).whoami()

    assert caught.value.retry_after == pytest.approx(120.0)
    assert caught.value.status == 429
    assert clock.waits() == []
    assert len(homeserver.requests) == 1


# --- Outages --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", OUTAGES)
async def test_an_outage_is_retried_with_growing_delays_until_the_homeserver_answers(
    homeserver: Homeserver, clock: FakeClock, kind: str
) -> None:
    homeserver.answer(outage(kind), outage(kind), ok())

    assert await homeserver.client().whoami() == WHOAMI
    first, second = clock.waits()
    assert 0.25 <= first <= 0.5 <= second <= 1.0


@pytest.mark.parametrize("kind", OUTAGES)
async def test_an_outage_longer_than_connect_attempts_raises_homeserver_unavailable(
    homeserver: Homeserver, clock: FakeClock, kind: str
) -> None:
    homeserver.answer(*[outage(kind)] * 4)

    with pytest.raises(HomeserverUnavailable) as caught:
        await homeserver.client(connect_attempts=4).whoami()

    assert len(homeserver.requests) == 4
    waits = clock.waits()
    assert len(waits) == 3
    assert waits == sorted(waits)
    assert waits[-1] > waits[0]
    assert caught.value.status == 503


async def test_connect_attempts_sets_how_many_tries_are_made(
    homeserver: Homeserver, clock: FakeClock
) -> None:
    homeserver.answer(refused, refused)

    with pytest.raises(HomeserverUnavailable):
        await homeserver.client(connect_attempts=2).whoami()

    assert len(homeserver.requests) == 2


# --- The homeserver's health: one line when it goes down, one when it is back --------------

CLIENT_LOG = "knock.matrix.client"


@pytest.fixture
def client_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The client's log records, down to DEBUG."""
    caplog.set_level(logging.DEBUG, logger=CLIENT_LOG)
    return caplog


def lines(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == CLIENT_LOG and r.levelno == level and text in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("502", "HTTP 502"),
        ("503", "HTTP 503"),
        ("504", "HTTP 504"),
        ("connect", "ConnectError: Connection refused"),
    ],
)
async def test_calls_failing_through_an_outage_log_one_warning_and_the_answer_one_line(
    homeserver: Homeserver,
    clock: FakeClock,
    client_log: pytest.LogCaptureFixture,
    kind: str,
    error: str,
) -> None:
    client = homeserver.client(connect_attempts=3)
    homeserver.answer(*[outage(kind)] * 3 * 4, ok())
    started = clock.now()

    for _ in range(4):
        with pytest.raises(HomeserverUnavailable):
            await client.whoami()
        assert client.homeserver_up is False
        assert client.down_since == started
        clock.time += 30.0
    clock.time = started + 133.0
    assert await client.whoami() == WHOAMI

    assert [r.levelname for r in client_log.records if r.levelno >= logging.INFO] == [
        "WARNING",
        "INFO",
    ]
    assert lines(client_log, logging.WARNING, "") == [
        f"The homeserver is down: GET account/whoami failed ({error})"
    ]
    assert lines(client_log, logging.INFO, "") == ["The homeserver is back after 2m 13s"]
    assert len(lines(client_log, logging.DEBUG, "retrying in")) == 4 * 2  # every retry, quietly
    assert client.homeserver_up is True
    assert client.down_since is None


@pytest.mark.parametrize(
    ("down_for", "shown"),
    [(0.4, "0.4s"), (42.0, "42s"), (133.0, "2m 13s"), (3 * 3600 + 5.0, "3h 0m 5s")],
)
async def test_the_back_line_says_how_long_the_homeserver_was_down(
    homeserver: Homeserver,
    clock: FakeClock,
    client_log: pytest.LogCaptureFixture,
    down_for: float,
    shown: str,
) -> None:
    client = homeserver.client(connect_attempts=1)
    homeserver.answer(refused, ok())
    with pytest.raises(HomeserverUnavailable):
        await client.whoami()
    assert client.down_since is not None
    clock.time = client.down_since + down_for

    await client.whoami()

    assert lines(client_log, logging.INFO, "back after") == [
        f"The homeserver is back after {shown}"
    ]


async def test_concurrent_calls_failing_together_log_one_warning(
    homeserver: Homeserver, client_log: pytest.LogCaptureFixture
) -> None:
    client = homeserver.client(connect_attempts=2)
    homeserver.answer(*[refused] * 5 * 2)

    results = await asyncio.gather(*[client.whoami() for _ in range(5)], return_exceptions=True)

    assert all(isinstance(result, HomeserverUnavailable) for result in results)
    assert len(lines(client_log, logging.WARNING, "The homeserver is down")) == 1
    assert [r.levelname for r in client_log.records if r.levelno >= logging.INFO] == ["WARNING"]


async def test_an_error_answer_also_means_the_homeserver_is_back(
    homeserver: Homeserver, client_log: pytest.LogCaptureFixture
) -> None:
    client = homeserver.client(connect_attempts=1)
    homeserver.answer(outage("502"), error(404, "M_NOT_FOUND"))
    with pytest.raises(HomeserverUnavailable):
        await client.whoami()

    with pytest.raises(MatrixError):
        await client.profile("@nobody:example.org")

    assert client.homeserver_up is True
    assert len(lines(client_log, logging.INFO, "The homeserver is back after")) == 1


async def test_a_blip_retried_within_one_call_is_one_down_and_one_back_line(
    homeserver: Homeserver, client_log: pytest.LogCaptureFixture
) -> None:
    client = homeserver.client()
    homeserver.answer(outage("503"), ok(), ok())

    await client.whoami()
    await client.whoami()

    assert len(lines(client_log, logging.WARNING, "The homeserver is down")) == 1
    assert len(lines(client_log, logging.INFO, "The homeserver is back after")) == 1


async def test_a_homeserver_that_always_answers_logs_nothing(
    homeserver: Homeserver, client_log: pytest.LogCaptureFixture
) -> None:
    client = homeserver.client()
    homeserver.answer(ok(), error(429, "M_LIMIT_EXCEEDED", retry_after_ms=10), ok())

    await client.whoami()
    await client.whoami()

    assert lines(client_log, logging.WARNING, "") == []
    assert lines(client_log, logging.INFO, "The homeserver is") == []
    assert client.homeserver_up is True
    assert client.down_since is None


# --- The access token -----------------------------------------------------------------------


async def test_an_unknown_token_logs_in_again_once_and_retries_with_the_new_token(
    homeserver: Homeserver,
) -> None:
    client = homeserver.client()
    logins: list[str] = []

    async def relogin() -> str | None:
        logins.append("again")
        return "new-token"

    client.relogin = relogin
    homeserver.answer(error(401, "M_UNKNOWN_TOKEN"), ok())

    assert await client.whoami() == WHOAMI
    assert logins == ["again"]
    first, retried = homeserver.requests
    assert first.headers["Authorization"] == "Bearer old-token"
    assert retried.headers["Authorization"] == "Bearer new-token"
    assert client.access_token == "new-token"


async def test_a_second_401_after_logging_in_again_is_raised(homeserver: Homeserver) -> None:
    client = homeserver.client()
    logins: list[str] = []

    async def relogin() -> str | None:
        logins.append("again")
        return "new-token"

    client.relogin = relogin
    homeserver.answer(error(401, "M_UNKNOWN_TOKEN"), error(401, "M_UNKNOWN_TOKEN"))

    with pytest.raises(MatrixError) as caught:
        await client.whoami()

    assert (caught.value.status, caught.value.errcode) == (401, "M_UNKNOWN_TOKEN")
    assert logins == ["again"]
    assert len(homeserver.requests) == 2


async def test_an_unknown_token_is_raised_when_no_new_login_is_possible(
    homeserver: Homeserver,
) -> None:
    client = homeserver.client()

    async def relogin() -> str | None:
        return None

    client.relogin = relogin
    homeserver.answer(error(401, "M_UNKNOWN_TOKEN"))

    with pytest.raises(MatrixError) as caught:
        await client.whoami()

    assert caught.value.status == 401
    assert len(homeserver.requests) == 1


# --- Errors and URLs ------------------------------------------------------------------------


async def test_a_missing_profile_is_a_404_matrix_error(homeserver: Homeserver) -> None:
    homeserver.answer(error(404, "M_NOT_FOUND"))

    with pytest.raises(MatrixError) as caught:
        await homeserver.client().profile("@nobody:example.org")

    assert caught.value.status == 404
    assert caught.value.errcode == "M_NOT_FOUND"
    assert caught.value.error == "M_NOT_FOUND error"
    assert len(homeserver.requests) == 1


async def test_path_segments_are_url_encoded(homeserver: Homeserver) -> None:
    homeserver.answer(ok({"chunk": []}), ok({"displayname": "Alice"}))
    client = homeserver.client()

    await client.members("!a:b")
    await client.profile("@alice:example.org")

    members, profile = (request.url.raw_path.decode() for request in homeserver.requests)
    assert members == f"{API}/rooms/%21a%3Ab/members"
    assert profile == f"{API}/profile/%40alice%3Aexample.org"


async def test_a_missing_state_event_is_none_not_an_error(homeserver: Homeserver) -> None:
    homeserver.answer(error(404, "M_NOT_FOUND"))

    assert await homeserver.client().membership("!a:b", "@alice:example.org") is None
    assert homeserver.requests[0].url.raw_path.decode() == (
        f"{API}/rooms/%21a%3Ab/state/m.room.member/%40alice%3Aexample.org"
    )


# --- Pacing ---------------------------------------------------------------------------------


async def test_the_pacer_spaces_calls_at_least_request_delay_apart(
    homeserver: Homeserver,
) -> None:
    homeserver.answer(ok(), ok(), ok())
    client = homeserver.client(delay=0.5)

    await asyncio.gather(client.whoami(), client.whoami(), client.whoami())

    first, second, third = homeserver.times
    assert second - first >= 0.5
    assert third - second >= 0.5
    assert third - first == pytest.approx(1.0)  # and no more than that


async def test_the_pacer_does_not_wait_when_calls_are_already_far_apart(
    homeserver: Homeserver, clock: FakeClock
) -> None:
    homeserver.answer(ok(), ok())
    client = homeserver.client(delay=0.5)

    await client.whoami()
    clock.time += 10.0
    await client.whoami()

    assert clock.waits() == []


# --- Media ----------------------------------------------------------------------------------

MEDIA = MediaId("example.org", "abc123")
V1 = "/_matrix/client/v1/media/download/example.org/abc123"
V3 = "/_matrix/media/v3/download/example.org/abc123"


class Streamed(httpx.AsyncByteStream):
    """A body sent in chunks, as over the network (optionally cut off after them)."""

    def __init__(self, *chunks: bytes, cut_off: bool = False) -> None:
        self.chunks = chunks
        self.cut_off = cut_off
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.cut_off:
            raise httpx.ReadError("connection lost")


def content(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        200, stream=Streamed(body), headers={"Content-Type": "image/png", **headers}
    )


async def test_media_is_downloaded_as_the_bot_from_the_authenticated_endpoint(
    homeserver: Homeserver,
) -> None:
    homeserver.answer(content(b"image bytes"))

    assert await homeserver.client().download(MEDIA, 100) == b"image bytes"
    (request,) = homeserver.requests
    assert request.url.raw_path.decode() == V1
    assert request.headers["Authorization"] == "Bearer old-token"
    assert request.headers["Accept-Encoding"] == "identity"


async def test_media_larger_than_the_cap_is_not_read_whole(homeserver: Homeserver) -> None:
    # Without a length the content is read in chunks, and reading stops past the cap.
    endless = Streamed(*[b"x" * 64] * 1000)
    declared = content(b"x" * 101, **{"Content-Length": "101"})
    homeserver.answer(httpx.Response(200, stream=endless), declared)
    client = homeserver.client()

    assert await client.download(MEDIA, 100) is None
    assert endless.sent == 2
    assert await client.download(MEDIA, 100) is None  # said by its Content-Length


async def test_a_homeserver_without_authenticated_media_is_asked_at_the_legacy_endpoint(
    homeserver: Homeserver,
) -> None:
    homeserver.answer(error(404, "M_UNRECOGNIZED"), content(b"first"), content(b"second"))
    client = homeserver.client()

    assert await client.download(MEDIA, 100) == b"first"
    assert await client.download(MEDIA, 100) == b"second"  # straight to the legacy endpoint
    paths = [request.url.raw_path.decode() for request in homeserver.requests]
    assert paths == [V1, V3, V3]


async def test_media_that_is_not_found_is_an_error_and_not_asked_for_elsewhere(
    homeserver: Homeserver,
) -> None:
    homeserver.answer(error(404, "M_NOT_FOUND"))

    with pytest.raises(MatrixError) as caught:
        await homeserver.client().download(MEDIA, 100)

    assert (caught.value.status, caught.value.errcode) == (404, "M_NOT_FOUND")
    assert len(homeserver.requests) == 1


async def test_remote_media_the_homeserver_cannot_fetch_is_not_an_outage(
    homeserver: Homeserver, caplog: pytest.LogCaptureFixture
) -> None:
    homeserver.answer(httpx.Response(502, json={"errcode": "M_UNKNOWN", "error": "remote"}))
    client = homeserver.client()

    with caplog.at_level(logging.INFO), pytest.raises(MatrixError) as caught:
        await client.download(MEDIA, 100)

    assert caught.value.status == 502 and not isinstance(caught.value, HomeserverUnavailable)
    assert len(homeserver.requests) == 1  # not retried
    assert client.homeserver_up and "The homeserver is down" not in caplog.text


async def test_a_connection_lost_while_media_is_read_is_retried_like_any_outage(
    homeserver: Homeserver,
) -> None:
    broken = httpx.Response(200, stream=Streamed(b"part", cut_off=True))
    homeserver.answer(broken, content(b"whole"))

    assert await homeserver.client().download(MEDIA, 100) == b"whole"
    assert len(homeserver.requests) == 2


async def test_media_sent_compressed_is_never_decompressed(homeserver: Homeserver) -> None:
    homeserver.answer(content(b"\x1f\x8b compressed", **{"Content-Encoding": "gzip"}))

    assert await homeserver.client().download(MEDIA, 100) is None
