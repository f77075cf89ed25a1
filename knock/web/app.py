"""The ASGI application: FastAPI routes over one Runtime, with a start-up that fails in one line."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from knock.config import ConfigError, Settings, load_settings
from knock.services.errors import caller_facing_errors
from knock.services.runtime import Runtime, StartupError
from knock.web import console
from knock.web.body_limit import BodyLimit
from knock.web.logs import configure_logging
from knock.web.pages import STATIC
from knock.web.routes import admin, blocklist, join_wave, knocks, metrics, page, public
from knock.web.webhook import Webhook, problem_response, webhook_door

log = logging.getLogger(__name__)

# Swagger UI's files, shipped with Knock: the docs page loads nothing from elsewhere.
SWAGGER_UI = Path(__file__).parent / "swagger_ui"
DOCS_ASSETS = "/docs/assets"


def create_api(runtime: Runtime) -> FastAPI:
    """Build the FastAPI app over a runtime (started separately)."""
    api = FastAPI(
        title="Knock",
        summary="Out-of-band invites to a private Matrix room",
        version="0.1.0",
        docs_url=None,  # served below, from Knock's own copy of Swagger UI
        redoc_url=None,
    )
    api.state.runtime = runtime
    api.state.settings = runtime.settings
    api.include_router(public.router, tags=["public"])
    api.include_router(admin.router, tags=["admin"])
    api.include_router(blocklist.router, tags=["block-list"])
    api.include_router(knocks.router, tags=["knocks"])
    api.include_router(join_wave.router, tags=["join wave"])
    api.include_router(metrics.router, tags=["metrics"])
    api.include_router(page.router)
    api.include_router(console.router)
    api.add_exception_handler(console.UnknownDoor, console.unknown_door_page)
    for error in caller_facing_errors():
        api.add_exception_handler(error, _problem)
    api.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    api.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")
    api.mount(page.ASSETS, StaticFiles(directory=STATIC), name="knock-assets")
    api.add_api_route("/docs", _docs, include_in_schema=False)
    return api


async def _docs(request: Request) -> HTMLResponse:
    """The interactive docs (Swagger UI), with every file served by Knock itself."""
    root = request.scope.get("root_path", "").rstrip("/")
    assets = root + DOCS_ASSETS
    return get_swagger_ui_html(
        openapi_url=root + "/openapi.json",
        title="Knock API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        # No online validator badge: it would send the description to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    """Answer a failure the services name (the database or homeserver down or refusing)."""
    response = problem_response(exc)
    if response is None:  # not expected: the handler is registered for these errors only
        raise exc
    return response


class KnockApp:
    """The ASGI entry point: runs the Runtime in the lifespan and serves the API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.api = create_api(runtime)
        self.webhook = Webhook(lambda: runtime.services, runtime.settings.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle lifespan ourselves so that a failed start-up is reported in one line."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif webhook_door(scope) is not None:
            await self.webhook(scope, receive, send)  # the hot path, FastAPI's stack skipped
        else:
            await self.api(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.start()
                except StartupError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                except Exception as exc:
                    # Never serve without a runtime (uvicorn would take an exception here for
                    # "no lifespan support" and carry on): say what failed, in one line, and stop.
                    await self.runtime.stop()
                    first = (str(exc).splitlines() or [""])[0][:300]
                    why = f"Knock could not start: {type(exc).__name__}: {first}"
                    await send({"type": "lifespan.startup.failed", "message": why})
                    return
                # What start-up built lives as long as the process: leave it out of the cyclic
                # garbage collector's full passes, which otherwise walk all of it (some 50 ms,
                # in the middle of a request) every few thousand requests.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: Settings, **runtime_options: Any) -> KnockApp:
    """Build the application for `settings`."""
    configure_logging(settings)
    return KnockApp(Runtime(settings, **runtime_options))


def app_from_environment() -> KnockApp:
    """Build the application from the environment, or stop with one line naming the setting."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"knock: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return create_app(settings)
