"""Beeper's email-code login: an email gets a code, the code buys a JWT for Matrix login."""

from __future__ import annotations

from typing import Any

import httpx

# Beeper's own clients send this fixed bearer to the login API.
_BEEPER_AUTH = {"Authorization": "Bearer BEEPER-PRIVATE-API-PLEASE-DONT-USE"}
_APP_TYPE = {"appType": "desktop", "onlyExistingAccounts": True}
FALLBACK = "sign in with MATRIX_USER_ID and MATRIX_PASSWORD (password login on matrix.beeper.com)"


class BeeperLoginError(Exception):
    """Beeper refused a step of the login; the message says what to do next."""


class BeeperUnreachable(BeeperLoginError):
    """Beeper's login API could not be reached (try again later)."""


class BeeperLogin:
    """The three calls of Beeper's login API."""

    def __init__(self, http: httpx.AsyncClient, api_base: str) -> None:
        self.http = http
        self.api_base = api_base.rstrip("/")

    async def start(self) -> str:
        """Open a login request and return its id."""
        body = await self._post("/user/login", {})
        request = body.get("request")
        if not isinstance(request, str):
            raise BeeperLoginError(f"Beeper's login API gave no request id; {FALLBACK}")
        return request

    async def send_code(self, request: str, email: str) -> None:
        """Ask Beeper to email a login code."""
        await self._post("/user/login/email", {"request": request, "email": email, **_APP_TYPE})

    async def exchange_code(self, request: str, code: str) -> str:
        """Trade the emailed code for a JWT that the homeserver accepts for login."""
        body = await self._post(
            "/user/login/response", {"request": request, "response": code.strip(), **_APP_TYPE}
        )
        token = body.get("token")
        if not isinstance(token, str):
            raise BeeperLoginError(f"Beeper accepted the code but sent no token; {FALLBACK}")
        return token

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.http.post(
                self.api_base + path, json=payload, headers=_BEEPER_AUTH
            )
        except httpx.TransportError as exc:
            raise BeeperUnreachable(
                f"cannot reach Beeper's login API ({type(exc).__name__})"
            ) from None
        body = _json(response)
        if response.status_code == 403 and "retries" in body:
            raise BeeperLoginError(
                f"Beeper says the login code is wrong ({body['retries']} tries left); "
                "run `knock login` for a new code"
            )
        if response.status_code >= 400:
            raise BeeperLoginError(
                f"Beeper refused the email-code login (HTTP {response.status_code}); {FALLBACK}"
            )
        return body


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
