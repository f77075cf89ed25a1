"""`make demo`: Knock against a throwaway local Synapse, with a room, a bot and a user."""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from knock.config import load_settings
from knock.web.app import create_app
from knock.web.logs import logging_config
from knock_testing.synapse import Sandbox

DEMO_DIR = Path(".demo")


def _port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    """Start Synapse and Knock, print how to knock, and stop both on Ctrl-C."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    print("Starting a throwaway Synapse homeserver ...", flush=True)
    homeserver = Sandbox(DEMO_DIR / "synapse")
    # Stopped like Ctrl-C (a service manager, `timeout`, a closed terminal): the homeserver
    # goes with the demo, even before Knock serves (uvicorn handles the signal while it does).
    signal.signal(signal.SIGTERM, _stop)
    try:
        homeserver.start()
        return _run(homeserver)
    finally:
        homeserver.stop()
        print("Stopped Knock and the homeserver.")


def _stop(signum: int, _: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _run(homeserver: Sandbox) -> int:
    admin = homeserver.register("admin", admin=True)
    bot = homeserver.register("knockbot")
    homeserver.lift_rate_limits(admin, bot.user_id)
    moderator = homeserver.register("mod")
    room = homeserver.create_room(bot, name="Knock demo room", power_users={moderator.user_id: 50})
    homeserver.invite(bot, room, moderator.user_id)
    homeserver.join(moderator, room)
    alice = homeserver.register("alice")
    api_key = secrets.token_urlsafe(24)
    webhook_token = secrets.token_urlsafe(24)
    port = _port(8000)
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        env_file=None,
        new_room_id=room,
        matrix_base_url=homeserver.base_url,
        matrix_access_token=bot.access_token,
        api_key=api_key,
        webhook_token=webhook_token,
        database_url=f"sqlite:///{DEMO_DIR.resolve() / 'knock.db'}",
        tokens_file=DEMO_DIR / "tokens.json",
        blocklist_file=DEMO_DIR / "blocked_users.txt",
        allowlist_file=DEMO_DIR / "allowed_users.txt",
        request_delay=0,
        knock_page_room_name="The demo room",
        public_url=url,
    )
    print(
        f"""
Knock is starting on {url}, as {bot.user_id}, for the private room {room}.

  Admin API key:  {api_key}
  Webhook token:  {webhook_token}

Knock for the demo user {alice.user_id}, as a script or a platform would (with the token):

  curl -i -X POST {url}/invite_from_form -H 'Content-Type: application/json' \\
       -H 'Authorization: Bearer {webhook_token}' -d '{{"matrix_id": "{alice.user_id}"}}'

or as an HTML form would (no token: limited per address instead):

  curl -i -X POST {url}/invite_from_form -d 'matrix_id={alice.user_id}'

or in a browser, on Knock's own knock page (then follow the status page it leads to):

  {url}/knock

Moderators' console: ask for a sign-in link as the demo moderator {moderator.user_id}
and read it in a Matrix client signed in to {homeserver.base_url} as {moderator.user_id}
(password {moderator.password}); or sign in with the admin API key above:

  {url}/console/

See the invite:

  curl -H 'Authorization: Bearer {api_key}' {url}/pending_invites

Or sign in to {homeserver.base_url} with any Matrix client as {alice.user_id}
(password {alice.password}) and accept it. Ctrl-C stops everything.
""",
        flush=True,
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=logging_config(settings)
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass  # a second Ctrl-C while shutting down; the homeserver is still stopped below
    return 0


if __name__ == "__main__":
    sys.exit(main())
