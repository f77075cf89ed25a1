"""Who may call what: the admin bearer key, and the proof a form delivery must carry."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import HTTPException, Request

from knock.config import Settings
from knock.core.forms import verify_standard_webhook, verify_tally, verify_typeform
from knock.core.history import Actor

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """Return the token of an `Authorization: Bearer` header, if there is one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_secret(given: str | None, expected: str) -> bool:
    """Compare secrets in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def holds_api_key(request: Request) -> bool:
    """Tell whether the caller sent the right `API_KEY` (for routes that only add details)."""
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        return False
    return same_secret(bearer_token(request.headers), settings.api_key.get_secret_value())


def require_admin(request: Request) -> Actor:
    """Admit a caller holding `API_KEY`; return the actor name for the audit log."""
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        raise HTTPException(403, "Admin routes are off: set API_KEY to turn them on")
    token = bearer_token(request.headers)
    if token is None:
        raise HTTPException(401, "Send Authorization: Bearer <API_KEY>", headers=_CHALLENGE)
    if not same_secret(token, settings.api_key.get_secret_value()):
        raise HTTPException(401, "The API key is wrong", headers=_CHALLENGE)
    return Actor.api("admin")


class DeliveryProof:
    """What a delivery proved about itself: a valid token, and which signatures verified."""

    def __init__(
        self,
        settings: Settings,
        headers: Mapping[str, str],
        query_token: str | None,
        body: bytes,
        now: float,
    ) -> None:
        self.settings = settings
        token = settings.webhook_token
        self.token_ok = token is not None and (
            same_secret(bearer_token(headers), token.get_secret_value())
            or same_secret(query_token, token.get_secret_value())
        )
        self.signed: dict[str, bool] = {}
        if settings.tally_signing_secret is not None and "tally-signature" in headers:
            secret = settings.tally_signing_secret.get_secret_value()
            self.signed["tally"] = verify_tally(body, headers["tally-signature"], secret)
        if settings.typeform_secret is not None and "typeform-signature" in headers:
            secret = settings.typeform_secret.get_secret_value()
            self.signed["typeform"] = verify_typeform(body, headers["typeform-signature"], secret)
        if settings.formbricks_secret is not None and "webhook-signature" in headers:
            secret = settings.formbricks_secret.get_secret_value()
            self.signed["formbricks"] = verify_standard_webhook(body, headers, secret, now)

    def enough_to_read(self) -> bool:
        """Tell whether the body may be parsed at all."""
        return not self.settings.signing_configured or self.token_ok or any(self.signed.values())

    def admits(self, platform: str) -> bool:
        """Tell whether a delivery from `platform` is admitted.

        A platform with its own secret must carry its signature; a token does not stand in
        for it, so nobody can post an unsigned body dressed as that platform.
        """
        if not self.settings.signing_configured:
            return True
        if self._secret_for(platform):
            return self.signed.get(platform, False)
        return self.token_ok or any(self.signed.values())

    def _secret_for(self, platform: str) -> bool:
        settings = self.settings
        return {
            "tally": settings.tally_signing_secret,
            "typeform": settings.typeform_secret,
            "formbricks": settings.formbricks_secret,
        }.get(platform) is not None
