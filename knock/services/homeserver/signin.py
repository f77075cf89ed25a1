"""Get the bot an access token, keep it in the database for every process, and mirror it to disk."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx

from knock.clock import Clock
from knock.config import Settings
from knock.matrix.beeper import BeeperLogin, BeeperLoginError, BeeperUnreachable
from knock.matrix.client import HomeserverUnavailable, MatrixClient, MatrixError
from knock.services.atomic_file import write_atomically
from knock.store import Store

log = logging.getLogger(__name__)

TOKEN_KEY = "matrix.access_token"
DEVICE_KEY = "matrix.device_id"
USER_KEY = "matrix.user_id"
JWT_KEY = "beeper.jwt"
REQUEST_KEY = "beeper.login_request"

# Said after a refused token, when nothing could replace it.
TO_FIX = "; set a valid MATRIX_ACCESS_TOKEN, or MATRIX_USER_ID and MATRIX_PASSWORD to log in again"

NO_METHOD = (
    "no way to sign in: set MATRIX_ACCESS_TOKEN, or MATRIX_USER_ID and MATRIX_PASSWORD, "
    "or BEEPER_LOGIN_EMAIL and BEEPER_LOGIN_CODE (or run `knock login`)"
)


class SignInError(Exception):
    """The bot could not sign in; the message is one line saying what to set or run."""


class NoWayToSignIn(SignInError):
    """None of the settings gives a way to sign in."""


class WaitingForCode(SignInError):
    """Beeper's email-code login waits for BEEPER_LOGIN_CODE (or `knock login`); not a mistake."""


class CannotSignInYet(SignInError):
    """The homeserver or Beeper's login API cannot be reached now; sign in when they answer."""


class SignIn:
    """Find, obtain and renew the bot's access token."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matrix: MatrixClient,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.matrix = matrix
        self.http = http
        self.clock = clock

    async def ensure(self) -> str:
        """Make the Matrix client usable and return the bot's user id."""
        self.matrix.use_token(await self._find_token(), self.relogin)
        try:
            who = await self._whoami()
        except HomeserverUnavailable:
            raise
        except MatrixError as exc:
            if exc.status == 429:
                raise CannotSignInYet("the homeserver asks the bot to slow down") from None
            raise SignInError(
                f"the homeserver refused the bot's access token ({exc}){TO_FIX}"
            ) from None
        user_id = str(who["user_id"])
        await self.store.set_value(USER_KEY, user_id, self.clock.now())
        return user_id

    async def _whoami(self) -> dict[str, Any]:
        """Ask who the bot is, replacing a token the homeserver dropped if Knock has a way to.

        Without one, the refusal is raised as it is, so that it is said once, in one line.
        """
        try:
            return await self.matrix.whoami(may_relogin=False)
        except MatrixError as exc:
            if exc.errcode != "M_UNKNOWN_TOKEN":
                raise
            refused = exc
        fresh = await self._replacement_token()
        if fresh is None:
            raise refused
        log.warning("The homeserver refused the bot's access token (%s); it has a new one", refused)
        self.matrix.use_token(fresh)
        return await self.matrix.whoami(may_relogin=False)

    async def _replacement_token(self) -> str | None:
        """A newer token another process stored, or a new login (password or Beeper JWT)."""
        stored = await self.store.get_value(TOKEN_KEY)
        if stored and stored != self.matrix.access_token:
            return stored
        try:
            return await self._log_in(allow_email_code=False)
        except NoWayToSignIn:
            return None

    async def relogin(self) -> str | None:
        """Return a fresh token after the homeserver dropped ours, or None if we cannot get one."""
        stored = await self.store.get_value(TOKEN_KEY)
        if stored and stored != self.matrix.access_token:
            return stored  # another Knock process has logged in already
        try:
            return await self._log_in(allow_email_code=False)
        except (SignInError, MatrixError) as exc:
            log.error("Logging in again failed: %s", exc)
            return None

    async def log_in_with_code(self, code: str) -> str:
        """Finish Beeper's email-code flow (for `knock login`) and return the bot's user id."""
        request = await self.store.get_value(REQUEST_KEY)
        if request is None:
            raise SignInError("no Beeper login is in progress: run `knock login` again")
        try:
            jwt = await BeeperLogin(self.http, self.settings.beeper_api_base).exchange_code(
                request, code
            )
        except BeeperLoginError as exc:
            raise SignInError(str(exc)) from None
        await self.store.set_value(JWT_KEY, jwt, self.clock.now())
        self.matrix.use_token(await self._matrix_login(_jwt_body(jwt)))
        return await self.ensure()

    async def known_user_id(self) -> str | None:
        """The bot's Matrix ID as last seen, without asking the homeserver (None: never seen)."""
        stored = await self.store.get_value(USER_KEY)
        if stored:
            return stored
        cached = read_tokens_file(self.settings.tokens_file).get("user_id")
        if isinstance(cached, str) and cached:
            return cached
        return self.settings.matrix_user_id or None

    async def _find_token(self) -> str:
        token = await self.local_token()
        return token if token else await self._log_in(allow_email_code=True)

    async def local_token(self) -> str | None:
        """The token Knock already has (configured, stored or cached), without logging in."""
        if self.settings.matrix_access_token is not None:
            return self.settings.matrix_access_token.get_secret_value()
        stored = await self.store.get_value(TOKEN_KEY)
        if stored:
            return stored
        cached = read_tokens_file(self.settings.tokens_file).get("access_token")
        if isinstance(cached, str) and cached:
            await self.store.set_value(TOKEN_KEY, cached, self.clock.now())
            return cached
        return None

    async def _log_in(self, *, allow_email_code: bool) -> str:
        settings = self.settings
        if settings.matrix_user_id and settings.matrix_password is not None:
            return await self._matrix_login(
                {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": settings.matrix_user_id},
                    "password": settings.matrix_password.get_secret_value(),
                }
            )
        jwt = await self._beeper_jwt(allow_email_code)
        if jwt is None:
            raise NoWayToSignIn(NO_METHOD)
        return await self._matrix_login(_jwt_body(jwt))

    async def _beeper_jwt(self, allow_email_code: bool) -> str | None:
        settings = self.settings
        if settings.beeper_login_token is not None:
            return settings.beeper_login_token.get_secret_value()
        stored = await self.store.get_value(JWT_KEY)
        if stored:
            return stored
        email = settings.beeper_login_email
        if not (allow_email_code and email):
            return None
        request = await self.store.get_value(REQUEST_KEY)
        if request is not None and settings.beeper_login_code is None:
            # A restart must not email another code: the one already sent would stop matching.
            raise WaitingForCode(
                f"a Beeper login code was emailed to {email}: set BEEPER_LOGIN_CODE and restart "
                "Knock, or run `knock login`; knocks are taken meanwhile"
            )
        if request is None:
            # A code is only good for the login request it was emailed for: open one, have the
            # code sent, and keep the request until the moderator supplies the code.
            await self.begin_email_login(email)
            raise WaitingForCode(
                f"Beeper emailed a login code to {email}: set BEEPER_LOGIN_CODE and restart "
                "Knock, or run `knock login`; knocks are taken meanwhile"
            )
        assert settings.beeper_login_code is not None
        try:
            jwt = await BeeperLogin(self.http, settings.beeper_api_base).exchange_code(
                request, settings.beeper_login_code.get_secret_value()
            )
        except BeeperUnreachable as exc:
            raise CannotSignInYet(str(exc)) from None
        except BeeperLoginError as exc:
            raise SignInError(str(exc)) from None
        await self.store.set_value(JWT_KEY, jwt, self.clock.now())
        return jwt

    async def begin_email_login(self, email: str) -> str:
        """Have Beeper email a login code; return the login request it belongs to."""
        beeper = BeeperLogin(self.http, self.settings.beeper_api_base)
        try:
            request = await beeper.start()
            await beeper.send_code(request, email)
        except BeeperUnreachable as exc:
            raise CannotSignInYet(str(exc)) from None
        except BeeperLoginError as exc:
            raise SignInError(str(exc)) from None
        await self.store.set_value(REQUEST_KEY, request, self.clock.now())
        return request

    async def _matrix_login(self, body: dict[str, Any]) -> str:
        device_id = await self._device_id()
        body = {**body, "initial_device_display_name": self.settings.device_name}
        if device_id:
            body["device_id"] = device_id
        try:
            answer = await self.matrix.login(body)
        except HomeserverUnavailable:
            raise  # "cannot be reached", said by whoever signs in
        except MatrixError as exc:
            if exc.status == 429 or exc.status >= 500:  # busy or failing: no answer to the login
                raise CannotSignInYet(
                    f"the homeserver could not take the login now ({exc}); Knock tries again"
                ) from None
            raise SignInError(
                f"the homeserver refused the login ({exc.errcode}: {exc.error})"
            ) from None
        token = str(answer["access_token"])
        now = self.clock.now()
        await self.store.set_value(TOKEN_KEY, token, now)
        await self.store.set_value(DEVICE_KEY, str(answer.get("device_id", "")), now)
        write_tokens_file(
            self.settings.tokens_file,
            {
                "access_token": token,
                "user_id": answer.get("user_id"),
                "device_id": answer.get("device_id"),
                "homeserver": self.settings.matrix_base_url,
            },
        )
        log.info("Logged in to the homeserver as %s", answer.get("user_id"))
        return token

    async def _device_id(self) -> str | None:
        stored = await self.store.get_value(DEVICE_KEY)
        if stored:
            return stored
        cached = read_tokens_file(self.settings.tokens_file).get("device_id")
        return cached if isinstance(cached, str) and cached else None


def _jwt_body(jwt: str) -> dict[str, Any]:
    return {"type": "org.matrix.login.jwt", "token": jwt}


def read_tokens_file(path: Path) -> dict[str, Any]:
    """Return the cached tokens, or nothing when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    if "access_token" not in data and "matrix_access_token" in data:
        data["access_token"] = data["matrix_access_token"]  # the original service's key
    return data


def write_tokens_file(path: Path, tokens: dict[str, Any]) -> None:
    """Write the token cache atomically, readable only by its owner (0600)."""
    write_atomically(path, json.dumps(tokens, indent=1), mode=0o600)
