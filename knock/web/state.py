"""What every route reaches for: the running Knock behind the app, and its services."""

from __future__ import annotations

from fastapi import Request

from knock.services.compose import Services
from knock.services.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    """Return the running Knock behind this request (for its health)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def services_of(request: Request) -> Services:
    """Return the services of the running Knock behind this request."""
    return runtime_of(request).services
