"""The `knock` command: serve the API, sign the bot in, check the set-up."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from knock.config import ConfigError, Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the `knock` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 2
    result: int = args.run(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knock", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")
    serve = commands.add_parser("serve", help="run the webhook and admin API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes (shared database)")
    serve.set_defaults(run=_serve)
    login = commands.add_parser("login", help="sign the bot in with Beeper's email code")
    login.add_argument("--email", help="the Beeper account's email (default BEEPER_LOGIN_EMAIL)")
    login.set_defaults(run=_login)
    check = commands.add_parser("check", help="sign in and check the bot's power in the room")
    check.set_defaults(run=_check)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "knock.web.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
    )
    return 0


def _check(settings: Settings, args: argparse.Namespace) -> int:
    from knock.services.runtime import Runtime, StartupError

    async def run() -> int:
        runtime = Runtime(settings)
        try:
            await runtime.start(background=False)
        except StartupError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 1
        print(
            f"OK: signed in as {runtime.bot_id}; it can invite, kick and ban in "
            f"{settings.new_room_id}"
        )
        await runtime.stop()
        return 0

    return asyncio.run(run())


def _login(settings: Settings, args: argparse.Namespace) -> int:
    from knock.services.login import interactive_login

    email = args.email or settings.beeper_login_email or input("Beeper account email: ").strip()
    return asyncio.run(interactive_login(settings, email, lambda: getpass.getpass("Code: ")))
