"""The form webhook: who sent a delivery, what it says, and what the caller hears.

The caller's kind is decided once (`knock.core.forms.callers`): a per-address caller (a
browser, an HTML form, unsigned JSON when allowed) is limited per address and may hear 422
or 429; a server-to-server caller (a platform's signature or WEBHOOK_TOKEN) always hears the
platform's answer, 202 (200 for an event that is not final).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from knock import log_context, metrics
from knock.clock import Clock
from knock.config import Settings
from knock.core import mxid
from knock.core.addresses import client_address
from knock.core.forms import (
    CallerKind,
    PayloadError,
    Policy,
    Secrets,
    classify,
    find_matrix_id,
    parse_delivery,
    prove,
    require_own_signature,
)
from knock.core.knocks import DEFAULT_DOOR
from knock.services.errors import Unavailable
from knock.services.invites.intake import Intake
from knock.services.knock_page.proof import Proofs, without_proof
from knock.store import Store

log = logging.getLogger(__name__)

# Set by migration 6 when knocks from JSON platforms (or Jotform) were stored before deliveries
# needed a signature or token; cleared once the operator sets one, or ALLOW_UNSIGNED_WEBHOOKS.
UNSIGNED_KNOCKS = "intake.unsigned_knocks_before_upgrade"

NO_ID_FIELD = (
    "No field holds a Matrix ID: label the question 'Matrix ID' or name it in MATRIX_ID_FIELD"
)


@dataclass(frozen=True)
class Delivery:
    """One post to the webhook, as it arrived."""

    body: bytes
    headers: Mapping[str, str]  # lower-cased names
    query_token: str | None
    peer: str | None  # the connecting address


@dataclass(frozen=True)
class Reply:
    """What the caller hears: a status, a JSON body and headers, or a redirect."""

    status: int
    body: dict[str, object] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None


async def unsigned_knocks_stored(settings: Settings, store: Store) -> bool:
    """Whether knocks accepted without a signature or token are stored from before this version.

    While they are, and the operator has set no secret, no token and no ALLOW_UNSIGNED_WEBHOOKS,
    Knock keeps accepting unsigned deliveries (as per-address callers) and says so at every
    start. Setting any of them ends that for good.
    """
    if await store.get_value(UNSIGNED_KNOCKS) is None:
        return False
    if settings.signing_configured or settings.allow_unsigned_webhooks is not None:
        await store.delete_value(UNSIGNED_KNOCKS)
        return False
    return True


def policy_from(settings: Settings, *, unsigned_knocks: bool) -> Policy:
    """What intake accepts, as the settings (and the stored knocks) say."""

    def value(secret: SecretStr | None) -> str | None:
        return None if secret is None else secret.get_secret_value()

    return Policy(
        Secrets(
            tally=value(settings.tally_signing_secret),
            typeform=value(settings.typeform_secret),
            formbricks=value(settings.formbricks_secret),
            token=value(settings.webhook_token),
        ),
        allow_unsigned=settings.allow_unsigned_webhooks is True or unsigned_knocks,
        allowed_origins=frozenset(settings.allowed_origins),
    )


class Reception:
    """Take form deliveries: decide who sent them, read them, and commit their knocks."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        intake: Intake,
        proofs: Proofs,
        *,
        unsigned_knocks: bool,
        door: str = DEFAULT_DOOR,
    ) -> None:
        self.settings = settings  # the door's
        self.door = door
        self.clock = clock
        self.intake = intake
        self.proofs = proofs
        self.policy = policy_from(settings, unsigned_knocks=unsigned_knocks)
        self._said: set[str] = set()  # the warnings logged once per process

    async def receive(self, delivery: Delivery) -> Reply:
        """Answer one delivery; a knock is committed before a 202 is given."""
        with log_context.about(door=self.door):
            platform, reply = await self._answer(delivery)
        metrics.delivery_answered(self.door, platform, reply.status)
        return reply

    async def _answer(self, delivery: Delivery) -> tuple[str, Reply]:
        """Answer one delivery; say which platform sent it ("unknown" when unreadable)."""
        headers = delivery.headers
        settings = self.settings
        client = client_address(
            delivery.peer, headers.get("x-forwarded-for"), settings.trusted_proxies
        )
        if client.forwarded_ignored:
            self._once(
                "forwarded_ignored",
                "X-Forwarded-For came from a peer not in TRUSTED_PROXIES and is ignored: behind "
                "a reverse proxy, every caller then shares the proxy's one address (and its "
                "per-address limits). Add the proxy to TRUSTED_PROXIES.",
            )
        try:
            proof = prove(
                delivery.body, headers, delivery.query_token, self.policy.secrets, self.clock.now()
            )
            sender = classify(headers, headers.get("content-type", ""), proof, self.policy)
            if sender.token_published:
                self._once(
                    "token_published",
                    "A browser sent WEBHOOK_TOKEN: it is in a public web page. HTML forms need no "
                    "token; remove it from the form and rotate WEBHOOK_TOKEN.",
                )
            submission = parse_delivery(
                delivery.body, headers.get("content-type", ""), headers, sender.reading
            )
            require_own_signature(submission, proof, self.policy)
        except PayloadError as exc:
            return "unknown", _error(exc.status, exc.message)
        platform = submission.platform
        if not submission.final:
            return platform, Reply(200, {"status": "ignored"})
        if sender.kind is CallerKind.PER_ADDRESS and self.proofs.enabled:
            problem = await self.proofs.verify(submission.field_values())
            if problem is not None:
                return platform, _error(400, problem)
            submission = without_proof(submission)
        requested = find_matrix_id(submission, settings.matrix_id_field, mxid.is_valid_historical)
        if requested is None or not requested.strip():
            return platform, _error(422, NO_ID_FIELD)
        try:
            outcome = await self.intake.knock(
                submission, requested, client.address, sender.kind, door=self.door
            )
        except Unavailable as exc:
            log.error(
                "Could not commit a knock, asking the sender to retry: %s", type(exc).__name__
            )
            return platform, _error(
                503, "Knock cannot store requests right now; retry later", {"Retry-After": "30"}
            )
        log_context.mark_knock(outcome.knock_id)
        if sender.kind is CallerKind.PER_ADDRESS:
            if outcome.retry_after is not None:
                # Slow down, says only a per-address limit; never why, never "blocked".
                wait = str(max(1, math.ceil(outcome.retry_after)))
                return platform, _error(
                    429, "Too many requests; try again later", {"Retry-After": wait}
                )
            if outcome.problem:
                return platform, Reply(
                    422,
                    {
                        "detail": f"That Matrix ID is not valid: {outcome.problem}",
                        "knock_id": outcome.knock_id,
                    },
                )
        if submission.platform == "html" and settings.form_redirect_url:
            return platform, Reply(303, location=settings.form_redirect_url)
        return platform, Reply(202, {"status": "accepted", "knock_id": outcome.knock_id})

    def _once(self, what: str, message: str) -> None:
        if what not in self._said:
            self._said.add(what)
            log.warning("%s", message)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"detail": message}, headers or {})
