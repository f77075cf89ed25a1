"""HTML pages: Knock's templates, rendered with autoescaping, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


_ENVIRONMENT.filters["iso"] = _iso
_ENVIRONMENT.filters["when"] = _when

# No inline script or style anywhere: every script and style sheet is a file Knock serves.
# `worker-src 'self'`: the proof-of-work runs in a worker loaded from Knock's own files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def page_headers(*, referrer: str = "same-origin", store: bool = False) -> dict[str, str]:
    """The security headers of a page.

    The form's page keeps `same-origin` referrers: with `no-referrer`, browsers send
    `Origin: null` with the form's post, and Knock could not tell its own page from another
    site's. A status page sends none: its address holds a secret.
    """
    headers = {
        "Content-Security-Policy": CSP,
        "Referrer-Policy": referrer,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not store:
        headers["Cache-Control"] = "no-store"
    return headers


def render(
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a template into a response with the pages' security headers."""
    html = _ENVIRONMENT.get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=headers or page_headers())


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(request: Request, max_fields: int) -> FormData | None:
    """A page's posted form (no files), or None when it is not a form or cannot be read."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        return None
    try:
        return await request.form(max_files=0, max_fields=max_fields)
    except (HTTPException, ValueError, UnicodeDecodeError):
        return None
