"""Who the bot is on its homeserver, as far as Knock knows yet (it may start before signing in)."""

from __future__ import annotations

from urllib.parse import urlsplit

from knock.core import mxid


class BotAccount:
    """The bot's Matrix ID once known, and the server that completes bare names."""

    def __init__(self, user_id: str | None, *, base_url: str, default_server: str | None) -> None:
        self._user_id = user_id
        self._base_url = base_url
        self._default_server = default_server

    @property
    def user_id(self) -> str:
        """The bot's Matrix ID, or "" while Knock has never signed in."""
        return self._user_id or ""

    @property
    def known(self) -> bool:
        """Tell whether Knock knows the bot's Matrix ID."""
        return bool(self._user_id)

    def is_bot(self, user_id: str) -> bool:
        """Tell whether `user_id` is the bot itself."""
        return bool(self._user_id) and user_id == self._user_id

    def signed_in_as(self, user_id: str) -> None:
        """Record the Matrix ID the homeserver said the bot has."""
        self._user_id = user_id

    def default_server(self) -> str:
        """The server that completes a bare name: DEFAULT_SERVER_NAME, else the bot's own.

        Before the bot's ID is known (a first start while the homeserver is down), the host of
        MATRIX_BASE_URL stands in.
        """
        if self._default_server:
            return self._default_server
        if self._user_id:
            return mxid.server_name(self._user_id)
        return urlsplit(self._base_url).netloc or "localhost"
