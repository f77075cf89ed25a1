"""Whether this Knock can take knocks, and what a moderator should fix: the readiness report."""

from __future__ import annotations

from dataclasses import dataclass, field

from knock.config import Settings
from knock.services.homeserver.link import HomeserverLink
from knock.store import Store

SHORT_SECRET = 16  # characters; a shorter API_KEY or WEBHOOK_TOKEN can be guessed


@dataclass(frozen=True)
class SettingWarning:
    """Something that works but should be fixed: a short code and a sentence."""

    code: str
    message: str


@dataclass(frozen=True)
class Readiness:
    """The readiness report: ready exactly when knocks can be committed (the database)."""

    database: bool
    homeserver: bool
    rooms: bool
    signed_in: bool
    waiting_for: str
    room_problems: dict[str, str] = field(default_factory=dict)
    warnings: tuple[SettingWarning, ...] = ()
    # What is missing at each door (its room, a space door's other rooms, its moderation room).
    door_problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Knocks can be committed: a homeserver outage only delays their invites."""
        return self.database

    def public(self) -> dict[str, object]:
        """What anyone may see: booleans only, naming no room and no setting."""
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {
                "database": self.database,
                "homeserver": self.homeserver,
                "rooms": self.rooms,
            },
        }

    def detailed(self) -> dict[str, object]:
        """What a moderator holding the API key sees as well."""
        return {
            **self.public(),
            "details": {
                "signed_in": self.signed_in,
                "waiting_for": self.waiting_for or None,
                "rooms": dict(self.room_problems),
                "doors": {
                    name: {"ready": self.signed_in and not problems, "problems": list(problems)}
                    for name, problems in self.door_problems.items()
                },
                "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            },
        }


class Health:
    """Answer readiness probes without writing to the database or pacing the bot account."""

    def __init__(
        self, settings: Settings, store: Store, link: HomeserverLink, *, unsigned_knocks: bool
    ) -> None:
        self.settings = settings
        self.store = store
        self.link = link
        self.warnings = tuple(setting_warnings(settings, unsigned_knocks=unsigned_knocks))

    async def readiness(self) -> Readiness:
        """Check the database (a read), and report what is known of the homeserver and rooms."""
        try:
            await self.store.ping()
            database = True
        except Exception:
            database = False
        return Readiness(
            database=database,
            homeserver=await self.link.homeserver_up(),
            rooms=self.link.rooms_ready(),
            signed_in=self.link.signed_in,
            waiting_for=self.link.waiting_for,
            room_problems=dict(self.link.problems),
            door_problems=self.link.door_problems(),
            warnings=self.warnings,
        )


def setting_warnings(settings: Settings, *, unsigned_knocks: bool = False) -> list[SettingWarning]:
    """Settings that work but should be changed, as short codes with a sentence each.

    `unsigned_knocks`: the database holds knocks accepted without a signature or token from
    before this version, and nothing is set yet, so unsigned deliveries are still accepted.
    """
    warnings = []
    if unsigned_knocks:
        warnings.append(
            SettingWarning(
                "unsigned_knocks_in_database",
                "The database holds knocks accepted without a signature or token, so Knock "
                "still accepts unsigned deliveries from anyone (limited per address). Set "
                "WEBHOOK_TOKEN (or a platform's signing secret) and send it from your "
                "platforms, or set ALLOW_UNSIGNED_WEBHOOKS=true to keep this or =false to "
                "refuse them.",
            )
        )
    elif settings.allow_unsigned_webhooks:
        warnings.append(
            SettingWarning(
                "unsigned_webhooks_allowed",
                "ALLOW_UNSIGNED_WEBHOOKS=true: JSON deliveries without a signature or token are "
                "accepted from anyone (limited per address).",
            )
        )
    elif not settings.signing_configured and settings.allow_unsigned_webhooks is None:
        warnings.append(
            SettingWarning(
                "unsigned_intake",
                "No signing secret and no WEBHOOK_TOKEN are set: JSON deliveries are refused "
                "(401) and only HTML forms are taken. Set WEBHOOK_TOKEN for your platforms, or "
                "ALLOW_UNSIGNED_WEBHOOKS=true to accept unsigned JSON from anyone.",
            )
        )
    for name, secret in (
        ("API_KEY", settings.api_key),
        ("WEBHOOK_TOKEN", settings.webhook_token),
        ("METRICS_TOKEN", settings.metrics_token),
    ):
        if secret is not None and len(secret.get_secret_value()) < SHORT_SECRET:
            warnings.append(
                SettingWarning(
                    f"short_{name.lower()}",
                    f"{name} is shorter than {SHORT_SECRET} characters and could be guessed.",
                )
            )
    return warnings
