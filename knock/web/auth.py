"""Who may call the admin routes: the holder of the bearer key.

What a form delivery must prove is decided with the rest of intake (`knock.core.forms.callers`).
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from knock.config import Settings
from knock.core.forms import bearer_token, same_secret
from knock.core.history import Actor

_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Declares the scheme in the OpenAPI description; `require_admin` decides, with its own messages.
API_KEY = HTTPBearer(
    scheme_name="ApiKey",
    description="`Authorization: Bearer <API_KEY>`. Unset API_KEY turns the admin routes off.",
    auto_error=False,
)


def holds_api_key(request: Request) -> bool:
    """Tell whether the caller sent the right `API_KEY` (for routes that only add details)."""
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        return False
    return same_secret(bearer_token(request.headers), settings.api_key.get_secret_value())


def require_admin(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(API_KEY)
) -> Actor:
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


# Declares the scheme of GET /metrics; `require_metrics_reader` decides.
METRICS_TOKEN = HTTPBearer(
    scheme_name="MetricsToken",
    description="`Authorization: Bearer <METRICS_TOKEN>` (API_KEY when METRICS_TOKEN is unset).",
    auto_error=False,
)


def require_metrics_reader(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(METRICS_TOKEN)
) -> None:
    """Admit a caller holding `METRICS_TOKEN` (or `API_KEY` when it is unset)."""
    settings: Settings = request.app.state.settings
    secret = settings.metrics_token or settings.api_key
    if secret is None:
        raise HTTPException(403, "Metrics are off: set METRICS_TOKEN (or API_KEY) to turn them on")
    name = "METRICS_TOKEN" if settings.metrics_token is not None else "API_KEY"
    token = bearer_token(request.headers)
    if token is None:
        raise HTTPException(401, f"Send Authorization: Bearer <{name}>", headers=_CHALLENGE)
    if not same_secret(token, secret.get_secret_value()):
        raise HTTPException(401, f"The {name} is wrong", headers=_CHALLENGE)
