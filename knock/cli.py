"""The `knock` command: serve the API, sign the bot in, check the set-up, moderate from a shell."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knock import __version__
from knock.config import NO_ROOM, ConfigError, Settings, load_settings
from knock.core.history import Actor
from knock.core.lifecycle import State

Command = Callable[[Settings | None, argparse.Namespace], int]

# Where the workers of `knock serve --workers N` share their metrics (knock/metrics.py); read by
# prometheus-client when the workers import it, so never imported here first.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

if TYPE_CHECKING:
    import httpx

    from knock.doors import Door


def main(
    argv: list[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Run the `knock` command (`transport`: the homeserver's, for tests)."""
    args = _parser().parse_args(argv)
    args.transport = transport
    settings: Settings | None = None
    if args.needs_settings(args):
        try:
            # Commands that work on the database alone need neither NEW_ROOM_ID nor a sign-in.
            settings = load_settings(room_required=args.needs_room)
        except ConfigError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 2
    result: int = args.run(settings, args)
    return result


def version() -> str:
    """The installed package's version, or the source tree's when it is not installed."""
    try:
        return metadata.version("knock")
    except metadata.PackageNotFoundError:
        return __version__


def cli_actor() -> Actor:
    """Who runs this command, as the audit log records it: `cli:<account>` (the uid if unnamed)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no LOGNAME/USER and no passwd entry
        user = ""
    if not user:
        getuid = getattr(os, "getuid", None)
        user = str(getuid()) if getuid is not None else "unknown"
    return Actor.cli(user)


def _always(_: argparse.Namespace) -> bool:
    return True


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Show an option's default when it has one worth showing (not None, not a switch's False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 100000")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knock", description=__doc__, formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(required=True, metavar="command")

    def command(name: str, run: Command, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, formatter_class=_Help)
        sub.set_defaults(run=run, needs_settings=_always, needs_room=True)
        return sub

    serve = command("serve", _serve, "run the webhook and admin API")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="processes (shared database)")
    login = command("login", _login, "sign the bot in with Beeper's email code")
    login.add_argument("--email", help="the Beeper account's email (default BEEPER_LOGIN_EMAIL)")
    command("doctor", _doctor, "sign in and check the bot's power in the room")
    check = command("check", _check, "match Matrix IDs against the block-list (JSON lines)")
    check.add_argument("user_ids", nargs="*", metavar="USER_ID", help="ids (default: stdin)")
    check.add_argument("--blocklist", type=Path, help="a block-list file instead of the store")
    check.set_defaults(needs_settings=lambda a: a.blocklist is None, needs_room=False)
    block = command("block", _block, "block an id, a pattern (@spam*:*) or a server")
    block.add_argument("user_id", metavar="PATTERN", help="a Matrix ID, a pattern or @*:server")
    block.add_argument("--reason", help="why (kept in the audit log, not shown in the room)")
    block.add_argument("--dry-run", action="store_true", help="show what would happen")
    block.add_argument("--confirm", action="store_true", help="remove more than the threshold")
    own_door = "this door's own entry: it counts at that door only (default: every door's)"
    block.add_argument("--door", metavar="NAME", help=own_door)
    unblock = command("unblock", _unblock, "remove a block-list entry (and Knock's ban)")
    unblock.add_argument("user_id", metavar="PATTERN", help="the entry, as it was blocked")
    unblock.add_argument("--door", metavar="NAME", help=own_door)
    allow = command("allow", _allow, "add an allow-list entry: it overrides block-list matches")
    allow.add_argument("pattern", metavar="PATTERN", help="a Matrix ID, a pattern or @*:server")
    allow.add_argument("--reason", help="why (kept with the entry)")
    allow.set_defaults(needs_room=False)
    unallow = command("unallow", _unallow, "remove an allow-list entry")
    unallow.add_argument("pattern", metavar="PATTERN", help="the entry, as it was allowed")
    unallow.set_defaults(needs_room=False)
    listing = command("blocklist", _blocklist, "print the block-list and allow-list (JSON lines)")
    listing.set_defaults(needs_room=False)
    knocks = command("knocks", _knocks, "list knocks, newest first (JSON lines, the API's shape)")
    states = [s.value for s in State]
    knocks.add_argument(
        "--state", choices=states, metavar="STATE", help=f"only in this state: {', '.join(states)}"
    )
    knocks.add_argument("--reason", help="only with this reason (fuzzy_match, join_wave, ...)")
    knocks.add_argument("--user-id", metavar="USER_ID", help="only this Matrix ID's knocks")
    knocks.add_argument("--limit", type=_positive, default=100, help="at most this many")
    knocks.add_argument(
        "--door", metavar="NAME", help="only the knocks through this door (default: every door)"
    )
    knocks.set_defaults(needs_room=False)
    for name, run, help in (
        ("approve", _approve, "let a knock held for review go ahead to its invite"),
        ("deny", _deny, "turn a knock held for review down (the person is not told)"),
    ):
        decide = command(name, run, help)
        decide.add_argument(
            "knock",
            metavar="KNOCK_ID",
            help="a knock id, or a Matrix ID with exactly one knock waiting for review",
        )
        decide.add_argument("--note", help="why (kept in the audit log)")
        decide.add_argument(
            "--door",
            metavar="NAME",
            help="for a Matrix ID: its knock waiting for review at this door (default: any door)",
        )
    rescind = command("rescind", _rescind, "revoke a pending invite, or remove a member")
    rescind.add_argument("user_id", metavar="USER_ID", help="the person's Matrix ID")
    rescind.add_argument("--reason", help="why (kept in the audit log; the room sees KICK_REASON)")
    rescind.add_argument(
        "--door",
        metavar="NAME",
        help="in this door's room (default: the door of the person's latest open knock, else "
        "the default door)",
    )
    imports = command("import", _import, "import the original service's block-list and invites")
    imports.add_argument("--blocklist", type=Path, metavar="FILE", help="blocked_users.txt")
    imports.add_argument("--pending", type=Path, metavar="FILE", help="pending_invites.json")
    doors = command("doors", _doors_check, "look at the doors: the ways into rooms")
    doors_commands = doors.add_subparsers(
        required=True, metavar="command", help="what to do with the doors"
    )
    check_doors = doors_commands.add_parser(
        "check",
        help="check a doors file without starting Knock; print each door",
        description="check a doors file without starting Knock; print each door",
        formatter_class=_Help,
    )
    check_doors.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="the doors file (default: DOORS_FILE)"
    )
    check_doors.set_defaults(run=_doors_check, needs_settings=_always, needs_room=False)
    return parser


def _serve(settings: Settings | None, args: argparse.Namespace) -> int:
    import uvicorn

    from knock.web.logs import logging_config

    assert settings is not None
    trusted = settings.trusted_proxies
    with _shared_metrics(args.workers):
        uvicorn.run(
            "knock.web.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # X-Forwarded-For and -Proto are believed from exactly TRUSTED_PROXIES (uvicorn
            # alone would believe 127.0.0.1 and ::1): `uvicorn mknock:app --forwarded-allow-ips
            # "$TRUSTED_PROXIES"` does the same. The access log then shows the caller's address.
            proxy_headers=bool(trusted),
            forwarded_allow_ips=trusted,
            log_config=logging_config(settings),  # the app factory applies the same set-up
        )
    return 0


@contextlib.contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """Give several workers one fresh directory for their metrics, removed when they stop.

    prometheus-client's multiprocess mode: each worker writes its counts there, and the one
    answering GET /metrics adds them up. The variable must be set before the workers start.
    """
    if workers < 2 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="knock-metrics-") as path:
        os.environ[MULTIPROCESS_DIR] = path
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


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
        if len(runtime.doors) > 1:
            return _doctor_doors(runtime)
        if link.problems:
            for problem in link.problems.values():
                print(f"knock: {problem}", file=sys.stderr)
            return 1
        print(f"OK: signed in as {runtime.bot_id}; it can invite, kick and ban in {room}")
        return 0

    return _with_runtime(settings, args, run)


def _doctor_doors(services: Any) -> int:
    """`knock doctor` with DOORS_FILE: one section per door, each room it checked and a verdict."""
    link = services.link
    print(f"Signed in as {services.bot_id}.")
    doors = link.door_problems()
    not_ready = []
    for name, problems in doors.items():
        door = services.doors[name]
        rooms = [("room", door.room)]
        if door.rooms:
            rooms = [("space", door.room)]
            rooms += [("room of the space", room) for room in link.other_rooms.get(name, [])]
        if door.settings.moderation_room_id:
            rooms.append(("moderation room", door.settings.moderation_room_id))
        verdict = "ready" if not problems else "NOT READY"
        print(f"\nDoor {name}: {verdict}")
        for kind, room in rooms:
            problem = link.problems.get(room)
            can = "it can post" if kind == "moderation room" else "it can invite, kick and ban"
            print(f"  {kind} {room}: " + (f"NOT READY: {problem}" if problem else f"OK, {can}"))
        if problems:
            not_ready.append(name)
    if not_ready:
        print(
            f"knock: {len(not_ready)} of {len(doors)} doors not ready: " + ", ".join(not_ready),
            file=sys.stderr,
        )
        return 1
    print(f"\nOK: every door is ready ({len(doors)})")
    return 0


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
    from knock.services.blocklist.actions import NeedsConfirmation
    from knock.services.blocklist.index import BadPattern

    actor = cli_actor()
    if settings is not None and not _door_known(settings, args.door):
        return 2

    async def run(runtime: Any) -> int:
        try:
            entry = runtime.blocklist.entry_for(args.user_id, reason=args.reason, source=str(actor))
            result = await runtime.blocking.block(
                entry, actor, dry_run=args.dry_run, confirm=args.confirm, door=args.door
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

    return _with_runtime(settings, args, run)


def _unblock(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.services.blocklist.actions import NotBlocked
    from knock.services.blocklist.index import BadPattern

    async def run(runtime: Any) -> int:
        try:
            # Any door's name: a door removed from DOORS_FILE keeps its own entries until
            # unblocked (`default`, like no door, names every door's).
            result = await runtime.blocking.unblock(args.user_id, cli_actor(), door=args.door)
            print(json.dumps(result.as_dict()))
        except (BadPattern, NotBlocked) as exc:
            print(f"knock: {args.user_id} is not on the block-list ({exc})", file=sys.stderr)
            return 1
        return 0

    return _with_runtime(settings, args, run)


def _allow(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.clock import SystemClock
    from knock.services.blocklist.checks import stored_blocklist
    from knock.services.blocklist.index import BadPattern

    assert settings is not None
    actor = cli_actor()

    async def run() -> int:
        async with stored_blocklist(settings, SystemClock()) as blocklist:
            try:
                entry = blocklist.entry_for(
                    args.pattern, allow=True, reason=args.reason, source=str(actor)
                )
            except BadPattern as exc:
                print(f"knock: {exc}", file=sys.stderr)
                return 2
            await blocklist.add(entry)
        answer = {"status": "allowed", "entry": {"user_id": entry.pattern, "reason": entry.reason}}
        print(json.dumps(answer, ensure_ascii=False))
        return 0

    return _on_database(run)


def _unallow(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.clock import SystemClock
    from knock.services.blocklist.checks import stored_blocklist
    from knock.services.blocklist.index import BadPattern

    assert settings is not None
    actor = cli_actor()

    async def run() -> int:
        async with stored_blocklist(settings, SystemClock()) as blocklist:
            try:
                removed = await blocklist.remove(args.pattern, allow=True, by=actor)
            except BadPattern as exc:
                print(f"knock: {exc}", file=sys.stderr)
                return 2
        if not removed:
            print(f"knock: {args.pattern.strip()} is not on the allow-list", file=sys.stderr)
            return 1
        print(json.dumps({"status": "removed", "entry": args.pattern.strip()}, ensure_ascii=False))
        return 0

    return _on_database(run)


def _knocks(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.services.moderation.audit import stored_audit
    from knock.web.views import knock_view

    assert settings is not None
    state = State(args.state) if args.state else None
    if not _door_known(settings, args.door):
        return 2

    async def run() -> int:
        async with stored_audit(settings) as audit:
            knocks = await audit.knocks(
                state=state,
                user_id=args.user_id,
                reason=args.reason,
                door=args.door,
                limit=args.limit,
            )
        for knock in knocks:
            print(json.dumps(knock_view(knock), ensure_ascii=False))
        return 0

    return _on_database(run)


def _approve(settings: Settings | None, args: argparse.Namespace) -> int:
    return _decide(settings, args, approve=True)


def _deny(settings: Settings | None, args: argparse.Namespace) -> int:
    return _decide(settings, args, approve=False)


def _decide(settings: Settings | None, args: argparse.Namespace, *, approve: bool) -> int:
    from knock.services.moderation.actions import NoSuchKnock, NotInReview
    from knock.web.views import knock_view

    actor = cli_actor()
    assert settings is not None
    if not _door_known(settings, args.door):
        return 2

    async def run(runtime: Any) -> int:
        knock_id = await _held_knock(runtime, args.knock.strip(), args.door)
        if knock_id is None:
            return 1
        decide = runtime.moderation.approve if approve else runtime.moderation.deny
        try:
            knock = await decide(knock_id, actor, args.note)
        except NoSuchKnock:
            print(f"knock: no knock has the id {knock_id[:40]!r}", file=sys.stderr)
            return 1
        except NotInReview as exc:
            print(
                f"knock: knock {knock_id} is not waiting for review (it is {exc})", file=sys.stderr
            )
            return 1
        print(json.dumps(knock_view(knock), ensure_ascii=False))
        return 0

    return _with_runtime(settings, args, run)


async def _held_knock(runtime: Any, given: str, door: str | None) -> str | None:
    """The knock id given, or the one knock waiting for review of the Matrix ID given (at
    `door`, when given).

    None (said on stderr) when a Matrix ID has no knock waiting for review, or several; or when
    the knock id given came through another door than `door`.
    """
    if not given.startswith("@"):
        found = await runtime.audit.knock(given) if door is not None else None
        if found is not None and found.knock.door != door:
            print(
                f"knock: knock {given} came through door {found.knock.door}, not {door}",
                file=sys.stderr,
            )
            return None
        return given
    held = await runtime.audit.knocks(state=State.REVIEW, user_id=given, door=door, limit=1000)
    at = "" if door is None else f" at door {door}"
    if not held:
        print(f"knock: {given} has no knock waiting for review{at}", file=sys.stderr)
        return None
    doors = {knock.door for knock in held}
    if len(doors) > 1:
        each = ", ".join(f"{knock.knock_id} at {knock.door}" for knock in held)
        print(
            f"knock: {given} has knocks waiting for review at {len(doors)} doors ({each}); "
            "give --door NAME or one knock id",
            file=sys.stderr,
        )
        return None
    if len(held) > 1:
        ids = ", ".join(knock.knock_id for knock in held)
        print(
            f"knock: {given} has {len(held)} knocks waiting for review{at} ({ids}); "
            "give one knock id",
            file=sys.stderr,
        )
        return None
    knock_id: str = held[0].knock_id
    return knock_id


def _rescind(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.core import mxid
    from knock.services.moderation.actions import NothingToRescind, OwnAccount

    actor = cli_actor()
    assert settings is not None
    if not _door_known(settings, args.door):
        return 2
    at = "" if args.door is None else f" at door {args.door}"

    async def run(runtime: Any) -> int:
        try:
            user_id, _ = mxid.parse(args.user_id, mxid.server_name(runtime.bot_id))
        except mxid.InvalidMatrixId as exc:
            print(f"knock: {args.user_id[:80]!r} is not a Matrix ID: {exc.reason}", file=sys.stderr)
            return 2
        try:
            rescinded = await runtime.moderation.rescind(
                user_id, args.reason, actor, door=args.door
            )
        except NothingToRescind:
            print(
                f"knock: {user_id} has no pending invite and is not a member{at}", file=sys.stderr
            )
            return 1
        except OwnAccount:
            print(f"knock: {user_id} is Knock's own account: it stays in the room", file=sys.stderr)
            return 2
        print(json.dumps(rescinded, ensure_ascii=False))
        return 0

    return _with_runtime(settings, args, run)


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


def _doors_check(settings: Settings | None, args: argparse.Namespace) -> int:
    from knock.doors import DEFAULT, default_door, read_doors_file

    assert settings is not None
    path = args.file or settings.doors_file
    if path is None:
        print("knock: no doors file to check: give FILE, or set DOORS_FILE", file=sys.stderr)
        return 2
    try:
        doors = {DEFAULT: default_door(settings), **read_doors_file(path, settings)}
    except ConfigError as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 2
    for door in doors.values():
        print(_door_line(door))
    return 0


def _door_known(settings: Settings, name: str | None) -> bool:
    """Whether `--door NAME` names one of Knock's doors (None: no door asked for).

    Said in one line when it does not, or when DOORS_FILE cannot be read.
    """
    if name is None:
        return True
    from knock.doors import load_doors

    try:
        doors = load_doors(settings)
    except ConfigError as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return False
    if name not in doors:
        print(
            f"knock: no door is named {name[:40]!r}; Knock's doors: {', '.join(doors)}",
            file=sys.stderr,
        )
        return False
    return True


def _door_line(door: Door) -> str:
    """A door in one line: its name, room or space, rooms, welcome room, and the settings it sets.

    The settings are named, never shown: some are secrets.
    """
    if door.is_default:
        room = "no room (NEW_ROOM_ID unset)" if door.room == NO_ROOM else f"room {door.room}"
        return f"{door.name}: {room}; the settings themselves"
    if door.rooms == "suggested":
        parts = [f"space {door.room} with its suggested rooms"]
    elif door.rooms:
        parts = [f"space {door.room} with rooms {', '.join(door.rooms)}"]
    else:
        parts = [f"room {door.room}"]
    if door.welcome_room is not None:
        parts.append(f"welcome in {door.welcome_room}")
    parts.append(f"sets {', '.join(sorted(door.own)) or 'nothing (inherits every setting)'}")
    return f"{door.name}: {'; '.join(parts)}"


def _entry_line(entry: Any) -> dict[str, Any]:
    from knock.web.views import iso

    return {
        "user_id": entry.pattern,
        "list": "allow" if entry.allow else "block",
        "reason": entry.reason,
        "source": entry.source,
        "added_at": iso(entry.added_at),
        "status": "held" if entry.held else "active",
        "door": entry.door,  # None: every door's entry
    }


def _with_runtime(
    settings: Settings | None, args: argparse.Namespace, body: Callable[[Any], Awaitable[int]]
) -> int:
    """Start Knock without its background work, run `body`, and stop."""
    from knock.services.errors import caller_facing_errors, problem_of
    from knock.services.runtime import Runtime, StartupError

    assert settings is not None

    async def run() -> int:
        runtime = Runtime(settings, transport=args.transport)
        try:
            await runtime.start(background=False)
        except StartupError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 1
        try:
            return await body(runtime.services)
        except caller_facing_errors() as exc:
            problem = problem_of(exc)
            print(f"knock: {problem.message if problem else exc}", file=sys.stderr)
            return 1
        finally:
            await runtime.stop()

    return asyncio.run(run())


def _on_database(body: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run `body`, which opens the database itself, and say in one line when it cannot."""
    from knock.services.blocklist.checks import CannotCheck
    from knock.services.errors import Unavailable, unavailable_errors

    try:
        return asyncio.run(body())
    except (CannotCheck, Unavailable) as exc:
        print(f"knock: {exc}", file=sys.stderr)
        return 1
    except unavailable_errors() as exc:
        print(f"knock: the database is unavailable: {exc}", file=sys.stderr)
        return 1


def _lines(stream: Iterator[str]) -> list[str]:
    return [line.strip() for line in stream if line.strip()]
