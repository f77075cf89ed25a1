"""What every route reaches for: the Runtime the app was built over."""

from __future__ import annotations

from fastapi import Request

from knock.services.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    """Return the running Knock behind this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime
