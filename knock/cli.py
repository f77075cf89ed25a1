"""The `knock` command: serve the API, sign the bot in, check the set-up, moderate from a shell."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from knock.config import ConfigError, Settings, load_settings

Command = Callable[[Settings | None, argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    """Run the `knock` command."""
    args = _parser().parse_args(argv)
    settings: Settings | None = None
    if args.needs_settings(args):
        try:
            # Commands that only read the database need neither NEW_ROOM_ID nor a sign-in.
            settings = load_settings(room_required=not args.read_only)
        except ConfigError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 2
    result: int = args.run(settings, args)
    return result


def _always(_: argparse.Namespace) -> bool:
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knock", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")

    def command(name: str, run: Command, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run, needs_settings=_always, read_only=False)
        return sub

    serve = command("serve", _serve, "run the webhook and admin API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes (shared database)")
    login = command("login", _login, "sign the bot in with Beeper's email code")
    login.add_argument("--email", help="the Beeper account's email (default BEEPER_LOGIN_EMAIL)")
    command("doctor", _doctor, "sign in and check the bot's power in the room")
    check = command("check", _check, "match Matrix IDs against the block-list (JSON lines)")
    check.add_argument("user_ids", nargs="*", metavar="USER_ID", help="ids (default: stdin)")
    check.add_argument("--blocklist", type=Path, help="a block-list file instead of the store")
    check.set_defaults(needs_settings=lambda a: a.blocklist is None, read_only=True)
    block = command("block", _block, "block an id, a pattern (@spam*:*) or a server")
    block.add_argument("user_id")
    block.add_argument("--reason")
    block.add_argument("--dry-run", action="store_true", help="show what would happen")
    block.add_argument("--confirm", action="store_true", help="remove more than the threshold")
    unblock = command("unblock", _unblock, "remove a block-list entry (and Knock's ban)")
    unblock.add_argument("user_id")
    listing = command("blocklist", _blocklist, "print the block-list and allow-list (JSON lines)")
    listing.set_defaults(read_only=True)
    imports = command("import", _import, "import the original service's block-list and invites")
    imports.add_argument("--blocklist", type=Path, metavar="FILE", help="blocked_users.txt")
    imports.add_argument("--pending", type=Path, metavar="FILE", help="pending_invites.json")
    return parser


def _serve(settings: Settings | None, args: argparse.Namespace) -> int:
    import uvicorn

    from knock.web.logs import logging_config

    assert settings is not None
    trusted = settings.trusted_proxies
    uvicorn.run(
        "knock.web.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # X-Forwarded-For and -Proto are believed from exactly TRUSTED_PROXIES (uvicorn alone
        # would believe 127.0.0.1 and ::1): `uvicorn mknock:app --forwarded-allow-ips
        # "$TRUSTED_PROXIES"` does the same. The access log then shows the caller's address.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
        log_config=logging_config(settings),  # the app factory applies the same set-up
    )
    return 0


def _login(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.services.homeserver.login import interactive_login

    assert settings is not None
    email = args.email or settings.beeper_login_email or input("Beeper account email: ").strip()
    return asyncio.run(interactive_login(settings, email, lambda: getpass.getpass("Code: ")))


def _doctor(settings: Settings | None, args: argparse.Namespace) -> int:
    async def run(runtime: Any) -> int:
        room = runtime.settings.new_room_id
        link = runtime.link
        for warning in runtime.health.warnings:  # settings that work but should be changed
            print(f"knock: warning: {warning.message}", file=sys.stderr)
        if not link.signed_in:
            print(f"knock: not signed in: {link.waiting_for}", file=sys.stderr)
            return 1
        if link.problems:
            for problem in link.problems.values():
                print(f"knock: {problem}", file=sys.stderr)
            return 1
        print(f"OK: signed in as {runtime.bot_id}; it can invite, kick and ban in {room}")
        return 0

    return _with_runtime(settings, run)


def _check(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.clock import SystemClock
    from knock.core.blocklist import MatchPolicy
    from knock.services.blocklist.checks import CannotCheck, Checker, file_checker, stored_checker

    ids = args.user_ids or _lines(sys.stdin)

    def run(checker: Checker) -> int:
        for note in checker.notes:
            print(f"knock: {note}", file=sys.stderr)
        for text in ids:
            checked = checker.check(text)
            print(json.dumps(checked.as_dict(), ensure_ascii=False))
            problem = checked.problem_line()
            if problem is not None:
                print(f"knock: {problem}", file=sys.stderr)
        return 0

    async def from_store() -> int:
        assert settings is not None
        async with stored_checker(settings, SystemClock()) as checker:
            return run(checker)

    try:
        if args.blocklist is not None:
            return run(file_checker(args.blocklist, MatchPolicy()))
        return asyncio.run(from_store())
    except CannotCheck as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 2


def _block(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.core.history import CLI
    from knock.services.blocklist.actions import NeedsConfirmation
    from knock.services.blocklist.index import BadPattern

    async def run(runtime: Any) -> int:
        try:
            entry = runtime.blocklist.entry_for(args.user_id, reason=args.reason, source="cli")
            result = await runtime.blocking.block(
                entry, CLI, dry_run=args.dry_run, confirm=args.confirm
            )
        except BadPattern as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 2
        except NeedsConfirmation as exc:
            print(json.dumps(exc.as_dict()))
            print(
                "knock: more people than BLOCK_CONFIRM_THRESHOLD: the entry is held (it refuses "
                "knocks, removes nobody); add --confirm to remove them",
                file=sys.stderr,
            )
            return 1
        print(json.dumps(result.as_dict()))
        return 0

    return _with_runtime(settings, run)


def _unblock(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.core.history import CLI
    from knock.services.blocklist.actions import NotBlocked
    from knock.services.blocklist.index import BadPattern

    async def run(runtime: Any) -> int:
        try:
            result = await runtime.blocking.unblock(args.user_id, CLI)
            print(json.dumps(result.as_dict()))
        except (BadPattern, NotBlocked) as exc:
            print(f"knock: {args.user_id} is not on the block-list ({exc})", file=sys.stderr)
            return 1
        return 0

    return _with_runtime(settings, run)


def _blocklist(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.clock import SystemClock
    from knock.services.blocklist.checks import CannotCheck, stored_entries

    assert settings is not None
    try:
        entries = asyncio.run(stored_entries(settings, SystemClock()))
    except CannotCheck as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 1
    for entry in entries:
        print(json.dumps(_entry_line(entry)))
    return 0


def _import(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.clock import SystemClock
    from knock.services.invites.importer import BadInput, StoreUnavailable, import_files, read_files

    assert settings is not None
    if args.blocklist is None and args.pending is None:
        print("knock: import needs --blocklist FILE, --pending FILE or both", file=sys.stderr)
        return 2
    clock = SystemClock()
    try:
        files = read_files(args.blocklist, args.pending, clock.now())
    except BadInput as exc:
        for warning in exc.skipped:
            print(f"knock: {warning}", file=sys.stderr)
        # Every file is checked before anything is written: a bad entry imports nothing.
        if len(exc.problems) == 1:
            print(f"knock: {exc.problems[0]}; nothing imported", file=sys.stderr)
        else:
            for problem in exc.problems:
                print(f"knock: {problem}", file=sys.stderr)
            print(f"knock: {len(exc.problems)} problems; nothing imported", file=sys.stderr)
        return 2
    for warning in files.skipped:
        print(f"knock: {warning}", file=sys.stderr)
    try:
        imported = asyncio.run(import_files(settings, files, clock))
    except StoreUnavailable as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 1
    for line in imported.summary(files):
        print(line)
    return 0


def _entry_line(entry: Any) -> dict[str, Any]:
    from knock.web.views import iso

    return {
        "user_id": entry.pattern,
        "list": "allow" if entry.allow else "block",
        "reason": entry.reason,
        "source": entry.source,
        "added_at": iso(entry.added_at),
        "status": "held" if entry.held else "active",
    }


def _with_runtime(settings: Settings | None, body: Callable[[Any], Awaitable[int]]) -> int:
    """Start Knock without its background work, run `body`, and stop."""
    from knock.services.runtime import Runtime, StartupError

    assert settings is not None

    async def run() -> int:
        runtime = Runtime(settings)
        try:
            await runtime.start(background=False)
        except StartupError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 1
        try:
            return await body(runtime.services)
        finally:
            await runtime.stop()

    return asyncio.run(run())


def _lines(stream: Iterator[str]) -> list[str]:
    return [line.strip() for line in stream if line.strip()]
