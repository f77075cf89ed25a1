"""The console in the service tests: the key, signing in, and a page's form token."""

from __future__ import annotations

import re

import httpx

KEY = "console-test-key-0123456789"


async def sign_in(http: httpx.AsyncClient, key: str = KEY) -> httpx.Response:
    """Sign in as a moderator holding the API key; the client keeps the cookie."""
    return await http.post("/console/sign-in", data={"api_key": key})


def form_token(page: str) -> str:
    """The session's form token, as the page's forms carry it."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "the page has no form token"
    return found[1]
