"""What every route reaches for: the running Knock behind the app, and its services."""

from __future__ import annotations

from fastapi import Request

from knock.services.compose import Services
from knock.services.runtime import Runtime


def services_of(request: Request) -> Services:
    """Return the services of the running Knock behind this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime.services
