"""Every route caps the body before anything reads it: no unauthenticated caller makes Knock
read or parse more than MAX_BODY_BYTES."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knock.services.runtime import Runtime
from knock.web.app import KnockApp

LIMIT = 4096
CHUNK = 64 * 1024


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"api_key": "an-admin-key-long-enough", "max_body_bytes": LIMIT}


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client


ROUTES = ["/block_user", "/rescind_invite", "/knocks/deny", "/allow_user", "/invite_from_form"]


@pytest.mark.parametrize("path", ROUTES)
async def test_an_unauthenticated_body_over_the_limit_is_413_not_read_then_401(
    api: httpx.AsyncClient, path: str
) -> None:
    body = b'{"user_id": "@a:example.org", "reason": "' + b"x" * LIMIT + b'"}'

    answer = await api.post(path, content=body, headers={"Content-Type": "application/json"})

    assert answer.status_code == 413
    assert "MAX_BODY_BYTES" in answer.json()["detail"]


@pytest.mark.parametrize("path", ROUTES)
async def test_a_streamed_body_is_cut_off_at_the_limit_whatever_it_claims(
    api: httpx.AsyncClient, path: str
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(128):  # 8 MiB, sent without a Content-Length
            sent += CHUNK
            yield b"{" * CHUNK

    answer = await api.post(path, content=endless(), headers={"Content-Type": "application/json"})

    assert answer.status_code == 413
    assert sent <= LIMIT + CHUNK  # Knock stopped reading as soon as the limit was passed


async def test_a_body_within_the_limit_still_reaches_the_route(api: httpx.AsyncClient) -> None:
    answer = await api.post("/block_user", json={"user_id": "@a:example.org"})

    assert answer.status_code == 401  # read, then refused for the missing key
