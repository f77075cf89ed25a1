"""A throwaway Synapse homeserver on loopback, for ``make demo`` and the test suite.

The homeserver runs as a subprocess (``python -m synapse.app.homeserver``) of the
interpreter running this module, with a SQLite database and all of its state in one
directory.  Nothing here imports Synapse itself, so using the sandbox costs the
calling process nothing but an ``httpx`` client.

Usage::

    with Sandbox(tmp_path) as hs:
        admin = hs.register("admin", admin=True)
        bot = hs.register("knockbot")
        hs.lift_rate_limits(admin, bot.user_id)
        room_id = hs.create_room(bot)
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

import httpx

__all__ = ["HISTORICAL_PREFIX", "Sandbox", "SandboxError", "SandboxUser", "free_port"]

CLIENT_V3 = "/_matrix/client/v3"
ADMIN_V1 = "/_synapse/admin/v1"
MEDIA_V3 = "/_matrix/media/v3"

# Effectively "no limit" for a rate limiter.
_UNLIMITED: dict[str, float] = {"per_second": 1_000_000.0, "burst_count": 1_000_000}
# Tight enough that a handful of quick invites from one user is refused with a 429.
_TIGHT: dict[str, float] = {"per_second": 0.2, "burst_count": 3}

_POLL_INTERVAL = 0.05  # seconds between /health probes while waiting for startup
_STOP_TIMEOUT = 10.0  # seconds to wait after SIGTERM before SIGKILL
_BIND_RETRIES = 3  # fresh ports to try if the chosen one was taken before Synapse bound it
_MESSAGES_PAGE = 100  # events per /messages page in member_events()
# Localparts an application service of the sandbox may register, historical ones included.
HISTORICAL_PREFIX = "Hist"


@dataclass
class SandboxUser:
    """A registered, logged-in user on the sandbox homeserver."""

    user_id: str
    access_token: str
    password: str


class SandboxError(RuntimeError):
    """A request to the sandbox homeserver failed (non-2xx answer)."""

    def __init__(self, method: str, path: str, status_code: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status_code}: {body[:500]}")
        self.status_code = status_code
        self.body = body


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rate_limits(rate_limited: bool, synapse_defaults: bool) -> dict[str, Any]:
    """Every ``rc_*`` option Synapse 1.163 reads (synapse/config/ratelimiting.py).

    With `synapse_defaults`, the limits a bot meets (messages, invites, joins, profiles) are
    left to Synapse's own defaults; registration and logins stay unlimited for the set-up.
    """
    tight = _TIGHT if rate_limited else _UNLIMITED
    limits = {
        "rc_message": dict(tight),
        "rc_registration": dict(_UNLIMITED),
        "rc_registration_token_validity": dict(_UNLIMITED),
        "rc_login": {
            "address": dict(_UNLIMITED),
            "account": dict(_UNLIMITED),
            "failed_attempts": dict(_UNLIMITED),
        },
        "rc_admin_redaction": dict(_UNLIMITED),
        "rc_joins": {"local": dict(_UNLIMITED), "remote": dict(_UNLIMITED)},
        "rc_joins_per_room": dict(_UNLIMITED),
        "rc_key_requests": dict(_UNLIMITED),
        "rc_3pid_validation": dict(_UNLIMITED),
        "rc_invites": {
            "per_room": dict(_UNLIMITED),
            "per_user": dict(_UNLIMITED),
            "per_issuer": dict(tight),
        },
        "rc_third_party_invite": dict(_UNLIMITED),
        "rc_media_create": dict(_UNLIMITED),
        "rc_presence": {"per_user": dict(_UNLIMITED)},
        "rc_delayed_event_mgmt": dict(_UNLIMITED),
        "rc_room_creation": dict(_UNLIMITED),
        "rc_reports": dict(_UNLIMITED),
        "rc_user_directory": dict(_UNLIMITED),
        "rc_profile": dict(_UNLIMITED),
    }
    if synapse_defaults:
        for name in ("rc_message", "rc_invites", "rc_joins", "rc_joins_per_room", "rc_profile"):
            del limits[name]
    return limits


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip("\n")
    except FileNotFoundError:
        return ""


class Sandbox:
    """A throwaway Synapse on loopback, for the demo and the tests.

    All state (config, signing key, SQLite database, media, logs) lives in
    ``directory``.  The port is chosen once, so :meth:`restart` brings the same
    server back on the same ``base_url`` with the same users and rooms.
    """

    def __init__(
        self,
        directory: Path,
        *,
        server_name: str = "localhost",
        jwt_secret: str = "knock-test-jwt-secret-for-the-local-sandbox",
        rate_limited: bool = False,
        synapse_defaults: bool = False,
        port: int | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.server_name = server_name
        self.jwt_secret = jwt_secret
        self.rate_limited = rate_limited
        self.synapse_defaults = synapse_defaults
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.directory / "homeserver.yaml"
        self.log_path = self.directory / "homeserver.log"
        self.console_path = self.directory / "console.log"
        self._registration_shared_secret = secrets.token_urlsafe(32)
        self._appservice_token = secrets.token_urlsafe(32)
        self._configured = False
        self._ever_started = False
        self._atexit_registered = False
        self._process: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None
        self._client = self._new_client()

    # -- lifecycle ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60) -> None:
        """Start Synapse and wait (polling ``/health``) until it serves requests."""
        if self.running:
            return
        if not self._configured:
            self._write_config()
        for attempt in range(_BIND_RETRIES):
            try:
                self._start_once(timeout)
                break
            except _PortTaken:
                # Someone grabbed the port between free_port() and Synapse binding it.
                # Only allowed before the first successful start: afterwards the port
                # is part of the sandbox's identity (restart() must keep it).
                if self._fixed_port or self._ever_started or attempt == _BIND_RETRIES - 1:
                    raise RuntimeError(
                        f"Synapse could not bind {self.base_url}\n{self.log_tail()}"
                    ) from None
                self.port = free_port()
                self.base_url = f"http://127.0.0.1:{self.port}"
                self._write_config()
        self._ever_started = True

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL the process group after a deadline.  Idempotent."""
        proc, self._process = self._process, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait()
        if self._console is not None:
            self._console.close()
            self._console = None
        # Drop pooled connections to the dead server (and keep api() usable: during an
        # outage it raises httpx.ConnectError rather than "client has been closed").
        self._reset_client()

    def restart(self) -> None:
        """Stop and start again on the same port and database."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the Synapse log and of its stdout/stderr."""
        parts = []
        for path in (self.log_path, self.console_path):
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {path} (last {lines} lines) ---\n{text}")
        return "\n".join(parts) or f"(no Synapse output in {self.directory})"

    # -- users -------------------------------------------------------------------

    def register(
        self, localpart: str, *, admin: bool = False, password: str | None = None
    ) -> SandboxUser:
        """Register (and log in) a user with the shared-secret admin API."""
        password = password if password is not None else secrets.token_urlsafe(16)
        path = f"{ADMIN_V1}/register"
        nonce = self._call("GET", path)["nonce"]
        mac = hmac.new(self._registration_shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode()]))
        mac.update(b"\x00" + (b"admin" if admin else b"notadmin"))
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        result = self._call("POST", path, json=body)
        return SandboxUser(result["user_id"], result["access_token"], password)

    def add_accounts(self, admin: SandboxUser, localparts: list[str]) -> list[str]:
        """Create accounts that exist but never log in (no password); return their user ids."""
        user_ids = [f"@{localpart}:{self.server_name}" for localpart in localparts]
        for user_id in user_ids:
            path = f"/_synapse/admin/v2/users/{quote(user_id, safe='')}"
            self._call("PUT", path, user=admin, json={"displayname": user_id[1:].split(":")[0]})
        return user_ids

    def register_historical(self, localpart: str) -> str:
        """Create an account whose localpart only the spec's historical grammar allows.

        Synapse refuses such names at registration, but lets an application service (a
        bridge) create them, as old homeservers did: the localpart must start with
        `HISTORICAL_PREFIX`. The account never logs in; its user id is returned.
        """
        assert localpart.startswith(HISTORICAL_PREFIX), localpart
        body = {
            "type": "m.login.application_service",
            "username": localpart,
            "inhibit_login": True,
        }
        headers = {"Authorization": f"Bearer {self._appservice_token}"}
        resp = self._client.post(f"{CLIENT_V3}/register", json=body, headers=headers)
        if not resp.is_success:
            raise SandboxError("POST", f"{CLIENT_V3}/register", resp.status_code, resp.text)
        user_id: str = resp.json()["user_id"]
        return user_id

    def login(self, localpart: str, password: str) -> SandboxUser:
        """Log in with a password, returning a new access token (new device)."""
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        result = self._call("POST", f"{CLIENT_V3}/login", json=body)
        return SandboxUser(result["user_id"], result["access_token"], password)

    def set_profile(
        self, user: SandboxUser, *, displayname: str | None = None, avatar_url: str | None = None
    ) -> None:
        """Set a user's display name and/or avatar (an mxc URI) as the user."""
        base = f"{CLIENT_V3}/profile/{quote(user.user_id, safe='')}"
        if displayname is not None:
            self._call("PUT", f"{base}/displayname", user=user, json={"displayname": displayname})
        if avatar_url is not None:
            self._call("PUT", f"{base}/avatar_url", user=user, json={"avatar_url": avatar_url})

    def lift_rate_limits(self, admin: SandboxUser, user_id: str) -> None:
        """Exempt ``user_id`` from every per-user rate limiter."""
        self._call(
            "POST",
            f"{ADMIN_V1}/users/{quote(user_id, safe='')}/override_ratelimit",
            user=admin,
            json={"messages_per_second": 0, "burst_count": 0},
        )

    # -- rooms -------------------------------------------------------------------

    def create_room(
        self,
        owner: SandboxUser,
        *,
        join_rule: str = "invite",
        name: str = "Knock test room",
        power_users: dict[str, int] | None = None,
    ) -> str:
        """Create a private room (preset ``private_chat``) and return its id.

        Rooms get Synapse's default room version (12), where the creator has
        unlimited power by virtue of creating the room and must *not* appear in the
        ``users`` map of ``m.room.power_levels``; so ``owner`` is left out of
        ``power_users`` and only the other entries are applied.
        """
        body: dict[str, Any] = {
            "preset": "private_chat",
            "visibility": "private",
            "name": name,
            "initial_state": [
                {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": join_rule}}
            ],
        }
        users = {uid: level for uid, level in (power_users or {}).items() if uid != owner.user_id}
        if users:
            body["power_level_content_override"] = {"users": users}
        room_id: str = self._call("POST", f"{CLIENT_V3}/createRoom", user=owner, json=body)[
            "room_id"
        ]
        return room_id

    def invite(self, inviter: SandboxUser, room_id: str, user_id: str) -> None:
        """Invite someone into a room as `inviter` (a moderator acting by hand, in tests)."""
        self._call(
            "POST",
            f"{CLIENT_V3}/rooms/{quote(room_id, safe='')}/invite",
            user=inviter,
            json={"user_id": user_id},
        )

    def join(self, user: SandboxUser, room_id: str) -> None:
        self._call("POST", f"{CLIENT_V3}/rooms/{quote(room_id, safe='')}/join", user=user, json={})

    def members(
        self, viewer: SandboxUser, room_id: str, membership: str | None = None
    ) -> dict[str, str]:
        """``user_id -> membership`` for the room, optionally only one membership."""
        params = {"membership": membership} if membership else None
        result = self._call(
            "GET",
            f"{CLIENT_V3}/rooms/{quote(room_id, safe='')}/members",
            user=viewer,
            params=params,
        )
        return {ev["state_key"]: ev["content"]["membership"] for ev in result["chunk"]}

    def member_events(
        self, viewer: SandboxUser, room_id: str, user_id: str | None
    ) -> list[dict[str, Any]]:
        """Every ``m.room.member`` event about ``user_id`` (None: anyone) in the timeline,
        oldest first."""
        path = f"{CLIENT_V3}/rooms/{quote(room_id, safe='')}/messages"
        params: dict[str, str] = {
            "dir": "b",
            "limit": str(_MESSAGES_PAGE),
            "filter": json.dumps({"types": ["m.room.member"]}),
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", path, user=viewer, params=params)
            found.extend(
                ev
                for ev in page.get("chunk", [])
                if ev.get("type") == "m.room.member"
                and (user_id is None or ev.get("state_key") == user_id)
            )
            end = page.get("end")
            if not page.get("chunk") or not end or end == params.get("from"):
                break
            params["from"] = end
        found.reverse()
        return found

    # -- media -------------------------------------------------------------------

    def upload_media(
        self, user: SandboxUser, content: bytes, content_type: str, filename: str = "upload"
    ) -> str:
        """Upload media as `user`; return its mxc URI."""
        resp = self._client.post(
            f"{MEDIA_V3}/upload",
            params={"filename": filename},
            content=content,
            headers={
                "Authorization": f"Bearer {user.access_token}",
                "Content-Type": content_type,
            },
        )
        if not resp.is_success:
            raise SandboxError("POST", f"{MEDIA_V3}/upload", resp.status_code, resp.text)
        uri: str = resp.json()["content_uri"]
        return uri

    # -- raw access --------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        *,
        user: SandboxUser | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A raw request to the homeserver (``path`` starts with ``/``); never raises
        on HTTP errors, so tests can inspect 4xx answers."""
        headers = {"Authorization": f"Bearer {user.access_token}"} if user else None
        return self._client.request(method, path, headers=headers, json=json, params=params)

    # -- internals ---------------------------------------------------------------

    def _new_client(self) -> httpx.Client:
        # trust_env=False: never route loopback requests through an HTTP(S)_PROXY.
        return httpx.Client(base_url=self.base_url, timeout=30.0, trust_env=False)

    def _reset_client(self) -> None:
        self._client.close()
        self._client = self._new_client()

    def _call(
        self,
        method: str,
        path: str,
        *,
        user: SandboxUser | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        resp = self.api(method, path, user=user, json=json, params=params)
        if not resp.is_success:
            raise SandboxError(method, path, resp.status_code, resp.text)
        result: dict[str, Any] = resp.json()
        return result

    def _start_once(self, timeout: float) -> None:
        self._reset_client()  # base_url may have changed
        self._console = self.console_path.open("ab")
        with _signals_held():
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "synapse.app.homeserver",
                    "--config-path",
                    str(self.config_path),
                ],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=self._console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not self._atexit_registered:  # don't leak a homeserver if the caller forgets stop()
            atexit.register(self.stop)
            self._atexit_registered = True
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as probe:
            while True:
                code = self._process.poll()
                if code is not None:
                    self.stop()
                    if "Address already in use" in self.log_tail(200):
                        raise _PortTaken
                    raise RuntimeError(
                        f"Synapse exited with code {code} during startup\n{self.log_tail()}"
                    )
                try:
                    if probe.get("/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() >= deadline:
                    self.stop()
                    raise RuntimeError(
                        f"Synapse did not answer {self.base_url}/health within {timeout:g} s\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(_POLL_INTERVAL)

    def _write_config(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        signing_key = d / f"{self.server_name}.signing.key"
        if not signing_key.exists():
            # Same format as `--generate-keys`: "<algorithm> <version> <unpadded b64 seed>".
            seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
            signing_key.write_text(f"ed25519 a_{secrets.token_hex(2)} {seed}\n")
        log_config = d / "log_config.yaml"
        log_config.write_text(
            _yaml(
                {
                    "version": 1,
                    "formatters": {
                        "precise": {
                            "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s"
                            " - %(request)s - %(message)s"
                        }
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "precise",
                            "filename": str(self.log_path),
                            "encoding": "utf8",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        appservice = d / "historical-appservice.yaml"
        appservice.write_text(
            _yaml(
                {
                    "id": "knock-test-historical-ids",
                    "url": None,
                    "as_token": self._appservice_token,
                    "hs_token": secrets.token_urlsafe(32),
                    "sender_localpart": "historical-ids-bridge",
                    "rate_limited": False,
                    "namespaces": {
                        "users": [{"exclusive": False, "regex": f"@{HISTORICAL_PREFIX}.*"}],
                        "rooms": [],
                        "aliases": [],
                    },
                }
            )
        )
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "app_service_config_files": [str(appservice)],
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(d / "media_store"),
            "signing_key_path": str(signing_key),
            "registration_shared_secret": self._registration_shared_secret,
            "macaroon_secret_key": secrets.token_urlsafe(32),
            "form_secret": secrets.token_urlsafe(32),
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "bcrypt_rounds": 4,
            "enable_registration": False,
            "jwt_config": {"enabled": True, "secret": self.jwt_secret, "algorithm": "HS256"},
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            **_rate_limits(self.rate_limited, self.synapse_defaults),
        }
        self.config_path.write_text(_yaml(config))
        self._configured = True


class _PortTaken(Exception):
    pass


@contextmanager
def _signals_held() -> Iterator[None]:
    """Run SIGTERM's and SIGINT's Python handlers only once the body is done.

    A handler that raises (Ctrl-C, or the demo's SIGTERM) while ``Popen`` returns would leave
    a homeserver whose process nobody recorded, so nobody would stop it.  Python runs signal
    handlers in the main thread only, so elsewhere there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if callable(handler):  # a default disposition kills the process: nothing to hold
            held[signum] = signal.signal(signum, lambda number, _: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])


def _yaml(data: dict[str, Any]) -> str:
    # JSON is valid YAML, and needs no untyped PyYAML import here.
    header = "# Generated by knock_testing.synapse; JSON is valid YAML.\n"
    return header + json.dumps(data, indent=2) + "\n"
